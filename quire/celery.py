"""The Celery app. Tasks carry the caller's schema in their headers and run in that tenant's schema."""

import os

from celery.signals import task_postrun, task_prerun
from django.db import connection
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

app = CeleryApp("quire")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
