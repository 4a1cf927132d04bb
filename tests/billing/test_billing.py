"""Plans, quotas, rate limits, the ledger and usage API, and Stripe through a Stripe-protocol server."""

from __future__ import annotations

import importlib
import io
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

import billing
from billing import stripe_gateway
from billing import tasks as billing_tasks
from billing.entitlements import current_period, default_plan, entitlements_for, entitlements_forget
from billing.models import BillingAccount, MeterBatch, Plan, ReplacedSubscription, UsageEvent
from billing.services import (
    QuotaExceeded,
    job_allowed,
    job_usage_quantities,
    meter_refusals,
    upcoming_invoice,
    usage_record,
)
from billing.stripe_gateway import (
    STRIPE_LOCK_CLASS,
    meter_batch_send,
    meter_event_name,
    meter_usage_push,
    replaced_subscriptions_cancel,
    stripe_catalog_sync,
    stripe_customer_provision,
)
from billing.tasks import TENANT_GONE, stripe_customer_provision_task
from quire.api.models import IdempotencyRecord
from quire.jobs.models import Job, JobResult
from tenants.crypto import lookup_digest
from tests.billing.helpers import make_plan, signed_event, subscription_event
from tests.support import (
    Api,
    assert_rate_limited,
    literature_job,
    ready_document,
    redelivering_worker,
    start_job_and_kill_its_worker,
    wait_for,
    wait_job,
)
from tests.support.documents import CONTRACT

WEBHOOK = "/billing/stripe/webhook"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"type", "code", "message", "param"}
    assert error["code"] == code and error["message"]
    return error


def set_plan(tenant, plan: Plan, status: str = "active") -> None:
    BillingAccount.objects.filter(tenant=tenant).update(plan=plan, subscription_status=status)
    entitlements_forget(tenant.pk)


def post_webhook(api: Api, body: bytes, signature: str | None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return api.client.post(WEBHOOK, body, content_type="application/json", **headers)


def send_subscription_event(event_id: str, event_type: str, subscription: dict, created: int | None = None):
    """The webhook Stripe sends for a subscription event (made at `created`, default now), signed with the
    configured secret; the answer."""
    body, signature = signed_event(
        subscription_event(event_id, event_type, subscription, created), settings.QUIRE_STRIPE_WEBHOOK_SECRET
    )
    return post_webhook(Api(None), body, signature)


@pytest.fixture(scope="module")
def stripe_tenant(stripe_server, make_tenant, celery_worker):
    provisioned = make_tenant("bill-stripe")
    wait_for(
        lambda: (
            BillingAccount.objects.filter(tenant=provisioned.tenant)
            .exclude(stripe_subscription_id="")
            .exists()
        ),
        timeout=60,
    )
    return provisioned


def test_plans_are_seeded_and_a_new_tenant_starts_on_the_default_plan(make_tenant):
    plans = {p.code: p for p in Plan.objects.all()}
    assert {"free", "team", "enterprise"} <= set(plans)
    assert plans["free"].is_default and plans["free"].hard_limit and plans["free"].monthly_price == 0
    assert plans["team"].monthly_price == 9_900 and plans["team"].currency == "usd"
    tenant = make_tenant("bill-seed").tenant
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.plan.code == "free"
    entitled = entitlements_for(tenant)
    assert entitled.plan_code == "free" and entitled.max_context_tokens == plans["free"].max_context_tokens

    second = Plan(code="second-default", name="Second", is_default=True)
    with pytest.raises(ValidationError, match="Another plan is already the default"):
        second.validate_constraints()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_plan("second-default", is_default=True)
    assert default_plan() == plans["free"]

    free = plans["free"]
    original = free.max_context_tokens
    free.max_context_tokens = 1024
    free.save()
    try:
        assert entitlements_for(tenant).max_context_tokens == 1024
    finally:
        free.max_context_tokens = original
        free.save()
    assert entitlements_for(tenant).max_context_tokens == original


def test_the_functions_billings_docstring_names_exist():
    named = re.findall(r"`(billing(?:\.\w+)+)`", billing.__doc__)
    assert named
    for name in named:
        module, _, function = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function, None)), name


def test_current_period_is_monthly_from_the_anchor():
    anchor = datetime(2026, 1, 31, 12, tzinfo=UTC)
    start, end = current_period(anchor, datetime(2026, 3, 5, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 2, 28, 12, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC))
    start, end = current_period(anchor, datetime(2026, 1, 31, 12, tzinfo=UTC))
    assert start == anchor and end == datetime(2026, 2, 28, 12, tzinfo=UTC)


def test_signup_creates_the_stripe_customer_and_subscription(stripe_tenant):
    account = BillingAccount.objects.select_related("plan").get(tenant=stripe_tenant.tenant)
    assert account.stripe_customer_id.startswith("cus_") and account.subscription_status == "active"
    customer = stripe.Customer.retrieve(account.stripe_customer_id)
    assert customer.metadata["tenant"] == stripe_tenant.tenant.public_id
    subscription = stripe.Subscription.retrieve(account.stripe_subscription_id)
    assert subscription.customer == account.stripe_customer_id
    prices = {
        item["price"]["id"]: item["price"]["recurring"]["usage_type"]
        for item in subscription["items"]["data"]
    }
    assert prices == {
        account.plan.stripe_flat_price_id: "licensed",
        account.plan.stripe_metered_price_id: "metered",
        **{token["price"]: "metered" for token in account.plan.stripe_token_price_ids.values()},
    }
    assert set(account.plan.stripe_token_price_ids) == {"tokens_in", "tokens_cached_in", "tokens_out"}


def _waiting_for_provisioning(tenant) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = %s AND objid = %s",
            [STRIPE_LOCK_CLASS, tenant.pk],
        )
        return cursor.fetchone()[0] > 0


def test_provisioning_one_tenant_twice_at_once_makes_one_subscription(stripe_server, make_tenant):
    """The signup task and a Checkout can provision a tenant at the same moment, and its plan can change in
    between. The second call waits for the first and finds its subscription, rather than subscribing the
    tenant a second time."""
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-twice").tenant
    hold = stripe_server.state.hold_after("POST", "/v1/subscriptions", body_contains=tenant.public_id)
    made: dict[str, str] = {}

    def provision(name: str) -> None:
        try:
            made[name] = stripe_customer_provision(tenant=tenant).stripe_subscription_id
        finally:
            connection.close()

    first = threading.Thread(target=provision, args=("first",))
    second = threading.Thread(target=provision, args=("second",))
    first.start()
    try:
        assert hold.reached.wait(30), "the first call never created its subscription"
        set_plan(tenant, Plan.objects.get(code="team"), status="none")
        second.start()
        wait_for(lambda: _waiting_for_provisioning(tenant) or not second.is_alive(), timeout=30)
    finally:
        hold.release.set()
        first.join(30)
        if second.ident is not None:
            second.join(30)
    subscriptions = [
        s["id"]
        for s in stripe_server.state.subscriptions.values()
        if s["metadata"].get("tenant") == tenant.public_id
    ]
    assert len(subscriptions) == 1
    assert made == {"first": subscriptions[0], "second": subscriptions[0]}
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.stripe_subscription_id == subscriptions[0] and account.subscription_status == "active"
    assert not _advisory_locks()


def _advisory_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s", [STRIPE_LOCK_CLASS]
        )
        return cursor.fetchone()[0]


def test_provisioning_a_tenant_late_keeps_its_period_and_its_quota(stripe_server, make_tenant):
    """A tenant made while Stripe was off (or whose signup task failed) is provisioned when an admin first
    opens Checkout or the Customer Portal: its subscription's periods end where the account's do, and the
    period under way, with the pages it used, goes on."""
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-late-provision").tenant
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3, hours=5)
    BillingAccount.objects.filter(tenant=tenant).update(period_start=started)
    usage_record(
        tenant=tenant,
        job_id="job_late_provision",
        quantities={"job": 1, "pages": 1000},
        occurred_at=datetime.now(UTC) - timedelta(days=1),
    )
    with pytest.raises(QuotaExceeded):
        job_allowed(tenant=tenant, connector="legal", quantities={"pages": 500})

    account = stripe_customer_provision(tenant=tenant)
    assert account.stripe_subscription_id and account.period_start == started
    with pytest.raises(QuotaExceeded):
        job_allowed(tenant=tenant, connector="legal", quantities={"pages": 500})
    _, end = current_period(started)
    subscription = stripe.Subscription.retrieve(account.stripe_subscription_id)
    assert subscription.billing_cycle_anchor == int(end.timestamp())
    assert {item["current_period_end"] for item in subscription["items"]["data"]} == {int(end.timestamp())}
    preview = upcoming_invoice(tenant=tenant)
    assert (preview["period_start"], preview["period_end"], preview["units_used"]) == (started, end, 1000)


def test_provisioning_inside_a_transaction_that_fails_leaves_no_lock_behind(
    stripe_server, make_tenant, monkeypatch
):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-in-transaction").tenant

    def failing(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")

    monkeypatch.setattr(stripe_gateway, "account_update_subscription", failing)
    with pytest.raises(DataError), transaction.atomic():
        stripe_customer_provision(tenant=tenant)
    assert not _advisory_locks()
    monkeypatch.undo()
    assert stripe_customer_provision(tenant=tenant).subscription_status == "active"


def test_provisioning_a_tenant_erased_before_or_while_the_task_ran_ends_quietly(
    stripe_server, make_tenant, monkeypatch
):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        before, meanwhile = (make_tenant(slug).tenant for slug in ("bill-gone", "bill-gone-meanwhile"))
    before_id = before.pk
    before.delete(force_drop=True)
    assert stripe_customer_provision_task.run(before_id) == TENANT_GONE

    def erased_first(*, tenant):
        tenant_id = tenant.pk
        tenant.delete(force_drop=True)
        tenant.pk = tenant_id
        return stripe_customer_provision(tenant=tenant)

    monkeypatch.setattr(billing_tasks, "stripe_customer_provision", erased_first)
    assert stripe_customer_provision_task.run(meanwhile.pk) == TENANT_GONE
    assert not _advisory_locks()
    monkeypatch.undo()

    with override_settings(QUIRE_STRIPE_API_KEY=""):
        erasing = make_tenant("bill-erasing").tenant
    erasing.is_active = False
    erasing.save(update_fields=["is_active"])
    assert stripe_customer_provision_task.run(erasing.pk) == TENANT_GONE
    assert not BillingAccount.objects.get(tenant=erasing).stripe_customer_id
    assert not _advisory_locks()


def test_job_usage_reaches_the_meter_exactly_once_across_a_retried_push(
    stripe_tenant, stripe_server, monkeypatch
):
    api = Api(stripe_tenant.issued_key.secret)
    doc_id = ready_document(api, CONTRACT, "nda.txt")
    job = api.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]}).json()
    assert wait_job(api, job["id"])["status"] == "succeeded"
    kinds = dict(UsageEvent.objects.filter(job_id=job["id"]).values_list("kind", "quantity"))
    assert set(kinds) == {"job", "pages"} and kinds["job"] == 1
    assert kinds["pages"] == -(-len(CONTRACT) // 3000)

    real_create = stripe.billing.MeterEvent.create
    meter_posts = ("POST", "/v1/billing/meter_events")
    posts_before = stripe_server.state.requests.count(meter_posts)

    def accepted_then_lost(**params):
        real_create(**params)
        raise stripe.APIConnectionError("connection reset after the request was sent")

    monkeypatch.setattr(stripe.billing.MeterEvent, "create", accepted_then_lost)
    with pytest.raises(stripe.APIConnectionError):
        meter_usage_push()
    batch = MeterBatch.objects.get(events__job_id=job["id"], events__kind="pages")
    assert batch.sent_at is None
    monkeypatch.setattr(stripe.billing.MeterEvent, "create", real_create)
    assert meter_usage_push() >= 1
    assert meter_usage_push() == 0
    batch.refresh_from_db()
    assert batch.sent_at is not None and batch.units == kinds["pages"]
    assert stripe_server.state.requests.count(meter_posts) - posts_before >= 2

    account = BillingAccount.objects.get(tenant=stripe_tenant.tenant)
    meter_id = next(iter(stripe_server.state.meters))
    summary = stripe.billing.Meter.list_event_summaries(
        meter_id, customer=account.stripe_customer_id, start_time=0, end_time=int(time.time()) + 300
    )
    assert summary.data[0].aggregated_value == kinds["pages"]


def test_a_batch_stripe_refuses_does_not_hold_back_the_others(stripe_tenant, make_tenant, stripe_server):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        gone = make_tenant("meter-gone").tenant
    account = BillingAccount.objects.get(tenant=gone)
    account.stripe_customer_id = "cus_gone_at_stripe"
    account.save(update_fields=["stripe_customer_id"])
    usage_record(tenant=gone, job_id="job_gone", quantities={"job": 1, "pages": 3})
    usage_record(tenant=stripe_tenant.tenant, job_id="job_kept", quantities={"job": 1, "pages": 4})
    meter_usage_push()
    refused = MeterBatch.objects.get(tenant=gone, kind="pages")
    kept = MeterBatch.objects.get(events__job_id="job_kept", kind="pages")
    assert refused.sent_at is None and kept.sent_at is not None
    assert kept.id in stripe_server.state.meter_events and refused.id not in stripe_server.state.meter_events
    assert refused.refused_at is not None and "cus_gone_at_stripe" in refused.refusal
    assert kept.refused_at is None and kept.refusal == ""
    refusals = meter_refusals(tenant=gone)
    assert refusals["batches"] >= 1 and refusals["units"]["pages"] == 3
    assert refusals["latest"] == refused.refusal and meter_refusals(tenant=stripe_tenant.tenant) is None


def test_a_batch_waiting_for_a_stripe_customer_is_not_counted_as_sent(stripe_server, make_tenant):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("meter-no-customer").tenant
    usage_record(tenant=tenant, job_id="job_no_customer", quantities={"job": 1, "pages": 2})
    meter_usage_push()
    batch = MeterBatch.objects.get(tenant=tenant, kind="pages")
    assert meter_batch_send(batch=batch) is False
    assert meter_usage_push() == 0
    batch.refresh_from_db()
    assert batch.sent_at is None and batch.id not in stripe_server.state.meter_events


def test_token_usage_is_metered_per_kind_at_the_plans_token_prices_and_shown_on_the_invoice_preview(
    stripe_tenant, stripe_server
):
    tenant = stripe_tenant.tenant
    tokens = {"tokens_in": 3_000_000, "tokens_cached_in": 40_000_000, "tokens_out": 500_000}
    usage_record(tenant=tenant, job_id="job_tokens", quantities={"job": 1, "pages": 2, **tokens})
    meter_usage_push()
    assert meter_usage_push() == 0
    batches = MeterBatch.objects.filter(events__job_id="job_tokens").exclude(kind="pages")
    assert {b.kind: b.units for b in batches} == tokens and all(b.sent_at for b in batches)

    account = BillingAccount.objects.select_related("plan").get(tenant=tenant)
    meters = {meter["event_name"]: meter_id for meter_id, meter in stripe_server.state.meters.items()}
    for kind, quantity in tokens.items():
        summary = stripe.billing.Meter.list_event_summaries(
            meters[meter_event_name(kind)],
            customer=account.stripe_customer_id,
            start_time=0,
            end_time=int(time.time()) + 300,
        )
        assert summary.data[0].aggregated_value == quantity
    # The subscription bills each token meter per token at the plan's price (defaults $0.50, $0.05 and
    # $1.50 per million: 0.00005, 0.000005 and 0.00015 cents a token).
    subscription = stripe.Subscription.retrieve(account.stripe_subscription_id)
    per_token = {
        item["price"]["recurring"]["meter"]: item["price"]["unit_amount_decimal"]
        for item in subscription["items"]["data"]
    }
    assert [str(per_token[meters[f"quire_{kind}"]]) for kind in tokens] == ["0.00005", "0.000005", "0.00015"]

    preview = Api(stripe_tenant.issued_key.secret).get("/v1/billing/upcoming").json()
    lines = {line["description"]: (line["quantity"], line["amount"]) for line in preview["lines"]}
    assert lines["Input tokens, per 1,000,000"] == (3_000_000, 150)
    assert lines["Cached input tokens, per 1,000,000"] == (40_000_000, 200)
    assert lines["Output tokens, per 1,000,000"] == (500_000, 75)
    assert preview["total"] == sum(amount for _, amount in lines.values())


def test_a_changed_token_price_gets_a_new_stripe_price_at_the_next_sync(stripe_server):
    plan = make_plan("tok-price", input_token_price=2)
    stripe_catalog_sync()
    plan.refresh_from_db()
    before = plan.stripe_token_price_ids
    assert before["tokens_in"]["amount"] == "0.0002"
    plan.input_token_price = 3
    plan.save()
    assert [p.code for p in stripe_catalog_sync()] == ["tok-price"]
    plan.refresh_from_db()
    after = plan.stripe_token_price_ids
    assert (
        after["tokens_in"]["amount"] == "0.0003"
        and after["tokens_in"]["price"] != before["tokens_in"]["price"]
    )
    assert {k: after[k] for k in ("tokens_cached_in", "tokens_out")} == {
        k: before[k] for k in ("tokens_cached_in", "tokens_out")
    }
    assert str(stripe.Price.retrieve(after["tokens_in"]["price"]).unit_amount_decimal) == "0.0003"


def test_stripe_bills_only_the_pages_past_the_included_ones_as_the_invoice_preview_does(
    stripe_server, make_tenant
):
    plan = make_plan("pages-past-5", included_units=5, overage_unit_price=3)
    stripe_catalog_sync()
    plan.refresh_from_db()
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-tiers").tenant
    set_plan(tenant, plan, status="none")
    account = stripe_customer_provision(tenant=tenant)
    usage_record(tenant=tenant, job_id="job_tiers", quantities={"job": 1, "pages": 12})
    meter_usage_push()

    preview = upcoming_invoice(tenant=tenant)
    overage = preview["lines"][1]
    assert (overage["quantity"], overage["amount"]) == (7, 21)
    invoice = stripe.Invoice.create_preview(
        customer=account.stripe_customer_id, subscription=account.stripe_subscription_id
    )
    billed = {line.pricing.price_details.price: line.amount for line in invoice.lines.data}
    assert billed[plan.stripe_metered_price_id] == overage["amount"]
    assert invoice.total == preview["total"] == 21

    price = stripe.Price.retrieve(plan.stripe_metered_price_id, expand=["tiers"])
    assert (price.billing_scheme, price.tiers_mode, price.unit_amount) == ("tiered", "graduated", None)
    assert [(tier.up_to, tier.unit_amount) for tier in price.tiers] == [(5, 0), (None, 3)]
    assert "tiers" not in stripe.Price.retrieve(plan.stripe_metered_price_id)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        stripe.Price.create(
            product=plan.stripe_product_id,
            currency="usd",
            recurring={"interval": "month", "usage_type": "metered", "meter": price.recurring.meter},
            billing_scheme="tiered",
            tiers_mode="graduated",
            tiers=[{"up_to": 5, "unit_amount": 0}, {"up_to": 10, "unit_amount": 3}],
        )
    assert refused.value.http_status == 400 and refused.value.param == "tiers[1][up_to]"

    before = plan.stripe_metered_price_id
    plan.included_units = 8
    plan.save()
    assert "pages-past-5" in [p.code for p in stripe_catalog_sync()]
    plan.refresh_from_db()
    assert plan.stripe_metered_price_id != before
    assert plan.stripe_metered_price_terms == {
        "currency": "usd",
        "included_units": 8,
        "overage_unit_price": 3,
    }
    tiers = stripe.Price.retrieve(plan.stripe_metered_price_id, expand=["tiers"]).tiers
    assert [(tier.up_to, tier.unit_amount) for tier in tiers] == [(8, 0), (None, 3)]
    assert "pages-past-5" not in [p.code for p in stripe_catalog_sync()]


def test_a_changed_monthly_price_or_currency_gets_new_prices_and_older_subscriptions_keep_their_plan(
    stripe_server, make_tenant
):
    plan = make_plan("flat-terms", monthly_price=1000, included_units=5, overage_unit_price=3)
    stripe_catalog_sync()
    plan.refresh_from_db()
    first = plan.stripe_flat_price_id

    def subscriber(slug: str) -> BillingAccount:
        with override_settings(QUIRE_STRIPE_API_KEY=""):
            tenant = make_tenant(slug).tenant
        set_plan(tenant, plan, status="none")
        return stripe_customer_provision(tenant=tenant)

    def billed(account: BillingAccount) -> tuple[str, int]:
        invoice = stripe.Invoice.create_preview(
            customer=account.stripe_customer_id, subscription=account.stripe_subscription_id
        )
        assert invoice.total == upcoming_invoice(tenant=account.tenant)["total"]
        return invoice.currency, invoice.total

    earlier = subscriber("bill-flat-earlier")
    assert billed(earlier) == ("usd", 1000)

    plan.monthly_price = 2500
    plan.save()
    assert "flat-terms" in [p.code for p in stripe_catalog_sync()]
    plan.refresh_from_db()
    assert plan.stripe_flat_price_id != first and plan.stripe_past_flat_price_ids == [first]
    assert stripe.Price.retrieve(plan.stripe_flat_price_id).unit_amount == 2500
    assert "flat-terms" not in [p.code for p in stripe_catalog_sync()]
    assert billed(subscriber("bill-flat-later")) == ("usd", 2500)

    plan.currency = "eur"
    plan.save()
    assert "flat-terms" in [p.code for p in stripe_catalog_sync()]
    plan.refresh_from_db()
    made = [plan.stripe_flat_price_id, plan.stripe_metered_price_id]
    made += [token["price"] for token in plan.stripe_token_price_ids.values()]
    assert {stripe.Price.retrieve(price).currency for price in made} == {"eur"}
    assert billed(subscriber("bill-flat-eur")) == ("eur", 2500)

    BillingAccount.objects.filter(pk=earlier.pk).update(plan=default_plan())
    subscription = stripe.Subscription.retrieve(earlier.stripe_subscription_id).to_dict(for_json=True)
    response = send_subscription_event(
        "evt_flat_earlier", "customer.subscription.updated", {**subscription, "status": "active"}
    )
    assert response.status_code == 200
    earlier.refresh_from_db()
    assert earlier.plan == plan


def test_usage_is_metered_to_stripe_in_the_period_it_happened_in(stripe_server, make_tenant):
    plan = make_plan("pages-by-period", included_units=5, overage_unit_price=3)
    stripe_catalog_sync()
    plan.refresh_from_db()
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-by-period").tenant
    set_plan(tenant, plan, status="none")
    account = stripe_customer_provision(tenant=tenant)
    before = account.period_start - timedelta(minutes=1)
    usage_record(
        tenant=tenant, job_id="job_last_period", quantities={"job": 1, "pages": 12}, occurred_at=before
    )
    usage_record(tenant=tenant, job_id="job_this_period", quantities={"job": 1, "pages": 7})
    meter_usage_push()

    earlier, current = MeterBatch.objects.filter(tenant=tenant, kind="pages").order_by("occurred_at")
    assert (earlier.units, earlier.occurred_at, current.units) == (12, before, 7)
    batches = [earlier, current]
    sent = [stripe_server.state.meter_events[b.id]["timestamp"] for b in batches]
    assert sent == [int(b.occurred_at.timestamp()) for b in batches]
    preview = upcoming_invoice(tenant=tenant)
    invoice = stripe.Invoice.create_preview(
        customer=account.stripe_customer_id, subscription=account.stripe_subscription_id
    )
    assert preview["units_used"] == 7 and invoice.total == preview["total"] == 2 * 3


def _subscription(account: BillingAccount, plan: Plan, status: str) -> dict:
    return {
        "id": account.stripe_subscription_id or "sub_test",
        "object": "subscription",
        "customer": account.stripe_customer_id,
        "status": status,
        "items": {
            "object": "list",
            "data": [
                {"id": "si_flat", "object": "subscription_item", "price": {"id": plan.stripe_flat_price_id}},
                {
                    "id": "si_metered",
                    "object": "subscription_item",
                    "price": {"id": plan.stripe_metered_price_id},
                },
            ],
        },
    }


def test_past_due_webhook_downgrades_entitlements(stripe_tenant):
    tenant = stripe_tenant.tenant
    account = BillingAccount.objects.get(tenant=tenant)
    team = Plan.objects.get(code="team")
    updated = "customer.subscription.updated"

    assert (
        send_subscription_event("evt_upgrade_1", updated, _subscription(account, team, "active")).status_code
        == 200
    )
    upgraded = entitlements_for(tenant)
    assert (upgraded.plan_code, upgraded.subscription_status) == ("team", "active")
    assert upgraded.max_context_tokens == team.max_context_tokens

    past_due = _subscription(account, team, "past_due")
    first = send_subscription_event("evt_past_due_1", updated, past_due)
    assert first.json() == {"received": True, "duplicate": False}
    downgraded = entitlements_for(tenant)
    free = Plan.objects.get(code="free")
    assert (downgraded.plan_code, downgraded.subscribed_plan_code) == ("free", "team")
    assert downgraded.max_context_tokens == free.max_context_tokens and downgraded.hard_limit
    api = Api(stripe_tenant.issued_key.secret)
    assert api.get("/v1/billing/upcoming").json()["subscription_status"] == "past_due"

    replay = send_subscription_event("evt_past_due_1", updated, past_due)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True

    deleted = _subscription(account, team, "active")
    assert (
        send_subscription_event("evt_deleted_1", "customer.subscription.deleted", deleted).status_code == 200
    )
    assert entitlements_for(tenant).subscription_status == "canceled"
    assert entitlements_for(tenant).plan_code == "free"


@pytest.mark.parametrize(
    ("event_type", "status"),
    [("customer.subscription.deleted", "canceled"), ("customer.subscription.updated", "incomplete_expired")],
)
def test_a_subscription_stripe_ended_is_priced_at_the_plan_its_quota_falls_back_to(
    stripe_server, make_tenant, event_type, status
):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant(f"bill-ended-{status.replace('_', '-')}").tenant
    account = stripe_customer_provision(tenant=tenant)
    team = Plan.objects.get(code="team")
    now = int(time.time())
    upgraded = _subscription(account, team, "active")
    response = send_subscription_event(
        f"evt_{status}_team", "customer.subscription.updated", upgraded, now - 10
    )
    assert response.status_code == 200
    usage_record(tenant=tenant, job_id=f"job_{status}", quantities={"job": 1, "pages": 1500})
    assert upcoming_invoice(tenant=tenant)["total"] == team.monthly_price

    ended = {**upgraded, "status": status}
    assert send_subscription_event(f"evt_{status}_end", event_type, ended, now - 5).status_code == 200
    account.refresh_from_db()
    assert (account.plan.code, account.subscription_status) == ("team", "canceled")
    preview = upcoming_invoice(tenant=tenant)
    assert entitlements_for(tenant).plan_code == preview["plan"] == "free"
    assert (preview["units_used"], preview["units_included"], preview["total"]) == (1500, 1000, 0)


def test_a_past_due_tenants_jobs_are_estimated_at_the_prices_its_invoice_bills(make_tenant):
    from quire.jobs.services import context_costed

    plan = make_plan(
        "eur-tokens", currency="eur", input_token_price=2, cached_input_token_price=1, output_token_price=6
    )
    tenant = make_tenant("bill-past-due-estimate").tenant
    set_plan(tenant, plan, status="past_due")
    entitled = entitlements_for(tenant)
    assert (entitled.plan_code, entitled.token_prices, entitled.currency) == ("free", (2.0, 1.0, 6.0), "eur")

    read = {"document_id": "doc_1", "strategy": "whole", "calls": 1, "questions": 1}
    tokens = {"tokens_in": 3_000_000, "cached_tokens": 1_000_000, "tokens_out": 500_000}
    record = {"documents": [{**read, **tokens}]}
    [costed] = context_costed(record, {"documents": {}}, entitled.token_prices, currency=entitled.currency)[
        "documents"
    ]
    assert costed["estimated_cost"] == {"amount": 8.0, "currency": "eur"}

    usage_record(
        tenant=tenant,
        job_id="job_past_due_estimate",
        quantities=job_usage_quantities(
            documents=[(1, 0)], tokens_in=3_000_000, cached_tokens=1_000_000, tokens_out=500_000
        ),
    )
    preview = upcoming_invoice(tenant=tenant)
    token_lines = [line["amount"] for line in preview["lines"] if "tokens" in line["description"]]
    assert (preview["currency"], sum(token_lines)) == ("eur", 800)


def test_forged_or_stale_webhooks_are_rejected(stripe_tenant, anonymous: Api):
    account = BillingAccount.objects.get(tenant=stripe_tenant.tenant)
    status_before = account.subscription_status
    event = subscription_event(
        "evt_forged_1",
        "customer.subscription.updated",
        _subscription(account, Plan.objects.get(code="enterprise"), "active"),
    )
    body, forged = signed_event(event, "whsec_not_the_secret")
    assert_error(post_webhook(anonymous, body, forged), 400, "invalid_signature")
    stale_body, stale = signed_event(
        event, settings.QUIRE_STRIPE_WEBHOOK_SECRET, timestamp=int(time.time()) - 10 * 60
    )
    assert_error(post_webhook(anonymous, stale_body, stale), 400, "invalid_signature")
    future_body, future = signed_event(
        event, settings.QUIRE_STRIPE_WEBHOOK_SECRET, timestamp=int(time.time()) + 10 * 60
    )
    assert_error(post_webhook(anonymous, future_body, future), 400, "invalid_signature")
    assert_error(post_webhook(anonymous, body, None), 400, "invalid_signature")
    _, genuine = signed_event(event, settings.QUIRE_STRIPE_WEBHOOK_SECRET)
    tampered = body.replace(b'"active"', b'"trialing"')
    assert_error(post_webhook(anonymous, tampered, genuine), 400, "invalid_signature")
    account.refresh_from_db()
    assert account.subscription_status == status_before
    assert anonymous.client.get(WEBHOOK).status_code == 405
    with override_settings(QUIRE_STRIPE_WEBHOOK_SECRET=""):
        assert_error(post_webhook(anonymous, body, forged), 503, "webhooks_not_configured")


def test_checkout_and_portal_sessions(stripe_tenant, stripe_server):
    from tenants.services import api_key_issue

    admin = Api(stripe_tenant.issued_key.secret)
    checkout = admin.post(
        "/v1/billing/checkout_sessions",
        {"plan": "team", "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"},
    )
    assert checkout.status_code == 201, checkout.content
    assert checkout.json()["url"].startswith(f"{stripe_server.url}/c/pay/cs_test_")
    portal = admin.post("/v1/billing/portal_sessions", {"return_url": "https://app.example/billing"})
    assert portal.status_code == 201 and "/p/session/bps_" in portal.json()["url"]
    for path, body in (
        (
            "/v1/billing/checkout_sessions",
            {"plan": "team", "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"},
        ),
        ("/v1/billing/portal_sessions", {"return_url": "https://app.example/billing"}),
    ):
        headers = {"Idempotency-Key": f"session-{path}"}
        first = admin.post(path, body, headers=headers)
        again = admin.post(path, body, headers=headers)
        assert first.status_code == again.status_code == 201, again.content
        assert again["Idempotent-Replayed"] == "true" and again.content == first.content
        assert_error(
            admin.post(
                path,
                {**body, "return_url" if "portal" in path else "cancel_url": "https://b.example/"},
                headers=headers,
            ),
            409,
            "idempotency_key_reused",
        )
    portal_key = {"Idempotency-Key": "session-/v1/billing/portal_sessions"}
    six_minutes_ago = timezone.now() - timedelta(minutes=6)
    with schema_context(stripe_tenant.tenant.schema_name):
        IdempotencyRecord.objects.filter(key=portal_key["Idempotency-Key"]).update(created_at=six_minutes_ago)
    later = admin.post(
        "/v1/billing/portal_sessions", {"return_url": "https://app.example/billing"}, headers=portal_key
    )
    assert later.status_code == 201 and "Idempotent-Replayed" not in later
    assert later.json()["url"] != first.json()["url"]
    unknown = admin.post(
        "/v1/billing/checkout_sessions",
        {"plan": "platinum", "success_url": "https://a.example/", "cancel_url": "https://a.example/"},
    )
    error = assert_error(unknown, 400, "does_not_exist")
    assert error["param"] == "plan" and "'platinum'" in error["message"] and "team" in error["message"]
    developer = Api(api_key_issue(tenant=stripe_tenant.tenant, name="dev", role="developer").secret)
    assert_error(
        developer.post("/v1/billing/portal_sessions", {"return_url": "https://a.example/"}),
        403,
        "insufficient_role",
    )


def test_a_portal_session_past_its_replay_window_leaves_another_requests_key_alone(
    stripe_tenant, stripe_server
):
    """The short window is the portal session's own: a key the client used first on another request, past five
    minutes but within the day, still answers that request and is still refused to the portal session."""
    admin = Api(stripe_tenant.issued_key.secret)
    key = {"Idempotency-Key": "shared-between-sessions"}
    body = {"plan": "team", "success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}
    checkout = admin.post("/v1/billing/checkout_sessions", body, headers=key)
    assert checkout.status_code == 201, checkout.content
    with schema_context(stripe_tenant.tenant.schema_name):
        IdempotencyRecord.objects.filter(key=key["Idempotency-Key"]).update(
            created_at=timezone.now() - timedelta(minutes=6)
        )
    portal = admin.post(
        "/v1/billing/portal_sessions", {"return_url": "https://app.example/billing"}, headers=key
    )
    assert_error(portal, 409, "idempotency_key_reused")
    again = admin.post("/v1/billing/checkout_sessions", body, headers=key)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.content == checkout.content


def test_an_upgrade_subscription_replaces_and_cancels_the_old_one(stripe_server, make_tenant, celery_worker):
    tenant = make_tenant("bill-upgrade").tenant
    account = wait_for(
        lambda: BillingAccount.objects.filter(tenant=tenant).exclude(stripe_subscription_id="").first(),
        timeout=60,
    )
    old_subscription = account.stripe_subscription_id
    team = Plan.objects.get(code="team")
    upgraded = {**_subscription(account, team, "active"), "id": "sub_from_checkout"}
    assert (
        send_subscription_event("evt_checkout_upgrade", "customer.subscription.created", upgraded).status_code
        == 200
    )
    account.refresh_from_db()
    assert (account.stripe_subscription_id, account.plan.code) == ("sub_from_checkout", "team")
    assert entitlements_for(tenant).plan_code == "team"
    wait_for(lambda: stripe_server.state.subscriptions[old_subscription]["status"] == "canceled", timeout=60)
    # Invoiced at once, so the old subscription's metered usage this period is billed, not dropped.
    assert stripe_server.state.cancellations[old_subscription] == {"invoice_now": "true", "prorate": "false"}

    old_deleted = {
        **_subscription(account, Plan.objects.get(code="free"), "canceled"),
        "id": old_subscription,
    }
    assert (
        send_subscription_event("evt_old_deleted", "customer.subscription.deleted", old_deleted).status_code
        == 200
    )
    account.refresh_from_db()
    assert (account.subscription_status, account.plan.code) == ("active", "team")


def _provisioned(make_tenant, slug: str) -> BillingAccount:
    tenant = make_tenant(slug).tenant
    return wait_for(
        lambda: BillingAccount.objects.filter(tenant=tenant).exclude(stripe_subscription_id="").first(),
        timeout=60,
    )


def _checkout_subscription(account: BillingAccount, plan: Plan) -> dict:
    """A subscription to `plan` for the account's customer, as a Checkout makes it, paid: the object its
    `customer.subscription.created` event carries."""
    made = stripe.Subscription.create(
        customer=account.stripe_customer_id, items=stripe_gateway._subscription_items(plan)
    )
    return {**made.to_dict(for_json=True), "status": "active"}


def test_a_checkout_to_the_plan_already_subscribed_and_paid_is_refused(
    stripe_server, make_tenant, celery_worker
):
    """Its subscription would replace the one in good standing, whose flat price is not credited: the customer
    would pay the period's flat price twice. A Checkout that pays a subscription not in good standing, or moves
    one to the plan's current prices, goes through."""
    provisioned = make_tenant("bill-same-plan")
    account = wait_for(
        lambda: (
            BillingAccount.objects.filter(tenant=provisioned.tenant)
            .exclude(stripe_subscription_id="")
            .first()
        ),
        timeout=60,
    )
    admin = Api(provisioned.issued_key.secret)
    urls = {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}

    def checkout(plan: str):
        return admin.post("/v1/billing/checkout_sessions", {"plan": plan, **urls})

    assert assert_error(checkout("free"), 409, "already_on_plan")["param"] == "plan"
    team = Plan.objects.get(code="team")
    paid = _checkout_subscription(account, team)
    assert (
        send_subscription_event("evt_same_plan_paid", "customer.subscription.created", paid).status_code
        == 200
    )
    error = assert_error(checkout("team"), 409, "already_on_plan")
    assert error["param"] == "plan" and "Team" in error["message"]
    assert checkout("free").status_code == checkout("enterprise").status_code == 201

    past_due = {**paid, "status": "past_due"}
    assert (
        send_subscription_event("evt_same_plan_due", "customer.subscription.updated", past_due).status_code
        == 200
    )
    assert checkout("team").status_code == 201

    without_tokens = stripe.Subscription.create(
        customer=account.stripe_customer_id, items=stripe_gateway._subscription_items(team)[:2]
    )
    older = {**without_tokens.to_dict(for_json=True), "status": "active"}
    assert (
        send_subscription_event("evt_same_plan_old", "customer.subscription.created", older).status_code
        == 200
    )
    account.refresh_from_db()
    assert (account.stripe_subscription_id, account.plan.code) == (older["id"], "team")
    assert checkout("team").status_code == 201


def test_a_late_event_about_a_replaced_subscription_leaves_the_account_on_its_replacement(
    stripe_server, make_tenant, celery_worker
):
    account = _provisioned(make_tenant, "bill-late-old")
    first = stripe.Subscription.retrieve(account.stripe_subscription_id).to_dict(for_json=True)
    second = _checkout_subscription(account, Plan.objects.get(code="team"))
    created = int(time.time())
    assert (
        send_subscription_event("evt_late_new", "customer.subscription.created", second, created).status_code
        == 200
    )
    wait_for(lambda: stripe_server.state.subscriptions[first["id"]]["status"] == "canceled", timeout=60)

    retried = send_subscription_event("evt_late_old", "customer.subscription.updated", first, created - 60)
    assert retried.json() == {"received": True, "duplicate": False}
    account.refresh_from_db()
    assert (account.stripe_subscription_id, account.plan.code, account.subscription_status) == (
        second["id"],
        "team",
        "active",
    )
    [replaced] = ReplacedSubscription.objects.filter(account=account)
    assert replaced.subscription_id == first["id"] and replaced.canceled_at is not None


def test_a_tenant_whose_customer_task_the_broker_refuses_is_provisioned_and_checks_out(
    stripe_server, make_tenant, monkeypatch
):
    """Provisioning commits the tenant before it queues the Stripe customer's task: a broker that refuses the
    task fails nothing, and the tenant's first Checkout makes the customer."""
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    monkeypatch.setattr(billing_tasks.stripe_customer_provision_task, "delay", broker_down)
    tenant = make_tenant("bill-provision-broker-down").tenant
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.stripe_customer_id == ""
    url = stripe_gateway.checkout_session_create(
        tenant=tenant,
        plan=Plan.objects.get(code="team"),
        success_url="https://portal.example.com/ok",
        cancel_url="https://portal.example.com/back",
    )
    account.refresh_from_db()
    assert url and stripe.Customer.retrieve(account.stripe_customer_id).metadata["tenant"] == tenant.public_id


def test_a_replacing_event_the_broker_cannot_take_the_cancel_of_is_answered_and_the_sweep_cancels(
    stripe_server, make_tenant, celery_worker, monkeypatch
):
    """The broker refuses the cancel's task after the event's change has committed: Stripe gets its 200 (a 500
    would only send the event again, for a change already made), and beat's sweep cancels the old
    subscription."""
    from types import SimpleNamespace

    from kombu.exceptions import OperationalError

    account = _provisioned(make_tenant, "bill-cancel-broker-down")
    first = account.stripe_subscription_id
    second = _checkout_subscription(account, Plan.objects.get(code="team"))

    def broker_down(name, args=None, **options):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    monkeypatch.setattr(stripe_gateway, "current_app", SimpleNamespace(send_task=broker_down))
    answered = send_subscription_event("evt_broker_down", "customer.subscription.created", second)
    assert answered.status_code == 200, answered.content
    [replaced] = ReplacedSubscription.objects.filter(account=account)
    assert replaced.subscription_id == first and replaced.canceled_at is None
    assert replaced_subscriptions_cancel() >= 1
    assert stripe_server.state.subscriptions[first]["status"] == "canceled"


def test_a_replaced_subscription_is_canceled_once_stripe_answers_again(
    stripe_server, make_tenant, celery_worker
):
    """Stripe down when the upgrade's event comes in: the first try at canceling the old subscription fails,
    and beat's sweep cancels it once Stripe answers, rather than leaving the customer paying for both."""
    account = _provisioned(make_tenant, "bill-cancel-outage")
    first = account.stripe_subscription_id
    second = _checkout_subscription(account, Plan.objects.get(code="team"))
    path = f"/v1/subscriptions/{first}"
    with stripe_server.state.unavailable("GET", path), stripe_server.state.unavailable("DELETE", path):
        assert (
            send_subscription_event("evt_outage_new", "customer.subscription.created", second).status_code
            == 200
        )
        replaced = wait_for(
            lambda: ReplacedSubscription.objects.filter(account=account, attempts__gte=1).first(), timeout=60
        )
        assert replaced.canceled_at is None and "unavailable" in replaced.last_error
        with pytest.raises(stripe.APIError):
            replaced_subscriptions_cancel()
        assert stripe_server.state.subscriptions[first]["status"] == "active"

    assert replaced_subscriptions_cancel() >= 1
    replaced.refresh_from_db()
    assert replaced.canceled_at is not None and replaced.attempts == 3
    assert stripe_server.state.subscriptions[first]["status"] == "canceled"
    replaced_subscriptions_cancel()
    replaced.refresh_from_db()
    assert replaced.attempts == 3
    account.refresh_from_db()
    assert (account.stripe_subscription_id, account.plan.code) == (second["id"], "team")


def test_an_upgrade_starts_the_accounts_period_where_the_new_subscriptions_period_starts(
    stripe_server, make_tenant, celery_worker
):
    account = _provisioned(make_tenant, "bill-upgrade-period")
    BillingAccount.objects.filter(pk=account.pk).update(period_start=datetime.now(UTC) - timedelta(days=10))
    second = _checkout_subscription(account, Plan.objects.get(code="team"))
    assert "current_period_start" not in second
    [started] = {item["current_period_start"] for item in second["items"]["data"]}
    assert (
        send_subscription_event("evt_period_new", "customer.subscription.created", second).status_code == 200
    )
    account.refresh_from_db()
    assert account.stripe_subscription_id == second["id"]
    assert account.period_start == datetime.fromtimestamp(started, UTC)
    preview = upcoming_invoice(tenant=account.tenant)
    assert (preview["plan"], preview["period_start"]) == ("team", account.period_start)


def test_an_older_or_stale_event_about_the_current_subscription_does_not_roll_its_status_back(
    stripe_server, make_tenant
):
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-event-order").tenant
    account = stripe_customer_provision(tenant=tenant)
    subscription = stripe.Subscription.retrieve(account.stripe_subscription_id).to_dict(for_json=True)
    now = int(time.time())

    def send(event_id: str, event_type: str, status: str, created: int) -> str:
        event = f"customer.subscription.{event_type}"
        response = send_subscription_event(event_id, event, {**subscription, "status": status}, created)
        assert response.json() == {"received": True, "duplicate": False}
        account.refresh_from_db()
        return account.subscription_status

    assert send("evt_order_past_due", "updated", "past_due", now - 20) == "past_due"
    assert send("evt_order_older", "updated", "active", now - 40) == "past_due"
    assert send("evt_order_paid", "updated", "active", now - 10) == "active"
    assert send("evt_order_created", "created", "incomplete", now - 10) == "active"
    assert send("evt_order_deleted", "deleted", "canceled", now - 5) == "canceled"
    assert send("evt_order_after", "updated", "active", now - 5) == "canceled"
    assert account.subscription_event_at == datetime.fromtimestamp(now - 5, UTC)
    assert entitlements_for(tenant).plan_code == "free"


@pytest.mark.timeout(600)
def test_ledger_and_result_are_written_together_when_the_worker_is_killed(celery_worker, make_tenant):
    """SIGKILL the worker while it runs a job: the broker redelivers it, another worker takes it over and saves
    one result and one set of usage, none before."""
    provisioned = make_tenant("bill-kill")
    api = Api(provisioned.issued_key.secret)
    with redelivering_worker(celery_worker) as replacement:
        body = literature_job(api, papers=8, claims=10)
        doc_ids = body["documents"]
        job = {"id": start_job_and_kill_its_worker(api, celery_worker, body)}
        replacement.consume("jobs")
        with tenant_context(provisioned.tenant):
            interrupted = Job.objects.get(pk=job["id"])
            assert interrupted.status == "running"
            assert not JobResult.objects.filter(job_id=job["id"]).exists()
        assert not UsageEvent.objects.filter(job_id=job["id"]).exists()
        done = wait_job(api, job["id"], timeout=240)
    assert done["status"] == "succeeded" and done["attempt"] == 2
    with tenant_context(provisioned.tenant):
        assert list(JobResult.objects.filter(job_id=job["id"]).values_list("attempt", flat=True)) == [2]
    output = api.get(f"/v1/jobs/{job['id']}/result").json()["output"]
    assert len(output["claims"]) == len(body["options"]["claims"])
    rows = list(UsageEvent.objects.filter(job_id=job["id"]).values_list("kind", "quantity"))
    assert sorted(kind for kind, _ in rows) == ["job", "pages"]
    assert dict(rows)["pages"] == len(doc_ids)


def test_usage_is_recorded_once_per_job_and_kind(make_tenant):
    tenant = make_tenant("bill-ledger").tenant
    written = usage_record(tenant=tenant, job_id="job_once", quantities={"pages": 3, "job": 1})
    again = usage_record(tenant=tenant, job_id="job_once", quantities={"pages": 3, "job": 1})
    assert (written, again) == (2, 0)
    assert UsageEvent.objects.filter(tenant=tenant, job_id="job_once").count() == 2
    with pytest.raises(ValueError, match="unknown usage kind"):
        usage_record(tenant=tenant, job_id="job_bad", quantities={"minutes": 1})
    with pytest.raises(ValueError, match="non-negative"):
        usage_record(tenant=tenant, job_id="job_bad", quantities={"pages": -1})


def test_quota_exceeded_is_402_with_the_error_shape(celery_worker, make_tenant):
    provisioned = make_tenant("bill-quota")
    api = Api(provisioned.issued_key.secret)
    doc_id = ready_document(api, "A note that fits on one page.")
    free = Plan.objects.get(code="free")
    usage_record(tenant=provisioned.tenant, job_id="job_earlier", quantities={"pages": free.included_units})
    response = api.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]})
    error = assert_error(response, 402, "quota_exceeded")
    assert error["type"] == "quota_error" and str(free.included_units) in error["message"]

    with tenant_context(provisioned.tenant):
        Job.objects.all().delete()
    UsageEvent.objects.filter(tenant=provisioned.tenant).delete()
    with tenant_context(provisioned.tenant):
        Job.objects.bulk_create(
            Job(connector="legal", document_ids=[doc_id]) for _ in range(free.included_units)
        )
    held = api.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]})
    assert "held by unfinished jobs" in assert_error(held, 402, "quota_exceeded")["message"]

    set_plan(provisioned.tenant, make_plan("legal-only", connectors_allowed=["legal"], max_document_bytes=64))
    error = assert_error(
        api.post("/v1/jobs", {"connector": "earnings", "documents": [doc_id]}), 402, "connector_not_in_plan"
    )
    assert error["param"] == "connector"
    assert api.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]}).status_code == 202
    too_big = api.post("/v1/documents", {"text": "x" * 65, "filename": "big.txt"})
    assert_error(too_big, 413, "document_too_large")


def test_a_review_is_held_to_its_cells_as_it_is_metered(celery_worker, make_tenant):
    provisioned = make_tenant("bill-cells")
    api = Api(provisioned.issued_key.secret)
    documents = [ready_document(api, f"Note {n}. The fee is $10 a month.") for n in range(2)]
    set_plan(provisioned.tenant, make_plan("cells-6", hard_limit=True, max_review_cells=6))
    columns = [{"key": f"fee_{n}", "question": f"What fee is due ({n})?", "type": "money"} for n in range(4)]

    def review(count: int, **options):
        body = {"columns": columns[:count], **options}
        return api.post("/v1/jobs", {"connector": "review", "documents": documents, "options": body})

    too_many = assert_error(review(4, confidence_floor=0.5), 402, "quota_exceeded")["message"]
    assert "needs 8 review cells; 0 of the 6 review cells" in too_many
    first = review(2)
    assert first.status_code == 202, first.content
    held = assert_error(review(2), 402, "quota_exceeded")["message"]
    assert "needs 4 review cells; 4 of the 6" in held
    assert wait_job(api, first.json()["id"])["status"] == "succeeded"

    grown = review(3, extends=first.json()["id"])
    assert grown.status_code == 202, grown.content
    assert wait_job(api, grown.json()["id"])["status"] == "succeeded"
    metered = dict(
        UsageEvent.objects.filter(tenant=provisioned.tenant, kind="review_cells").values_list(
            "job_id", "quantity"
        )
    )
    assert metered == {first.json()["id"]: 4, grown.json()["id"]: 2}
    assert "needs 2 review cells; 6 of the 6" in assert_error(review(1), 402, "quota_exceeded")["message"]
    assert not UsageEvent.objects.filter(tenant=provisioned.tenant, kind="pages").exists()


def test_concurrent_jobs_cannot_overrun_a_hard_quota(celery_worker, make_tenant):
    import threading

    from django.db import connections

    provisioned = make_tenant("bill-race")
    api = Api(provisioned.issued_key.secret)
    doc_id = ready_document(api, "One page of text for the race.")
    free = Plan.objects.get(code="free")
    assert free.hard_limit
    usage_record(
        tenant=provisioned.tenant, job_id="job_before", quantities={"pages": free.included_units - 1}
    )
    start = threading.Barrier(6)
    statuses: list[int] = []

    def create() -> None:
        try:
            client = Api(provisioned.issued_key.secret)
            start.wait()
            statuses.append(
                client.post("/v1/jobs", {"connector": "legal", "documents": [doc_id]}).status_code
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [202, 402, 402, 402, 402, 402]


def test_plan_rate_limits_per_key_and_per_tenant(make_tenant, limiter_clock):
    from tenants.services import api_key_issue

    provisioned = make_tenant("bill-rate")
    set_plan(provisioned.tenant, make_plan("tight-rate", api_rate="5/min", api_key_rate="3/min"))
    first = Api(provisioned.issued_key.secret)
    second = Api(api_key_issue(tenant=provisioned.tenant, name="second").secret)
    limiter_clock.advance(45)
    refused = assert_rate_limited(first, 3)
    assert_error(refused, 429, "rate_limited")
    assert refused["Retry-After"] == "15"
    assert [second.get("/v1/documents").status_code for _ in range(2)] == [200, 200]
    tenant_refused = second.get("/v1/documents")
    assert_error(tenant_refused, 429, "rate_limited")
    assert tenant_refused["X-RateLimit-Limit"] == "5" and tenant_refused["Retry-After"] == "15"
    limiter_clock.advance(15)
    assert first.get("/v1/documents").status_code == 200


def test_requests_a_limit_refuses_count_against_no_other_limit(make_tenant, limiter_clock):
    from tenants.services import api_key_issue

    provisioned = make_tenant("bill-rate-refused")
    set_plan(provisioned.tenant, make_plan("refused-rate", api_rate="5/min", api_key_rate="3/min"))
    noisy = Api(provisioned.issued_key.secret)
    other = Api(api_key_issue(tenant=provisioned.tenant, name="other").secret)
    assert_rate_limited(noisy, 3)
    assert [noisy.get("/v1/documents").status_code for _ in range(5)] == [429] * 5
    assert [other.get("/v1/documents").status_code for _ in range(2)] == [200, 200]
    refused = other.get("/v1/documents")
    assert_error(refused, 429, "rate_limited")
    assert refused["X-RateLimit-Limit"] == "5" and refused["X-RateLimit-Remaining"] == "0"


def test_usage_endpoint_and_invoice_preview(make_tenant):
    # Made with Stripe off: a signup task writing the subscription's period anchor would race the test's own.
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        provisioned = make_tenant("bill-usage")
    tenant, api = provisioned.tenant, Api(provisioned.issued_key.secret)
    set_plan(tenant, Plan.objects.get(code="team"))
    team = Plan.objects.get(code="team")
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    usage_record(
        tenant=tenant, job_id="job_a", quantities={"pages": 4, "tokens_in": 900}, occurred_at=yesterday
    )
    usage_record(tenant=tenant, job_id="job_b", quantities={"pages": 6, "tokens_in": 100}, occurred_at=now)

    by_kind = api.get("/v1/usage", group_by="kind", **{"from": (now - timedelta(days=2)).isoformat()})
    assert by_kind.status_code == 200, by_kind.content
    assert by_kind.json()["data"] == [
        {"kind": "pages", "quantity": 10},
        {"kind": "tokens_in", "quantity": 1000},
    ]
    by_day = api.get(
        "/v1/usage", group_by="day", **{"from": (now - timedelta(days=2)).date().isoformat()}
    ).json()
    assert {"day": yesterday.date().isoformat(), "kind": "pages", "quantity": 4} in by_day["data"]
    assert {"day": now.date().isoformat(), "kind": "pages", "quantity": 6} in by_day["data"]
    assert_error(api.get("/v1/usage", group_by="month"), 400, "invalid_parameter")
    assert_error(api.get("/v1/usage", **{"from": "yesterday"}), 400, "invalid_parameter")
    assert_error(
        api.get("/v1/usage", **{"from": now.isoformat(), "to": yesterday.isoformat()}),
        400,
        "invalid_parameter",
    )

    BillingAccount.objects.filter(tenant=tenant).update(period_start=now - timedelta(days=2))
    Plan.objects.filter(pk=team.pk).update(included_units=5)
    try:
        preview = api.get("/v1/billing/upcoming").json()
    finally:
        Plan.objects.filter(pk=team.pk).update(included_units=team.included_units)
    assert preview["currency"] == "usd" and preview["units_used"] == 10
    assert [line["amount"] for line in preview["lines"]] == [
        team.monthly_price,
        5 * team.overage_unit_price,
        0,
    ]
    assert preview["lines"][2]["description"] == "Input tokens, per 1,000,000"
    assert preview["total"] == team.monthly_price + 5 * team.overage_unit_price


def test_usage_reads_its_bounds_as_the_list_filters_read_moments(make_tenant):
    provisioned = make_tenant("bill-usage-bounds")
    tenant, api = provisioned.tenant, Api(provisioned.issued_key.secret)
    now = datetime.now(UTC).replace(microsecond=0)
    usage_record(tenant=tenant, job_id="job_bounds", quantities={"pages": 3}, occurred_at=now)
    start = now - timedelta(days=1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api.secret}"}
    unescaped = f"/v1/usage?group_by=kind&from={start.isoformat()}"
    assert "+00:00" in unescaped
    for query in (unescaped, f"/v1/usage?group_by=kind&from={int(start.timestamp())}"):
        response = api.client.get(query, **headers)
        assert response.status_code == 200, (query, response.content)
        assert response.json()["data"] == [{"kind": "pages", "quantity": 3}]
        assert datetime.fromisoformat(response.json()["from"].replace("Z", "+00:00")) == start


def test_erasing_a_tenant_deletes_its_stripe_customer_and_records_it(
    stripe_server, make_tenant, celery_worker
):
    from django.core.management import call_command

    from tenants.models import AuditEvent

    provisioned = make_tenant("bill-erase")
    tenant = provisioned.tenant
    customer_id = wait_for(
        lambda: BillingAccount.objects.filter(tenant=tenant).values_list("stripe_customer_id", flat=True)[0],
        timeout=60,
    )
    assert stripe.Customer.retrieve(customer_id).id == customer_id
    call_command("tenant_erase", "bill-erase", "--yes", stdout=io.StringIO())

    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Customer.retrieve(customer_id)
    assert missing.value.http_status == 404
    assert stripe_server.state.requests.count(("DELETE", f"/v1/customers/{customer_id}")) == 1
    [erased] = AuditEvent.objects.filter(tenant_id=tenant.pk)
    assert (erased.action, erased.object_id) == ("workspace.erase", tenant.public_id)
    assert erased.details["stripe_customer_deleted"] is True
    assert customer_id not in str(erased.details)


def _erase_owing(
    stripe_server, make_tenant, slug: str, *, replaced_pending: bool = False
) -> tuple[BillingAccount, str]:
    """A tenant on a plan of 5 included pages then 3 cents a page, with 12 pages recorded and not yet pushed to
    the meter, erased; its account as it was, and what the command printed. `replaced_pending`: the account
    also moved away from a subscription to the same plan that is not canceled yet."""
    from django.core.management import call_command

    plan = make_plan(f"{slug}-plan", included_units=5, overage_unit_price=3)
    stripe_catalog_sync()
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant(slug).tenant
    set_plan(tenant, plan, status="none")
    account = stripe_customer_provision(tenant=tenant)
    if replaced_pending:
        plan.refresh_from_db()
        old = stripe.Subscription.create(
            customer=account.stripe_customer_id, items=[{"price": plan.stripe_metered_price_id}]
        )
        ReplacedSubscription.objects.create(
            account=account, subscription_id=old.id, subscription_digest=lookup_digest(old.id)
        )
    usage_record(tenant=tenant, job_id=f"job_{slug}", quantities={"job": 1, "pages": 12})
    out = io.StringIO()
    call_command("tenant_erase", slug, "--yes", stdout=out)
    return account, out.getvalue()


def test_erasing_a_tenant_bills_its_unsent_usage_on_a_final_invoice_charged_before_the_customer_goes(
    stripe_server, make_tenant
):
    from tenants.models import AuditEvent

    account, printed = _erase_owing(stripe_server, make_tenant, "bill-erase-owing")
    subscription_id = account.stripe_subscription_id
    assert stripe_server.state.cancellations[subscription_id] == {"invoice_now": "true", "prorate": "false"}
    invoice_id = stripe_server.state.subscriptions[subscription_id]["latest_invoice"]
    invoice = stripe_server.state.invoices[invoice_id]
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 21)
    paid_at = stripe_server.state.requests.index(("POST", f"/v1/invoices/{invoice_id}/pay"))
    deleted_at = stripe_server.state.requests.index(("DELETE", f"/v1/customers/{account.stripe_customer_id}"))
    assert paid_at < deleted_at
    [erased] = AuditEvent.objects.filter(tenant_id=account.tenant_id)
    assert erased.details["final_invoice"] == {"amount_due": 21, "currency": "usd", "paid": True}
    assert "final invoice 0.21 USD, paid" in printed


def test_erasing_a_tenant_also_bills_a_replaced_subscription_not_canceled_yet(stripe_server, make_tenant):
    """Deleting the customer would cancel the subscription the account moved away from without an invoice, so
    its metered usage would go unbilled: it gets its own final invoice, charged, and the event sums them."""
    from tenants.models import AuditEvent

    account, printed = _erase_owing(stripe_server, make_tenant, "bill-erase-replaced", replaced_pending=True)
    [old] = [
        s
        for s in stripe_server.state.subscriptions.values()
        if s["customer"] == account.stripe_customer_id and s["id"] != account.stripe_subscription_id
    ]
    assert stripe_server.state.cancellations[old["id"]] == {"invoice_now": "true", "prorate": "false"}
    assert stripe_server.state.invoices[old["latest_invoice"]]["status"] == "paid"
    [erased] = AuditEvent.objects.filter(tenant_id=account.tenant_id)
    assert erased.details["final_invoice"] == {"amount_due": 42, "currency": "usd", "paid": True}
    assert "final invoice 0.42 USD, paid" in printed


def test_an_erasure_whose_final_charge_is_declined_still_finishes_and_says_the_invoice_is_open(
    stripe_server, make_tenant
):
    from tenants.models import AuditEvent, Tenant

    stripe_server.state.declining = True
    try:
        account, printed = _erase_owing(stripe_server, make_tenant, "bill-erase-declined")
    finally:
        stripe_server.state.declining = False
    invoice_id = stripe_server.state.subscriptions[account.stripe_subscription_id]["latest_invoice"]
    assert stripe_server.state.invoices[invoice_id]["status"] == "open"
    assert not Tenant.objects.filter(pk=account.tenant_id).exists()
    [erased] = AuditEvent.objects.filter(tenant_id=account.tenant_id)
    assert erased.details["final_invoice"] == {"amount_due": 21, "currency": "usd", "paid": False}
    assert "final invoice 0.21 USD, NOT paid" in printed


@pytest.mark.parametrize("mode", ["analyzers", "model"])
def test_a_job_no_model_reads_runs_under_a_context_cap_too_small_for_any_model_reading(
    make_tenant, celery_worker, mode
):
    """A cap below the reserved output leaves a model no room at all; the analyzers need none. With no
    inference server configured, model mode falls back to the analyzers and runs too."""
    plan = make_plan(f"tiny-context-{mode}", max_context_tokens=64)
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        provisioned = make_tenant(f"bill-tiny-context-{mode}")
    set_plan(provisioned.tenant, plan)
    api = Api(provisioned.issued_key.secret)
    doc_id = ready_document(api, CONTRACT, "nda.txt")
    job = api.post("/v1/jobs", {"connector": "legal", "documents": [doc_id], "mode": mode}).json()
    done = wait_job(api, job["id"])
    assert done["status"] == "succeeded", done.get("error")
    [read] = api.get(f"/v1/jobs/{job['id']}/result").json()["context"]["documents"]
    assert (read["strategy"], read["calls"]) == ("analyzers", 0)


def test_an_analyzers_job_asking_a_whole_reading_is_not_refused_for_a_context_cap_no_model_reads_within(
    make_tenant, celery_worker
):
    """The policy is still checked for what it is; the window it would need matters only to a model."""
    plan = make_plan("tiny-context-policy", max_context_tokens=64)
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        provisioned = make_tenant("bill-tiny-context-policy")
    set_plan(provisioned.tenant, plan)
    api = Api(provisioned.issued_key.secret)
    doc_id = ready_document(api, CONTRACT, "nda.txt")
    body = {"connector": "legal", "documents": [doc_id], "options": {"context_policy": "whole"}}
    created = api.post("/v1/jobs", {**body, "mode": "analyzers"})
    assert created.status_code == 202, created.content
    assert wait_job(api, created.json()["id"])["status"] == "succeeded"
    assert_error(api.post("/v1/jobs", {**body, "mode": "model"}), 400, "invalid_options")
    unknown = {**body, "mode": "analyzers", "options": {"context_policy": "sideways"}}
    assert_error(api.post("/v1/jobs", unknown), 400, "invalid_options")


def test_only_a_pdf_is_billed_by_its_page_map():
    """Parsing gives a text, DOCX or HTML document one page for its whole text; billing counts its characters."""
    from billing.services import billable_pages
    from quire.documents.models import metered_page_count
    from quire.documents.sniffing import DOCX, PDF, PPTX

    assert (
        billable_pages(
            page_count=metered_page_count(content_type="text/plain", page_count=1), char_count=117_478
        )
        == 40
    )
    assert (
        billable_pages(page_count=metered_page_count(content_type=DOCX, page_count=1), char_count=2_000) == 1
    )
    assert (
        billable_pages(page_count=metered_page_count(content_type=PPTX, page_count=12), char_count=7_000) == 3
    )
    assert (
        billable_pages(page_count=metered_page_count(content_type=PDF, page_count=3), char_count=117_478) == 3
    )


def test_the_admin_shows_an_accounts_stripe_ids_but_cannot_change_them(make_tenant):
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import Client, RequestFactory

    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-admin").tenant
    BillingAccount.objects.filter(tenant=tenant).update(stripe_customer_id="cus_admin_shown")
    account = BillingAccount.objects.get(tenant=tenant)
    staff, _ = get_user_model().objects.get_or_create(
        username="billing-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    request = RequestFactory().get("/admin/")
    request.user = staff
    form = admin.site._registry[BillingAccount].get_form(request, account)
    assert not {"stripe_customer_id", "stripe_customer_digest", "stripe_subscription_id"} & set(
        form.base_fields
    )
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/billing/billingaccount/{account.pk}/change/")
    assert page.status_code == 200 and b"cus_admin_shown" in page.content


def test_token_unit_amounts_are_in_the_minor_unit_of_a_currency_without_cents():
    """JPY has no minor unit below the yen (Stripe's zero-decimal currencies): 50 yen per million tokens is
    0.00005 yen a token, as the job's estimated cost prices it, not 0.005."""
    from billing.entitlements import token_unit_amounts

    yen = Plan(
        code="yen", currency="jpy", input_token_price=50, cached_input_token_price=5, output_token_price=150
    )
    dollars = Plan(
        code="usd", currency="usd", input_token_price=50, cached_input_token_price=5, output_token_price=150
    )
    assert list(token_unit_amounts(yen).values()) == [
        Decimal("0.00005"),
        Decimal("0.000005"),
        Decimal("0.00015"),
    ]
    assert list(token_unit_amounts(dollars).values()) == [
        Decimal("0.005"),
        Decimal("0.0005"),
        Decimal("0.015"),
    ]


def test_a_replaced_subscription_is_canceled_with_the_usage_not_pushed_yet_on_its_final_invoice(
    stripe_server, make_tenant
):
    """Usage recorded since the last push, before the upgrade, falls in the old subscription's period: it
    reaches the meter before the cancellation's final invoice, which would otherwise never bill it."""
    plan = make_plan("bill-replaced-owing-plan", included_units=5, overage_unit_price=3)
    stripe_catalog_sync()
    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-replaced-owing").tenant
    set_plan(tenant, plan, status="none")
    account = stripe_customer_provision(tenant=tenant)
    usage_record(tenant=tenant, job_id="job_before_upgrade", quantities={"job": 1, "pages": 12})
    old = account.stripe_subscription_id
    ReplacedSubscription.objects.create(
        account=account, subscription_id=old, subscription_digest=lookup_digest(old)
    )
    replaced_subscriptions_cancel()
    invoice = stripe_server.state.invoices[stripe_server.state.subscriptions[old]["latest_invoice"]]
    assert invoice["amount_due"] == 7 * 3


def test_two_jobs_reaching_a_usage_threshold_together_record_it(make_tenant):
    """Each job's transaction alone stays below 80 % of the included pages; the second to count must see the
    first's pages, or the threshold is reached with no one recording it."""
    from billing.models import UsageThreshold
    from billing.services import usage_thresholds_record

    with override_settings(QUIRE_STRIPE_API_KEY=""):
        tenant = make_tenant("bill-threshold-race").tenant
    set_plan(tenant, make_plan("bill-threshold-race-plan", included_units=5))
    second: dict = {}
    done = threading.Event()

    def record_second() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                second["pid"] = cursor.fetchone()[0]
            with transaction.atomic():
                usage_record(tenant=tenant, job_id="job_race_second", quantities={"pages": 2})
                second["reached"] = usage_thresholds_record(tenant=tenant, quantities={"pages": 2})
        finally:
            done.set()
            connection.close()

    def second_waits_on_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [second.get("pid")])
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock"

    thread = threading.Thread(target=record_second)
    with transaction.atomic():
        usage_record(tenant=tenant, job_id="job_race_first", quantities={"pages": 2})
        assert usage_thresholds_record(tenant=tenant, quantities={"pages": 2}) == []
        thread.start()
        wait_for(lambda: done.is_set() or second_waits_on_a_lock(), timeout=30)
    thread.join(30)
    assert [t.percent for t in second["reached"]] == [80]
    assert list(UsageThreshold.objects.filter(tenant=tenant).values_list("percent", "used")) == [(80, 4)]
