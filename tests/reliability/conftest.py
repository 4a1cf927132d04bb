"""Faults under real processes: workers killed with SIGKILL at the worst moment, a full disk. The Stripe-
protocol server starts when this folder is collected, before any worker, so workers inherit its address."""

from __future__ import annotations

import pytest

from tests.support.stripe_server import StripeServer, local_stripe, local_stripe_stop

STRIPE, _ = local_stripe()


def pytest_unconfigure(config: pytest.Config) -> None:
    local_stripe_stop()


@pytest.fixture(scope="session")
def stripe_server() -> StripeServer:
    from billing.stripe_gateway import stripe_catalog_sync

    stripe_catalog_sync()
    return STRIPE
