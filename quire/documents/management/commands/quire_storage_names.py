from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from quire.documents.services import documents_files_rename
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Store each document's bytes under its own name, documents/<tenant schema>/<document id> (uploads from "
        "before migration documents.0009 share documents/<year>/<month>/<sha256> names across workspaces), "
        "in every tenant; then delete the old names, which no document names any more."
    )

    def handle(self, *args, **options):
        old: set[str] = set()
        for tenant in Tenant.objects.exclude(schema_name="public").order_by("pk"):
            with tenant_context(tenant):
                renamed = documents_files_rename()
            old.update(renamed)
            self.stdout.write(f"{tenant.slug}: {len(renamed)} documents stored under their own name")
        for name in sorted(old):
            default_storage.delete(name)
        self.stdout.write(f"{len(old)} old names deleted")
