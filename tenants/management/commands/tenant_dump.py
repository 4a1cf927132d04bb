from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.backups import tenant_dump
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Dump one tenant's schema (structure and rows) to a file in pg_dump's custom format."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("output", type=Path)

    def handle(self, *args, slug: str, output: Path, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        try:
            tenant_dump(tenant=tenant, path=output)
        except (RuntimeError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"dumped schema {tenant.schema_name} to {output}")
