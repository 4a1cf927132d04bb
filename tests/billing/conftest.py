"""Billing tests talk to a Stripe-protocol server on loopback (localstripe plus the handler in
`stripe_server.py`). It starts when this folder is collected, before any worker process, so that workers
inherit its address and keys through the environment."""

from __future__ import annotations

import os
import secrets

import pytest

from tests.billing.stripe_server import StripeServer

STRIPE = StripeServer().start()
STRIPE_ENV = {
    "QUIRE_STRIPE_API_KEY": "sk_test_" + secrets.token_hex(12),
    "QUIRE_STRIPE_API_BASE": STRIPE.url,
    "QUIRE_STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(16),
}
os.environ.update(STRIPE_ENV)


def _apply_to_settings() -> None:
    """When this folder is collected after Django is set up (a whole-suite run), settings are already read."""
    from django.conf import settings

    if settings.configured:
        for name, value in STRIPE_ENV.items():
            setattr(settings, name, value)


_apply_to_settings()


def pytest_unconfigure(config: pytest.Config) -> None:
    STRIPE.stop()


@pytest.fixture(scope="session")
def stripe_server() -> StripeServer:
    import stripe

    from billing.stripe_gateway import stripe_catalog_sync

    stripe_catalog_sync()
    assert stripe.api_base == STRIPE.url
    return STRIPE
