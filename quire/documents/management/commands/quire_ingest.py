import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from common.refusals import Refusal
from quire.documents.management.progress import counting_bar, report
from quire.documents.models import Document, DocumentStatus
from quire.documents.services import document_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Upload files (or folders) into a tenant and wait until the workers have ingested them."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "--no-wait", action="store_true", help="return once queued, printing the documents' ids"
        )
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args, paths, tenant, no_wait, timeout, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant {tenant!r}")
        files = _expand(paths)
        if not files:
            raise CommandError("no files found")
        ids: dict[str, Path] = {}
        with (
            tenant_context(tenant_obj),
            counting_bar() as bar,
        ):
            upload = bar.add_task("uploading", total=len(files))
            for path in files:
                try:
                    created = document_create(
                        tenant=tenant_obj,
                        content=path.read_bytes(),
                        filename=path.name,
                        declared_type=None,
                        max_bytes=settings.QUIRE_MAX_DOCUMENT_BYTES,
                    )
                    ids[created.document.id] = path
                except Refusal as exc:
                    report(bar, "skipped", f"{path}: {exc}")
                except OSError as exc:
                    report(bar, "skipped", f"{path}: cannot read it ({exc.strerror or exc})")
                bar.advance(upload)
            if not ids:
                raise CommandError(
                    f"none of the {len(files)} file(s) was stored; see the skipped lines above"
                )
            if no_wait:
                self._print_ids(ids)
                return
            ingest = bar.add_task("ingesting", total=len(ids))
            deadline = time.monotonic() + timeout
            pending = set(ids)
            while pending and time.monotonic() < deadline:
                done = Document.objects.filter(
                    pk__in=pending, status__in=[DocumentStatus.READY, DocumentStatus.FAILED]
                ).values_list("pk", "status", "failure_reason")
                for doc_id, status, reason in done:
                    pending.discard(doc_id)
                    bar.advance(ingest)
                    if status == DocumentStatus.FAILED:
                        report(bar, "failed", f"{ids[doc_id]}: {reason}")
                time.sleep(0.5)
        self._print_ids(ids)
        if pending:
            raise CommandError(
                f"{len(pending)} document(s) still ingesting after {timeout:.0f}s; is a worker running?"
            )

    def _print_ids(self, ids: dict[str, Path]) -> None:
        for doc_id, path in ids.items():
            self.stdout.write(f"{doc_id}\t{path}")


def _expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder")
    return files
