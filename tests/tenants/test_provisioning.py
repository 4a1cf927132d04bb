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


def _password_set(host: str, link_path: str, email: str, password: str) -> None:
    """Follow a set-password link on `host`, choose `password`, and sign in with it."""
    from django.test import Client

    person = Client(HTTP_HOST=host)
    form = person.get(link_path, follow=True)
    assert b"Choose a password" in form.content
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link_path
    assert person.post(set_url, {"new_password1": password, "new_password2": password}).status_code == 302
    assert Client(HTTP_HOST=host).post("/login", {"username": email, "password": password}).status_code == 302


def test_create_tenant_prints_the_link_on_which_its_owner_sets_a_password(capsys):
    import re

    call_command("create_tenant", "Owner Link", "--owner", "Boss@Owner-Link.test")
    out = capsys.readouterr().out
    host = "owner-link.localhost"
    printed = re.search(
        rf"boss@owner-link\.test sets a password at http://{re.escape(host)}(/password-reset/\S+)", out
    )
    assert printed, out
    _password_set(host, printed.group(1), "boss@owner-link.test", "the owner's first passphrase 1")


def test_a_password_reset_reaches_an_owner_who_never_set_a_password():
    import re

    from django.core import mail
    from django.test import Client, override_settings

    from tenants.services import tenant_provision

    owner = tenant_provision(name="Owner Reset", owner_email="boss@owner-reset.test").owner
    assert not owner.user.has_usable_password()
    host = "owner-reset.localhost"
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        mail.outbox = []
        sent = Client(HTTP_HOST=host).post("/password-reset", {"email": "BOSS@owner-reset.test"})
        assert sent.status_code == 302
        (message,) = mail.outbox
    assert message.to == ["boss@owner-reset.test"]
    link = re.search(rf"http://{re.escape(host)}(/password-reset/\S+)", message.body).group(1)
    _password_set(host, link, "boss@owner-reset.test", "owner at last 314")


@pytest.mark.parametrize(
    "name",
    [
        "2024 Northwind Logistics and Freight Holdings",
        "Northwind Logistics and Freight Holding Co",
        "Northwind Logistics and Freight Holdings Co",
    ],
)
def test_a_long_name_provisions_with_a_slug_cut_to_the_limit(name):
    from tenants.services import tenant_provision

    provisioned = tenant_provision(name=name)
    tenant = provisioned.tenant
    try:
        assert len(tenant.slug) <= 41 and tenant.slug[0].isalpha() and not tenant.slug.endswith("-")
        assert tenant.domains.get().domain.startswith(f"{tenant.slug}.")
    finally:
        tenant.delete(force_drop=True)


@pytest.mark.parametrize("owner", ["ops.acme.test", "ops@", "two words@acme.test"])
def test_an_owner_that_is_not_an_e_mail_address_is_refused_before_anything_is_made(owner):
    from django.core.management.base import CommandError
    from django.db import connection

    with pytest.raises(CommandError, match=f"^the owner {owner!r} is not an e-mail address$"):
        call_command("create_tenant", "Typo Owner", "--owner", owner)
    assert not Tenant.objects.filter(slug="typo-owner").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 't_typo_owner'")
        assert cursor.fetchone() is None


def test_a_csv_row_with_a_name_or_owner_too_long_to_store_is_named_and_the_rows_after_it_provisioned(
    tmp_path, capsys
):
    import csv
    import io

    from django.core.management.base import CommandError

    long_owner = "ops@" + ".".join(["a" * 60, "b" * 60, "c" * 60]) + ".test"
    source = tmp_path / "tenants.csv"
    source.write_text(
        f"name,slug,owner\n{'N' * 201},long-name,\nLong Owner,long-owner,{long_owner}\nAfter Long,after-long,\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError, match="2 of 3 rows were not provisioned"):
        call_command("create_tenant", from_csv=source)
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["slug"], bool(row["error"])) for row in rows] == [
        ("long-name", True),
        ("long-owner", True),
        ("after-long", False),
    ]
    assert "at most 200 characters" in rows[0]["error"] and "too long" in rows[1]["error"]
    assert not Tenant.objects.filter(slug__in=["long-name", "long-owner"]).exists()


def test_a_slug_whose_schema_a_renamed_tenant_keeps_is_refused_with_the_tenant_that_has_it(
    make_tenant, tmp_path, capsys
):
    from django.core.management.base import CommandError

    from tenants.services import tenant_update

    renamed = make_tenant("renamed-away").tenant
    tenant_update(tenant=renamed, slug="renamed-away-now")
    message = "schema 't_renamed_away', which tenant 'renamed-away-now' has"
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", "Renamed Away")

    rows = tmp_path / "tenants.csv"
    rows.write_text("name,slug\nRenamed Away,renamed-away\nAfter It,after-the-renamed\n")
    capsys.readouterr()
    with pytest.raises(CommandError, match="1 of 2 rows were not provisioned"):
        call_command("create_tenant", "--from-csv", str(rows))
    assert message in capsys.readouterr().out
    assert Tenant.objects.filter(slug="after-the-renamed").exists()
    assert Tenant.objects.get(schema_name="t_renamed_away") == renamed

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_left_by_no_tenant"')
    try:
        with pytest.raises(
            CommandError, match="'t_left_by_no_tenant', which exists and belongs to no tenant"
        ):
            call_command("create_tenant", "Left By No Tenant")
    finally:
        with connection.cursor() as cursor:
            cursor.execute('DROP SCHEMA "t_left_by_no_tenant"')


def test_a_csv_row_whose_host_name_another_tenant_has_or_holding_nul_is_named_and_the_rows_after_it_provisioned(
    make_tenant, tmp_path, capsys
):
    import csv
    import io

    from django.conf import settings
    from django.core.management.base import CommandError

    from tenants.models import Domain
    from tenants.services import domain_save

    holder = make_tenant("host-holder").tenant
    domain_save(domain=Domain(domain=f"host-taken.{settings.QUIRE_BASE_DOMAIN}", tenant=holder))
    source = tmp_path / "tenants.csv"
    source.write_text(
        "name,slug\nHost Taken,host-taken\nNul\x00Name,nul-name\nAfter Them,after-them\n", encoding="utf-8"
    )
    with pytest.raises(CommandError, match="2 of 3 rows were not provisioned"):
        call_command("create_tenant", from_csv=source)
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(row["slug"], bool(row["error"])) for row in rows] == [
        ("host-taken", True),
        ("nul-name", True),
        ("after-them", False),
    ]
    assert "host-taken.localhost" in rows[0]["error"] and "host-holder" in rows[0]["error"]
    assert not Tenant.objects.filter(slug__in=["host-taken", "nul-name"]).exists()


@pytest.mark.parametrize(
    "portal_url",
    ["notaurl", "javascript:alert(1)//", "ftp://acme.test", "https://acme.test/x", "http://a:port"],
)
def test_a_portal_url_that_is_not_a_scheme_host_and_port_is_refused_before_anything_is_made(portal_url):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="is not a scheme, host and port"):
        call_command("create_tenant", "Bad Link", "--owner", "boss@bad-link.test", "--portal-url", portal_url)
    assert not Tenant.objects.filter(slug="bad-link").exists()


def test_in_development_the_owners_link_names_the_port_make_run_serves(monkeypatch, capsys):
    from django.test import override_settings

    monkeypatch.setenv("QUIRE_PORT", "8123")
    with override_settings(QUIRE_ENV="development"):
        call_command("create_tenant", "Dev Link", "--owner", "boss@dev-link.test")
    assert "sets a password at http://dev-link.localhost:8123/password-reset/" in capsys.readouterr().out
    call_command(
        "create_tenant", "Given Link", "--owner", "boss@given.test", "--portal-url", "https://p.test:8443/"
    )
    assert "sets a password at https://p.test:8443/password-reset/" in capsys.readouterr().out
