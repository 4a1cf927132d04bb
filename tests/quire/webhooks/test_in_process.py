"""Delivery rules run in this process: disabling after days of failures, payload size. Retries wait an
hour here, so no worker takes them (they would be the sweeper's); the tests move `next_attempt_at`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from quire.webhooks.models import Delivery, DeliveryAttempt, EndpointNotification, Event, WebhookEndpoint
from quire.webhooks.services import (
    delivery_attempt,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    signing_secrets,
)
from tests.support import wait_for


@pytest.fixture(autouse=True)
def hour_long_retries():
    with override_settings(QUIRE_WEBHOOKS_RETRY_SCHEDULE=["3600", "3600", "3600"]):
        yield


def _orphan_delivery(endpoint: WebhookEndpoint, **data) -> Delivery:
    event = Event.objects.create(type="usage.threshold", data=data)
    return Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now())


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_endpoint_failing_for_days_is_disabled_and_owners_are_emailed(receiver, hooks_tenant):
    receiver.default_status = 500
    mail.outbox = []
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        first = delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=_orphan_delivery(endpoint, n=1).id)
        assert first.status == "pending" and first.attempts == 1
        endpoint.refresh_from_db()
        assert endpoint.status == "enabled" and endpoint.failing_since is not None

        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - timedelta(days=6)
        )
        waiting = _orphan_delivery(endpoint, n=2)
        Delivery.objects.filter(pk=first.pk).update(next_attempt_at=timezone.now())
        last = delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=first.id)
        assert last.status == "failed" and last.attempts == 2
        endpoint.refresh_from_db()
        assert endpoint.status == "disabled" and "failed since" in endpoint.disabled_reason
        waiting.refresh_from_db()
        assert waiting.status == "failed" and waiting.last_error == "endpoint_disabled"
        note = EndpointNotification.objects.get(endpoint=endpoint)
        assert note.recipients == ["admin@hooks.example", "owner@hooks.example"]
        endpoint.delete()
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@hooks.example", "owner@hooks.example"]
    assert endpoint.url in mail.outbox[0].subject and "enable the endpoint again" in mail.outbox[0].body


def test_success_ends_a_failure_streak(receiver, hooks_tenant):
    receiver.statuses = [500]
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        delivery = _orphan_delivery(endpoint, n=1)
        delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery.id)
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is not None
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        assert delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery.id).status == "succeeded"
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None
        assert delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery.id).attempts == 2
        endpoint.delete()


def test_a_success_ends_a_failure_streak_that_began_while_it_was_in_flight(
    receiver, hooks_tenant, monkeypatch
):
    from quire.webhooks.services import delivery as delivery_module

    receiver.statuses = [500]
    send = delivery_module._send
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        first, second = _orphan_delivery(endpoint, n=1), _orphan_delivery(endpoint, n=2)
        failed = []

        def second_fails_meanwhile(delivery, target):
            if delivery.pk == first.pk and not failed:
                failed.append(delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=second.id))
            return send(delivery, target)

        monkeypatch.setattr(delivery_module, "_send", second_fails_meanwhile)
        try:
            assert delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=first.id).status == "succeeded"
            assert failed[0].last_status_code == 500
            assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None
        finally:
            endpoint.delete()


def test_deleting_an_endpoint_waits_for_an_attempt_being_claimed(receiver, hooks_tenant):
    """A worker that has locked a delivery and is writing its attempt's log row when the endpoint is deleted:
    the delete waits, then removes the new row with the rest instead of failing on it."""
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        delivery = _orphan_delivery(endpoint, n=1)
    claimed, deleting = threading.Event(), threading.Event()

    def claim() -> None:
        with tenant_context(hooks_tenant.tenant), transaction.atomic():
            locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
            claimed.set()
            deleting.wait(5)
            time.sleep(0.5)
            DeliveryAttempt.objects.create(delivery=locked, number=1, started_at=timezone.now())
        connection.close()

    worker = threading.Thread(target=claim)
    worker.start()
    assert claimed.wait(5)
    with tenant_context(hooks_tenant.tenant):
        deleting.set()
        endpoint_delete(endpoint=endpoint)
        worker.join(5)
        assert not Delivery.objects.filter(pk=delivery.pk).exists()
        assert not DeliveryAttempt.objects.filter(delivery_id=delivery.pk).exists()


def test_private_address_refused_at_delivery_time(receiver, hooks_tenant):
    """An endpoint whose host later resolves to a private address is not contacted."""
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        with override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=False):
            delivery = delivery_attempt(
                tenant=hooks_tenant.tenant, delivery_id=_orphan_delivery(endpoint, n=1).id
            )
        assert delivery.status == "pending" and delivery.last_error.startswith("refused:")
        assert delivery.attempt_log.get().status_code is None
        endpoint.delete()
    assert receiver.requests == []


def test_large_job_results_are_linked_not_inlined(hooks_tenant):
    from quire.jobs.events import job_finished
    from quire.jobs.models import Job, JobResult

    with tenant_context(hooks_tenant.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_x"], status="succeeded")
        result = JobResult.objects.create(job=job, output={"notes": "x" * 5000}, attempt=1)
        with override_settings(
            QUIRE_WEBHOOKS_MAX_PAYLOAD_BYTES=1000, QUIRE_WEBHOOKS_LINK_BASE_URL="https://api.q.io/"
        ):
            linked = job_finished(job=job, result=result)
        assert linked.type == "job.succeeded" and linked.data["result"] is None
        assert linked.data["result_omitted_bytes"] > 5000
        assert linked.data["result_url"] == f"https://api.q.io/v1/jobs/{job.id}/result"
        inline = job_finished(job=job, result=result)
        assert inline.data["result"]["output"] == {"notes": "x" * 5000}
        failed = job_finished(job=job)
        assert failed.type == "job.failed" and "result" not in failed.data


def test_expired_events_are_purged_once_delivered(receiver, hooks_tenant):
    from quire.webhooks.services import events_purge_expired

    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        done, waiting = _orphan_delivery(endpoint, n=1), _orphan_delivery(endpoint, n=2)
        recent = _orphan_delivery(endpoint, n=3)
        delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=done.id)
        old = timezone.now() - timedelta(days=31)
        Event.objects.filter(pk__in=[done.event_id, waiting.event_id]).update(created_at=old)
        assert events_purge_expired() == 1
        assert not Event.objects.filter(pk=done.event_id).exists()
        assert not Delivery.objects.filter(pk=done.id).exists()
        assert Event.objects.filter(pk__in=[waiting.event_id, recent.event_id]).count() == 2
        endpoint.delete()


def test_endpoint_deleted_during_an_attempt_ends_it_quietly(receiver, hooks_tenant):
    import threading

    from django.db import connections

    receiver.hold = 1
    outcome: dict = {}
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        delivery = _orphan_delivery(endpoint, n=1)

    def attempt() -> None:
        try:
            with tenant_context(hooks_tenant.tenant):
                outcome["result"] = delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery.id)
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=attempt)
    worker.start()
    wait_for(lambda: receiver.requests, timeout=10)
    with tenant_context(hooks_tenant.tenant):
        endpoint.delete()
    receiver.released.set()
    worker.join(timeout=30)
    assert outcome == {"result": None}
    with tenant_context(hooks_tenant.tenant):
        assert not Delivery.objects.filter(pk=delivery.pk).exists()


def test_a_delivery_whose_every_attempt_was_lost_fails_once_the_schedule_is_used_up(receiver, hooks_tenant):
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        try:
            lost = _orphan_delivery(endpoint, n=3)
            Delivery.objects.filter(pk=lost.pk).update(attempts=4)
            settled = delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=lost.id)
            assert (settled.status, settled.attempts) == ("failed", 5)
            assert settled.last_error.startswith("abandoned") and receiver.requests == []
        finally:
            endpoint.delete()


@pytest.mark.parametrize(
    ("body", "gzip_when_accepted", "excerpt"),
    [(b'{"ok": true}', True, '{"ok": true}'), (b'{"ok": true}\x00', False, '{"ok": true}\ufffd')],
    ids=["gzip", "nul"],
)
def test_a_2xx_answer_is_logged_whatever_its_body_holds(
    receiver, hooks_tenant, body, gzip_when_accepted, excerpt
):
    receiver.response_body, receiver.gzip_when_accepted = body, gzip_when_accepted
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        try:
            delivery = delivery_attempt(
                tenant=hooks_tenant.tenant, delivery_id=_orphan_delivery(endpoint, n=1).id
            )
            assert (delivery.status, delivery.attempts) == ("succeeded", 1)
            assert delivery.attempt_log.get().response_excerpt == excerpt
        finally:
            endpoint.delete()
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["accept-encoding"] == "identity"


def test_document_ready_carries_the_document_as_get_answers_it(hooks_tenant, api_hooks, monkeypatch):
    """Metadata written while the document ingests is in the event, and its counts are the API's (a CJK text's
    token estimate too)."""
    import hashlib

    from django.core.files.base import ContentFile

    from quire.documents import services
    from quire.documents.models import Document

    attachments_create = services._attachments_create

    def metadata_updated_meanwhile(tenant, document, *rest):
        services.document_update(document=Document.objects.get(pk=document.pk), metadata={"crm_id": "42"})
        return attachments_create(tenant, document, *rest)

    monkeypatch.setattr(services, "_attachments_create", metadata_updated_meanwhile)
    raw = ("本契約は日本法に準拠する。" * 40).encode()
    digest = hashlib.sha256(raw).hexdigest()
    with tenant_context(hooks_tenant.tenant):
        document = Document(filename="jp.txt", content_type="text/plain", sha256=digest, size_bytes=len(raw))
        document.file.save(digest, ContentFile(raw), save=False)
        document.save()
        services.document_ingest(tenant=hooks_tenant.tenant, document_id=document.pk)
        event = Event.objects.get(type="document.ready", data__id=document.pk)
    shown = api_hooks.get(f"/v1/documents/{document.pk}").json()
    shared = set(shown) & set(event.data)
    assert {"metadata", "token_estimate", "char_count", "updated_at", "attachments", "status"} <= shared
    assert {k: event.data[k] for k in shared} == {k: shown[k] for k in shared}
    assert event.data["metadata"] == {"crm_id": "42"}


def test_a_second_rotation_keeps_the_first_replaced_secret_signing_until_its_own_grace_ends(
    receiver, hooks_tenant
):
    """A rotation whose answer was lost, recovered by another rotation: the receiver still holding the original
    secret verifies every delivery until the original's grace period ends."""
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        original = endpoint.secret
        try:
            lost = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3)
            original_expired_by = time.monotonic() + 3
            recovered = endpoint_rotate_secret(endpoint=lost, grace_seconds=3600)
            receiver.secrets = [original, lost.secret, recovered.secret]
            delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=_orphan_delivery(endpoint, n=1).id)
            assert receiver.requests[-1].verified_with == [original, lost.secret, recovered.secret]

            time.sleep(max(0.0, original_expired_by - time.monotonic()) + 0.1)
            delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=_orphan_delivery(endpoint, n=2).id)
            assert receiver.requests[-1].verified_with == [lost.secret, recovered.secret]
        finally:
            endpoint.delete()


def test_rotations_keep_at_most_three_replaced_secrets_and_one_without_grace_keeps_none(hooks_tenant):
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url="http://127.0.0.1:9/hooks", event_types=["usage.threshold"])
        secrets = [endpoint.secret]
        try:
            for _ in range(4):
                endpoint = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3600)
                secrets.append(endpoint.secret)
            assert signing_secrets(endpoint) == secrets[:0:-1]
            endpoint = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=0)
            assert signing_secrets(WebhookEndpoint.objects.get(pk=endpoint.pk)) == [endpoint.secret]
        finally:
            endpoint.delete()


def test_deleting_an_endpoint_while_a_failed_attempt_is_recorded_waits_for_it_without_a_deadlock(
    receiver, hooks_tenant, monkeypatch
):
    """The record of a failed attempt and the endpoint's delete lock the endpoint and its delivery in one
    order: the delete waits for the record, then goes, where each held the row the other waited for."""
    from quire.webhooks.services import delivery as deliveries
    from tests.support.concurrency import Side, blocked_on_a_lock, pause

    receiver.default_status = 500
    with tenant_context(hooks_tenant.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        delivery = _orphan_delivery(endpoint, n=1)
    recording = pause(monkeypatch, deliveries, "_after_failure")

    def in_tenant(fn):
        def run():
            with tenant_context(hooks_tenant.tenant):
                return fn()

        return run

    attempt = Side(in_tenant(lambda: delivery_attempt(tenant=hooks_tenant.tenant, delivery_id=delivery.id)))
    assert recording.entered.wait(10)
    deleting = Side(in_tenant(lambda: endpoint_delete(endpoint=endpoint)))
    blocked_on_a_lock()
    recording.release()
    assert attempt.result().status == "pending"
    deleting.result()
    with tenant_context(hooks_tenant.tenant):
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
        assert not Delivery.objects.filter(pk=delivery.pk).exists()


def test_the_delivery_log_lists_attempts_in_order_after_old_rows_were_purged(receiver, make_tenant):
    """The attempts of a delivery come in their order whatever space PostgreSQL reuses for their rows (a purge
    of older events frees it, and a new attempt's row may land before the earlier ones')."""
    from tests.support import Api

    receiver.default_status = 500
    provisioned = make_tenant("attempt-order")
    with tenant_context(provisioned.tenant):
        endpoint = endpoint_create(url=receiver.url, event_types=["usage.threshold"])
        old = _orphan_delivery(endpoint, n=0)
        DeliveryAttempt.objects.bulk_create(
            [DeliveryAttempt(delivery=old, number=n, started_at=timezone.now()) for n in (1, 2, 3)]
        )
        live = _orphan_delivery(endpoint, n=1)
        delivery_attempt(tenant=provisioned.tenant, delivery_id=live.id)
        old.event.delete()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM webhooks_deliveryattempt")
        Delivery.objects.filter(pk=live.pk).update(next_attempt_at=timezone.now())
        delivery_attempt(tenant=provisioned.tenant, delivery_id=live.id)
    listed = Api(provisioned.issued_key.secret).get(f"/v1/events/{live.event_id}/deliveries").json()
    assert [a["number"] for a in listed["data"][0]["attempt_log"]] == [1, 2]
