"""Billing tests talk to a Stripe-protocol server on loopback (localstripe plus the handler in
`tests/support/stripe_server.py`). It starts when this folder is collected, before any worker process, so
that workers inherit its address and keys through the environment."""

from __future__ import annotations

import pytest

from tests.support.stripe_server import StripeServer, local_stripe, local_stripe_stop

STRIPE, STRIPE_ENV = local_stripe()


def pytest_unconfigure(config: pytest.Config) -> None:
    local_stripe_stop()


@pytest.fixture(scope="session")
def stripe_server() -> StripeServer:
    import stripe

    from billing.stripe_gateway import stripe_catalog_sync

    stripe_catalog_sync()
    assert stripe.api_base == STRIPE.url
    return STRIPE
