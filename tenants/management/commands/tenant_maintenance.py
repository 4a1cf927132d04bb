from django.core.management.base import BaseCommand, CommandError

from tenants.models import Tenant
from tenants.services import tenant_maintenance_begin, tenant_maintenance_end


class Command(BaseCommand):
    help = (
        "Take a tenant out of service ('on': its API answers 503 workspace_maintenance, its workers wait) or put "
        "it back ('off'), as a restore does while it runs; for one a killed restore left in maintenance."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("state", choices=("on", "off"))

    def handle(self, *args, slug: str, state: str, **kwargs):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        if state == "on":
            tenant_maintenance_begin(tenant=tenant)
        else:
            tenant_maintenance_end(tenant=tenant)
        self.stdout.write(f"{slug}: maintenance {state}")
