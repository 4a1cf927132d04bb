import json
import time

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from common.refusals import Refusal
from quire.jobs.models import TERMINAL, JobResult, JobStatus
from quire.jobs.services import job_create
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Start a connector job on documents of a tenant, follow its progress, print the result JSON."

    def add_arguments(self, parser):
        parser.add_argument("connector")
        parser.add_argument("document_ids", nargs="+")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--mode", choices=["analyzers", "model"], default="analyzers")
        parser.add_argument("--options", default="{}", help="connector options as JSON")
        parser.add_argument("--timeout", type=float, default=3600)

    def handle(self, *args, connector, document_ids, tenant, mode, options, timeout, **kwargs):
        tenant_obj = Tenant.objects.filter(slug=tenant).first()
        if tenant_obj is None:
            raise CommandError(f"no tenant {tenant!r}")
        try:
            parsed_options = json.loads(options)
        except ValueError as exc:
            raise CommandError(f"--options is not JSON: {exc}") from exc
        if not isinstance(parsed_options, dict):
            raise CommandError(f"--options must be a JSON object, not {type(parsed_options).__name__}")
        with tenant_context(tenant_obj):
            try:
                job = job_create(
                    tenant=tenant_obj,
                    connector=connector,
                    document_ids=document_ids,
                    options=parsed_options,
                    mode=mode,
                )
            except Refusal as exc:
                raise CommandError(str(exc)) from exc
            self.stderr.write(f"{job.id} queued")
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            ) as bar:
                task = bar.add_task(job.stage, total=1.0)
                deadline = time.monotonic() + timeout
                while job.status not in TERMINAL and time.monotonic() < deadline:
                    time.sleep(0.3)
                    job.refresh_from_db()
                    bar.update(task, completed=job.progress, description=job.stage)
            if job.status != JobStatus.SUCCEEDED:
                raise CommandError(f"{job.id} {job.status}: {job.error or 'timed out; is a worker running?'}")
            self.stdout.write(json.dumps(JobResult.objects.get(job=job).output, indent=2))
