"""Shared steps for the billing tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from billing.models import Plan


def signed_event(payload: dict, secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
    """The body and `Stripe-Signature` header Stripe sends: v1 is HMAC-SHA256 of `{t}.{body}`."""
    body = json.dumps(payload).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={timestamp},v1={digest}"


def subscription_event(
    event_id: str, event_type: str, subscription: dict, created: int | None = None
) -> dict:
    """A subscription event as Stripe sends it; `created` (when Stripe made the event) defaults to now."""
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
        "data": {"object": subscription},
    }


def make_plan(code: str, **fields) -> Plan:
    """A plan with room to spare in every limit that `fields` do not set."""
    defaults = {
        "name": code,
        "monthly_price": 0,
        "included_units": 10_000,
        "overage_unit_price": 0,
        "max_document_bytes": 1_048_576,
        "max_context_tokens": 4096,
        "api_rate": "1000/min",
        "api_key_rate": "1000/min",
        "seats": 1,
    }
    return Plan.objects.create(code=code, **{**defaults, **fields})
