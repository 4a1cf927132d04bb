from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.backups import restore_notes, tenant_restore
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Restore one tenant's schema from a tenant_dump archive, in one transaction."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("archive", type=Path)
        parser.add_argument(
            "--replace", action="store_true", help="swap out the schema that exists now (dropped on success)"
        )
        parser.add_argument(
            "--from-tenant",
            metavar="PUBLIC_ID",
            help="the public id of the tenant the archive was made of, when that is another tenant with the same "
            "schema name (one erased since, whose slug this tenant was made with)",
        )
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=30,
            help="how long to wait, once the tenant is in maintenance, for the transactions and jobs running in "
            "its schema to end before refusing (default 30)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="swap the schema even if work in it is still running after --drain-seconds (its writes are lost)",
        )

    def handle(self, *args, slug: str, archive: Path, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"no tenant with slug {slug!r}")
        chosen = {name: options[name] for name in ("replace", "from_tenant", "drain_seconds", "force")}
        try:
            applied = tenant_restore(tenant=tenant, path=archive, **chosen)
        except (RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"restored schema {tenant.schema_name} from {archive}")
        for line in restore_notes(tenant=tenant):
            self.stdout.write(line)
        if applied:
            names = ", ".join(f"{app}.{name}" for app, name in applied)
            plural = "" if len(applied) == 1 else "s"
            self.stdout.write(
                f"the archive predates {len(applied)} migration{plural}, applied since: {names}"
            )
