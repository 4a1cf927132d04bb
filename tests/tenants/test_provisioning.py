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
