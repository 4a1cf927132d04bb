"""No secret in a worker's logs: a real worker process, logging everything at DEBUG, provisions a tenant's
Stripe customer and subscription, signs and delivers webhooks with an endpoint's secret before and after a
rotation and pushes the tenant's usage to the meter. Its log holds none of the API
keys, signing secrets or Stripe ids involved, nor anything shaped like one."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from celery import current_app
from django.test import override_settings
from django_tenants.utils import tenant_context

from billing.models import BillingAccount, MeterBatch
from billing.services import usage_record
from quire.webhooks.models import WebhookEndpoint
from quire.webhooks.services import endpoint_send_test
from tests.support import Api, LocalServer, WorkerProcess, wait_for

SECRET_SHAPES = re.compile(
    r"qk_live_[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9+/=]{16,}|\b(cus|sub)_[A-Za-z0-9]{8,}"
)
WORKER_ENV = {
    "QUIRE_LOG_LEVEL": "DEBUG",
    "QUIRE_WEBHOOKS_ALLOW_PRIVATE": "true",
    "QUIRE_WEBHOOKS_TIMEOUT_SECONDS": "3",
}


@pytest.fixture
def receiver():
    received: list[bytes] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            with lock:
                received.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = LocalServer(Handler)
    yield server.url, received
    server.close()


def test_a_worker_at_debug_logs_no_secret(stripe_server, make_tenant, celery_worker, receiver, tmp_path):
    url, received = receiver
    celery_worker.stop()
    worker = WorkerProcess(
        concurrency=1, env=WORKER_ENV, log_path=tmp_path / "worker.log", loglevel="DEBUG"
    ).start()
    try:
        provisioned = make_tenant("bill-logs")
        tenant = provisioned.tenant
        account = wait_for(
            lambda: BillingAccount.objects.filter(tenant=tenant).exclude(stripe_subscription_id="").first(),
            timeout=60,
        )
        api = Api(provisioned.issued_key.secret)
        with override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=True):
            created = api.post("/v1/webhook_endpoints", {"url": f"{url}/hooks", "event_types": ["*"]}).json()
            with tenant_context(tenant):
                endpoint_send_test(endpoint=WebhookEndpoint.objects.get(pk=created["id"]))
            wait_for(lambda: len(received) >= 1, timeout=30)
            rotated = api.post(
                f"/v1/webhook_endpoints/{created['id']}/rotate_secret", {"grace_period_seconds": 600}
            ).json()
            with tenant_context(tenant):
                endpoint_send_test(endpoint=WebhookEndpoint.objects.get(pk=created["id"]))
            wait_for(lambda: len(received) >= 2, timeout=30)
        usage_record(tenant=tenant, job_id="job_logged", quantities={"pages": 7, "job": 1})
        current_app.send_task("billing.meter_usage_push_task")
        wait_for(lambda: MeterBatch.objects.filter(tenant=tenant).exclude(sent_at=None).exists(), timeout=30)
    finally:
        worker.stop()
        celery_worker.start()

    log = worker.log_path.read_text(errors="replace")
    assert " DEBUG " in log and "delivery_attempt_task" in log and "meter_usage_push_task" in log
    secrets = [
        provisioned.issued_key.secret,
        created["secret"],
        rotated["secret"],
        account.stripe_customer_id,
        account.stripe_subscription_id,
    ]
    for line in log.splitlines():
        assert not any(secret in line for secret in secrets), line
        assert not SECRET_SHAPES.search(line), line
