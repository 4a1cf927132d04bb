from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from quire.documents.management.progress import counting_bar
from quire.documents.services import document_reembed, documents_stale
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Embed again the chunks of ready documents that another encoder embedded than ingest uses now "
        "(after the chunk encoder's weights or QUIRE_INGEST_DISTILLED_CHUNKS changed), in every tenant or one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="tenant slug (default: every tenant)")

    def handle(self, *args, tenant, **options):
        tenants = Tenant.objects.exclude(schema_name="public").order_by("pk")
        if tenant is not None:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"no tenant {tenant!r}")
        written = 0
        with counting_bar() as bar:
            for each in tenants:
                with tenant_context(each):
                    stale = documents_stale()
                    task = bar.add_task(each.slug, total=len(stale))
                    for document_id in stale:
                        written += document_reembed(document_id=document_id)
                        bar.advance(task)
        self.stdout.write(f"{written} documents embedded again")
