from django.core.management.base import BaseCommand, CommandError

from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Provision a tenant: schema with tenant migrations, pgvector, hostname, owner, first API key."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug")
        parser.add_argument("--owner", help="owner's e-mail; created as a member with role owner")

    def handle(self, *args, name: str, slug: str | None, owner: str | None, **options):
        try:
            provisioned = tenant_provision(name=name, slug=slug, owner_email=owner)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        tenant, issued = provisioned.tenant, provisioned.issued_key
        self.stdout.write(f"tenant   {tenant.public_id} slug={tenant.slug} schema={tenant.schema_name}")
        self.stdout.write(f"api key  {issued.api_key.id} (admin): {issued.secret}")
        self.stdout.write("The key is shown once; store it now.")
