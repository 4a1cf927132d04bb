from django.core.management.base import BaseCommand, CommandError

from common.refusals import Refusal
from tenants.models import Tenant
from tenants.services import tenant_settings_update


class Command(BaseCommand):
    help = "Set how many days a tenant's documents, finished jobs and webhook events are kept ('none': for good)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("days", help="a number of days, or 'none'")

    def handle(self, *args, slug: str, days: str, **kwargs):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        try:
            value = None if days.lower() == "none" else int(days)
        except ValueError as exc:
            raise CommandError(f"days must be a whole number of days or 'none', not {days!r}") from exc
        try:
            tenant_settings_update(tenant=tenant, retention_days=value)
        except Refusal as exc:
            raise CommandError(str(exc)) from exc
        kept = "none" if value is None else f"{value} day{'' if value == 1 else 's'}"
        self.stdout.write(f"{slug}: retention {kept}")
