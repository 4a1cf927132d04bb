import pytest
from django.core.management import call_command

from tenants.models import Tenant
from tenants.services import api_key_authenticate, tenant_create


def test_create_tenant_command_provisions_schema_domain_and_key(capsys):
    call_command("create_tenant", "Gamma Holdings", "--owner", "ops@gamma.test")
    out = capsys.readouterr().out
    tenant = Tenant.objects.get(slug="gamma-holdings")
    assert tenant.schema_name == "t_gamma_holdings"
    assert tenant.domains.get().domain == "gamma-holdings.localhost"
    assert tenant.members.get().role == "owner"
    secret = next(word for word in out.split() if word.startswith("qk_live_"))
    assert api_key_authenticate(secret=secret).tenant == tenant


def test_duplicate_and_invalid_slugs_are_refused(tenant_a):
    with pytest.raises(ValueError, match="already exists"):
        tenant_create(name="Alpha again", slug="alpha")
    with pytest.raises(ValueError, match="invalid tenant slug"):
        tenant_create(name="Bad", slug="Bad_Slug!")


def test_create_tenant_from_csv_provisions_each_row_and_names_the_rows_it_could_not(
    tmp_path, tenant_a, capsys
):
    import csv
    import io

    from django.core.management.base import CommandError

    source = tmp_path / "tenants.csv"
    source.write_text(
        "name,slug,owner\n"
        "Bulk One,bulk-one,ops@bulk-one.test\n"
        "Alpha Again,alpha,\n"
        ",bulk-empty,\n"
        "Bulk Two,,\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="2 of 4 rows were not provisioned"):
        call_command("create_tenant", from_csv=source)
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [row["line"] for row in rows] == ["2", "3", "4", "5"]
    made = {row["slug"]: row for row in rows if not row["error"]}
    assert set(made) == {"bulk-one", "bulk-two"}
    assert "already exists" in rows[1]["error"] and "name is empty" in rows[2]["error"]
    assert api_key_authenticate(secret=made["bulk-one"]["secret"]).tenant.slug == "bulk-one"
    assert Tenant.objects.get(slug="bulk-one").members.get().role == "owner"
    assert Tenant.objects.get(slug="bulk-two").schema_name == made["bulk-two"]["schema"]
    assert "2 of 4 tenants provisioned" in captured.err


def test_create_tenant_refuses_a_csv_without_a_name_column_and_a_name_with_a_csv(tmp_path):
    from django.core.management.base import CommandError

    source = tmp_path / "tenants.csv"
    source.write_text("title\nBulk Three\n", encoding="utf-8")
    with pytest.raises(CommandError, match="'name' column"):
        call_command("create_tenant", from_csv=source)
    with pytest.raises(CommandError, match="a tenant's name, or --from-csv"):
        call_command("create_tenant", "Bulk Four", from_csv=source)
    with pytest.raises(CommandError, match="a tenant's name, or --from-csv"):
        call_command("create_tenant")
    assert not Tenant.objects.filter(name__in=["Bulk Three", "Bulk Four"]).exists()
