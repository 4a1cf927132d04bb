"""Secrets at rest and in logs: signing secrets and Stripe ids are Fernet tokens in PostgreSQL and survive a
key rotation; a run through keys, webhooks (signed deliveries, rotation) and billing, logged at DEBUG, puts
no secret and no API key in any log line."""

from __future__ import annotations

import contextlib
import logging
import re
import traceback

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from billing.models import BillingAccount
from quire.webhooks.models import WebhookEndpoint
from quire.webhooks.services import (
    delivery_attempt,
    endpoint_send_test,
    endpoints_secrets_reencrypt,
    signing_secrets,
)
from quire.webhooks.services.delivery import DeliveryBusy
from tenants.crypto import encryption_keys, lookup_digest
from tests.support import Api
from tests.support.polling import wait_for

SECRET_SHAPES = re.compile(r"qk_live_[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9+/=]{16,}|(cus|sub)_SECRET\w+")


def _raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {'tenant_id' if 'billing' in table else 'id'} = %s", [pk]
        )
        return cursor.fetchone()[0]


def _log_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), str(getattr(record, "request", ""))]
    if record.exc_info:
        parts.append("".join(traceback.format_exception(*record.exc_info)))
    return "\n".join(parts)


def test_secrets_are_encrypted_and_never_logged(receiver, hooks_tenant, api_hooks: Api, caplog):
    caplog.set_level(logging.DEBUG)
    tenant = hooks_tenant.tenant
    issued = api_hooks.post("/v1/api_keys", {"name": "logged-run", "role": "developer"}).json()["secret"]
    assert Api(issued).get("/v1/documents").status_code == 200
    assert Api(issued).post("/v1/api_keys", {"name": "not allowed"}).status_code == 403
    assert Api("qk_live_" + "F" * 43).get("/v1/documents").status_code == 401

    created = api_hooks.post("/v1/webhook_endpoints", {"url": receiver.url, "event_types": ["*"]}).json()
    rotated = api_hooks.post(
        f"/v1/webhook_endpoints/{created['id']}/rotate_secret", {"grace_period_seconds": 600}
    ).json()
    receiver.secrets = [created["secret"], rotated["secret"]]
    receiver.statuses = [500]
    customer, subscription = "cus_SECRET4f9a2b7c", "sub_SECRET8e1d3c5a"
    BillingAccount.objects.filter(tenant=tenant).update(
        stripe_customer_id=customer,
        stripe_customer_digest=lookup_digest(customer),
        stripe_subscription_id=subscription,
    )
    assert api_hooks.get("/v1/billing/upcoming").status_code == 200
    with tenant_context(tenant):
        endpoint = WebhookEndpoint.objects.get(pk=created["id"])
        for _ in range(2):
            sent = len(receiver.requests)
            delivery = endpoint_send_test(endpoint=endpoint)
            with contextlib.suppress(DeliveryBusy):
                delivery_attempt(tenant=tenant, delivery_id=delivery.id)
            wait_for(
                lambda sent=sent: len(receiver.requests) > sent,
                message=lambda: "the test delivery never came",
            )
        assert {tuple(r.verified_with) for r in receiver.requests} == {tuple(receiver.secrets)}

        stored = _raw("webhooks_webhookendpoint", "secret", created["id"])
        assert stored.startswith("gAAAAA") and rotated["secret"] not in stored
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT secret FROM webhooks_retiredsecret WHERE endpoint_id = %s", [created["id"]]
            )
            [(retired,)] = cursor.fetchall()
        assert retired.startswith("gAAAAA") and created["secret"] not in retired
        assert customer not in _raw("billing_billingaccount", "stripe_customer_id", tenant.pk)
        assert (
            BillingAccount.objects.get(stripe_customer_digest=lookup_digest(customer)).tenant_id == tenant.pk
        )

        old_keys, new_key = list(encryption_keys()), Fernet.generate_key().decode()
        with override_settings(QUIRE_ENCRYPTION_KEYS=[new_key, *old_keys]):
            assert endpoints_secrets_reencrypt() >= 1
        with override_settings(QUIRE_ENCRYPTION_KEYS=[new_key]):
            endpoint = WebhookEndpoint.objects.get(pk=created["id"])
            assert signing_secrets(endpoint) == [rotated["secret"], created["secret"]]
        with override_settings(QUIRE_ENCRYPTION_KEYS=[*old_keys, new_key]):
            endpoints_secrets_reencrypt()
        WebhookEndpoint.objects.filter(pk=created["id"]).delete()

    secrets = [
        issued,
        hooks_tenant.issued_key.secret,
        created["secret"],
        rotated["secret"],
        customer,
        subscription,
    ]
    lines = [_log_text(record) for record in caplog.records]
    assert len(lines) > 5
    for line in lines:
        assert not any(secret in line for secret in secrets), line
        assert not SECRET_SHAPES.search(line), line


def test_reencrypting_without_the_key_a_secret_was_written_under_says_to_list_that_key(tenant_a):
    from django.core.management import CommandError, call_command

    with tenant_context(tenant_a.tenant):
        endpoint = WebhookEndpoint.objects.create(url="https://hooks.example.com/q", secret="whsec_kept")
    try:
        with (
            override_settings(QUIRE_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]),
            pytest.raises(CommandError, match=r"list the key it was written under after the new one"),
        ):
            call_command("secrets_reencrypt")
    finally:
        with tenant_context(tenant_a.tenant):
            WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
