import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.models import Tenant
from tenants.services import api_key_authenticate, api_key_issue, member_add, tenant_provision

DEMO_SLUG = "demo"
DEMO_OWNER = "owner@demo.example"


class Command(BaseCommand):
    help = (
        "Create the demo tenant once (idempotent); keep its API key and owner password under the data dir. "
        "With --json, print them and whether the tenant was created now."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="print the credentials as JSON"
        )

    def handle(self, *args, as_json: bool = False, **options):
        credentials_path = settings.QUIRE_DATA_DIR / "demo-credentials.json"
        saved = _read(credentials_path)
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        created = tenant is None
        if tenant is None:
            password = secrets.token_urlsafe(12)
            provisioned = tenant_provision(
                name="Demo", slug=DEMO_SLUG, owner_email=DEMO_OWNER, owner_password=password
            )
            tenant, secret = provisioned.tenant, provisioned.issued_key.secret
        else:
            password = saved.get("password") or secrets.token_urlsafe(12)
            member_add(tenant=tenant, email=DEMO_OWNER, role="owner", password=password)
            secret = saved.get("api_key", "")
            if not secret or api_key_authenticate(secret=secret) is None:
                secret = api_key_issue(tenant=tenant, name="demo", role="admin").secret
        credentials = {
            "tenant": tenant.slug,
            "api_key": secret,
            "email": DEMO_OWNER,
            "password": password,
        }
        credentials_path.parent.mkdir(parents=True, exist_ok=True)
        credentials_path.write_text(_dump(credentials))
        credentials_path.chmod(0o600)
        self.stdout.write(
            _dump({**credentials, "created": created})
            if as_json
            else f"demo tenant ready; credentials in {credentials_path}"
        )


def _read(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2)
