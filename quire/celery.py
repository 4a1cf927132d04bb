"""The Celery app. Tasks carry the caller's schema in their headers and run in that tenant's schema; a task
whose tenant is gone by the time it runs (erased after it was queued) is skipped, never run in `public`, and
one whose tenant is in maintenance (its schema being restored) is retried later, never run meanwhile."""

import logging
import math
import os
from pathlib import Path

from celery.signals import task_postrun, task_prerun, worker_init
from django.conf import settings
from django.db import connection
from tenant_schemas_celery import app as tenant_app
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

logger = logging.getLogger("quire.celery")


class QuireTask(TenantTask):
    abstract = True
    # A task retries only where its code says so, and there for as long as it needs (a put-off ingest, a tenant in
    # maintenance): Celery's default of three would end it with MaxRetriesExceededError, its document left pending
    # until the lost-message sweep. A task that wants a bound sets its own (billing's provisioning: 8).
    max_retries = None

    def __call__(self, *args, **kwargs):
        schema = getattr(self.request, "missing_schema", None)
        if schema is not None:
            logger.warning(
                "task %s[%s] skipped: no tenant has schema %s (erased since it was queued)",
                self.name,
                self.request.id,
                schema,
            )
            return None
        if _in_maintenance(connection.schema_name):
            logger.info(
                "task %s[%s] put off: the tenant of schema %s is in maintenance",
                self.name,
                self.request.id,
                connection.schema_name,
            )
            raise self.retry(countdown=settings.QUIRE_MAINTENANCE_RETRY_SECONDS)
        return super().__call__(*args, **kwargs)


def _in_maintenance(schema_name: str) -> bool:
    """Read afresh for each task: the worker's tenant cache and its connection's tenant may be older."""
    from django_tenants.utils import get_public_schema_name

    from tenants.models import Tenant

    if schema_name == get_public_schema_name():
        return False
    return Tenant.objects.filter(schema_name=schema_name, maintenance_since__isnull=False).exists()


def _switch_schema(sender=None, task=None, kwargs=None, **rest):
    """tenant_schemas_celery's switch to the task's schema, except that a schema with no tenant marks the task
    (`QuireTask` then skips it) instead of raising in the signal, which Celery would log and run the task on
    in `public`."""
    from tenants.models import Tenant

    try:
        tenant_app.switch_schema(task, kwargs, **rest)
    except Tenant.DoesNotExist:
        task.request.missing_schema = tenant_app.get_schema_name_from_task(task, kwargs)


task_prerun.disconnect(tenant_app.switch_schema, dispatch_uid="tenant_schemas_switch_schema")
task_prerun.connect(_switch_schema, weak=False, dispatch_uid="quire_switch_schema")

app = CeleryApp("quire", task_cls=QuireTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def available_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (a pod's CPU limit)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


def pool_size(concurrency: object, cores: int) -> int:
    """The pool children a worker starts: its concurrency, or a child per core where it is not a number yet
    (as with "auto")."""
    return concurrency if isinstance(concurrency, int) and concurrency > 0 else cores


def torch_threads_per_child(concurrency: object, cores: int) -> int:
    """Threads for each pool child's torch: its share of the cores, at least one."""
    return max(1, cores // pool_size(concurrency, cores))


@worker_init.connect(weak=False)
def _share_cores(sender=None, **kwargs):
    """Pool children inherit OMP_NUM_THREADS before any imports torch (ingest's embeddings, a job's models), so
    each runs on its share of the cores instead of a thread per core: children embedding at once would otherwise
    oversubscribe the machine. A value the operator set is kept."""
    threads = torch_threads_per_child(getattr(sender, "concurrency", None), available_cores())
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))


@worker_init.connect(weak=False)
def _name_the_pool(sender=None, **kwargs):
    """Pool children inherit the worker's pool: its node name, the queues it consumes and its size, which bound
    each tenant's running places (`quire.fairness`)."""
    from quire import fairness

    queues = sender.app.amqp.queues
    fairness.this_pool = fairness.Pool(
        node=sender.hostname,
        queues=",".join(sorted(queues.consume_from or queues)),
        size=pool_size(sender.concurrency, available_cores()),
    )


@task_prerun.connect(weak=False)
def _bind_log_context(task_id=None, task=None, **kwargs):
    from quire.logging import bind_request_id, bind_tenant

    bind_request_id(task_id or "")
    bind_tenant(getattr(connection, "schema_name", ""))


@task_postrun.connect(weak=False)
def _clear_log_context(**kwargs):
    from quire.logging import bind_request_id, bind_tenant

    bind_request_id("")
    bind_tenant("")
