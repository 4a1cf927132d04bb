"""Usage and billing page: server-drawn usage charts per kind, plan and invoice so far, Stripe actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.test import override_settings

from billing.models import UsageKind
from billing.services import usage_record
from quire.portal.charts import bar_chart_svg, days_between
from tests.support.portal import Workspace, signed_in


def test_bar_chart_has_one_bar_per_day_scaled_to_a_round_maximum():
    days = days_between(datetime(2026, 1, 1).date(), datetime(2026, 1, 3).date())
    svg = str(bar_chart_svg(days, [0, 30, 120], title="Pages per day"))
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([\d.]+)"', svg)]
    assert len(heights) == 3 and heights[0] == 0 and heights[2] == 4 * heights[1]
    assert ">200<" in svg and "2026-01-03: 120" in svg and 'aria-label="Pages per day"' in svg


def test_usage_chart_shows_the_ledger_by_day_and_kind(workspace: Workspace):
    now = datetime.now(UTC)
    usage_record(
        tenant=workspace.tenant, job_id="job_chart_1", quantities={"pages": 7, "job": 1}, occurred_at=now
    )
    usage_record(
        tenant=workspace.tenant,
        job_id="job_chart_2",
        quantities={"pages": 5},
        occurred_at=now - timedelta(days=2),
    )
    viewer = signed_in(workspace, "viewer")
    response = viewer.get("/billing")
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        f"{now.date().isoformat()}: 7" in body
        and f"{(now - timedelta(days=2)).date().isoformat()}: 5" in body
    )
    assert body.count('<svg class="chart"') == len(UsageKind.choices)
    assert "Switch to" not in body
    assert viewer.post("/billing/checkout", {"plan": "pro"}).status_code == 403


def test_usage_the_provider_refuses_is_shown_to_admins(workspace: Workspace):
    from billing.models import MeterBatch

    admin, viewer = signed_in(workspace, "admin"), signed_in(workspace, "viewer")
    assert 'role="alert"' not in admin.get("/billing").content.decode()
    MeterBatch.objects.create(
        tenant=workspace.tenant,
        kind="pages",
        units=12,
        refused_at=datetime.now(UTC),
        refusal="resource_missing: No such customer: 'cus_x'",
    )
    body = admin.get("/billing").content.decode()
    assert 'role="alert"' in body and "refused 1 usage report since" in body and "12 pages" in body
    assert "No such customer" in body
    assert "No such customer" not in viewer.get("/billing").content.decode()


@override_settings(QUIRE_STRIPE_API_KEY="")
def test_checkout_without_stripe_configured_says_so(workspace: Workspace):
    admin = signed_in(workspace, "admin")
    from billing.models import Plan

    other = Plan.objects.exclude(is_default=True).first()
    page = admin.get("/billing").content.decode()
    assert (
        "data-billing-offline" in page
        and "Switch to" not in page
        and "Invoices and payment methods" not in page
    )
    assert "300,000 pages included" in page
    assert '<span class="badge">none</span>' not in page
    response = admin.post("/billing/checkout", {"plan": other.code}, follow=True)
    assert b"Online billing is not configured" in response.content


def test_money_is_minor_units_in_the_currencys_decimals():
    from quire.portal.templatetags.portal_tags import money

    assert money(1234567, "usd") == "12,345.67 USD"
    assert money(500, "jpy") == "500 JPY"
    assert money(12345, "kwd") == "12.345 KWD" and money(1234567, "JPY") == "1,234,567 JPY"


@override_settings(QUIRE_STRIPE_API_KEY="sk_test_offered")
def test_a_canceled_subscriptions_plan_is_offered_again(workspace: Workspace):
    from billing.entitlements import account_for
    from billing.models import Plan, SubscriptionStatus

    paid = Plan.objects.exclude(is_default=True).order_by("monthly_price").first()
    account = account_for(workspace.tenant)
    before = (account.plan_id, account.subscription_status)
    account.plan, account.subscription_status = paid, SubscriptionStatus.CANCELED
    account.save(update_fields=["plan", "subscription_status"])
    try:
        body = signed_in(workspace, "admin").get("/billing").content.decode()
        assert f'name="plan" value="{paid.code}"' in body
        default = Plan.objects.get(is_default=True)
        assert f'name="plan" value="{default.code}"' not in body
    finally:
        account.plan_id, account.subscription_status = before
        account.save(update_fields=["plan", "subscription_status"])


def test_page_counts_are_written_with_thousands_separators(workspace: Workspace):
    """Plans include tens of thousands of pages: the billing page writes "20,000", as its charts' totals do."""
    from billing.entitlements import account_for

    admin = signed_in(workspace, "admin")
    included = account_for(workspace.tenant).plan.included_units
    assert included >= 1_000
    body = admin.get("/billing").content.decode()
    assert re.search(rf" of {included:,} included pages used this period", body)
    assert "300,000 pages included" in body and "300000" not in body
