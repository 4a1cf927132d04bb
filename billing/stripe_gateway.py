"""Stripe: catalog (meter, products, prices), a customer and subscription per tenant, metered usage
pushed from the ledger, Checkout and Customer Portal sessions, and webhook events applied once."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import stripe
from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from billing.entitlements import TOKEN_KINDS, account_for, current_period, token_unit_amounts
from billing.models import (
    GOOD_STANDING,
    BillingAccount,
    MeterBatch,
    Plan,
    ReplacedSubscription,
    StripeEvent,
    SubscriptionStatus,
    UsageEvent,
    UsageKind,
)
from billing.services import BILLABLE_KIND, METERED_KINDS, account_update_subscription
from common.refusals import ErrorCode, Refusal
from tenants.crypto import lookup_digest
from tenants.models import Tenant

logger = logging.getLogger(__name__)
SUBSCRIPTION_CANCEL_TASK = "billing.stripe_subscription_cancel_task"
METER_BATCH_MAX_EVENTS = 5000
HANDLED_SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
# A subscription in these states bills nothing more and cannot be changed.
ENDED_AT_STRIPE = (SubscriptionStatus.CANCELED, "incomplete_expired")
# PostgreSQL advisory locks `(STRIPE_LOCK_CLASS, tenant id)` for a tenant's provisioning, `(STRIPE_LOCK_CLASS, 0)`
# for the catalog.
STRIPE_LOCK_CLASS = 0x5157
CATALOG_LOCK = 0


class StripeNotConfigured(Refusal):
    def __init__(self, detail: str):
        super().__init__(
            ErrorCode.BILLING_UNAVAILABLE,
            f"Online billing is not configured for this installation: {detail}.",
        )


class PaymentProviderError(Refusal):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.BILLING_PROVIDER_ERROR, "The payment provider did not answer; try again in a minute."
        )


@contextmanager
def _provider_answers() -> Iterator[None]:
    """Turns a failed call to Stripe into a PaymentProviderError for the person waiting on it."""
    try:
        yield
    except stripe.StripeError as exc:
        logger.warning("stripe call failed: %s", exc)
        raise PaymentProviderError() from exc


def stripe_enabled() -> bool:
    return bool(settings.QUIRE_STRIPE_API_KEY)


def _configure() -> None:
    if not stripe_enabled():
        raise StripeNotConfigured("QUIRE_STRIPE_API_KEY is not set")
    stripe.api_key = settings.QUIRE_STRIPE_API_KEY
    stripe.api_base = settings.QUIRE_STRIPE_API_BASE
    stripe.max_network_retries = 2


@contextmanager
def _held(key: int) -> Iterator[None]:
    """One holder at a time across processes, while that holder talks to Stripe. A session lock, not a row
    lock: no transaction stays open during the HTTP calls, and a holder that dies releases it with its
    connection. Inside a caller's transaction, the lock lasts until that transaction ends, so a failed
    statement cannot leave it held."""
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [STRIPE_LOCK_CLASS, key])
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [STRIPE_LOCK_CLASS, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [STRIPE_LOCK_CLASS, key])


def meter_event_name(kind: str) -> str:
    """The Stripe meter event of a metered usage kind: `QUIRE_STRIPE_METER_EVENT` for pages, `quire_<kind>`
    for the token kinds."""
    return settings.QUIRE_STRIPE_METER_EVENT if kind == BILLABLE_KIND else f"quire_{kind}"


def _meter_ids() -> dict[str, str]:
    """The id of each metered kind's meter, created the first time."""
    existing = {
        meter.event_name: meter.id
        for meter in stripe.billing.Meter.list(status="active", limit=100).auto_paging_iter()
    }
    ids = {}
    for kind in METERED_KINDS:
        event_name = meter_event_name(kind)
        if event_name not in existing:
            existing[event_name] = stripe.billing.Meter.create(
                display_name=f"Quire {UsageKind(kind).label.lower()}",
                event_name=event_name,
                default_aggregation={"formula": "sum"},
                customer_mapping={"type": "by_id", "event_payload_key": "stripe_customer_id"},
                value_settings={"event_payload_key": "value"},
                idempotency_key=f"meter-{event_name}",
            ).id
        ids[kind] = existing[event_name]
    return ids


def _decimal_amount(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('1e-12')).normalize():f}"


def stripe_catalog_sync() -> list[Plan]:
    """Create the meters and, for each plan without them, a product, a flat monthly price, a metered price
    for pages (free up to the included pages, then the overage price each) and one for each token kind (per
    token, at the plan's token prices); a new price when the plan's terms for it (its currency included) have
    changed since. Returns the plans that changed. Calls at once take turns."""
    _configure()
    with _held(CATALOG_LOCK):
        return _catalog_sync()


FLAT_PRICE = "flat"


def flat_price_terms(plan: Plan) -> dict:
    """What the plan's flat monthly price is made from; a plan whose terms differ from those its price was
    made at gets a new one."""
    return {"currency": plan.currency, "monthly_price": plan.monthly_price}


def page_price_terms(plan: Plan) -> dict:
    """What the plan's page price is made from; a plan whose terms differ from those its price was made at
    gets a new one."""
    return {
        "currency": plan.currency,
        "included_units": plan.included_units,
        "overage_unit_price": plan.overage_unit_price,
    }


def _page_price_scheme(plan: Plan) -> dict:
    """Stripe bills the pages meter's sum for the period through graduated tiers: the included pages at 0,
    every page past them at the overage price. A plan with no included pages is a plain price per page."""
    if not plan.included_units:
        return {"unit_amount": plan.overage_unit_price}
    return {
        "billing_scheme": "tiered",
        "tiers_mode": "graduated",
        "tiers": [
            {"up_to": plan.included_units, "unit_amount": 0},
            {"up_to": "inf", "unit_amount": plan.overage_unit_price},
        ],
    }


def _token_amounts(plan: Plan) -> dict[str, str]:
    return {kind: _decimal_amount(unit) for kind, unit in token_unit_amounts(plan).items()}


def _stale_prices(plan: Plan) -> list[str]:
    """The prices (`FLAT_PRICE`, or a metered kind's) the plan lacks, or has at other terms than today's."""
    stale = []
    if not plan.stripe_flat_price_id or plan.stripe_flat_price_terms != flat_price_terms(plan):
        stale.append(FLAT_PRICE)
    if not plan.stripe_metered_price_id or plan.stripe_metered_price_terms != page_price_terms(plan):
        stale.append(BILLABLE_KIND)
    token_prices = plan.stripe_token_price_ids
    for kind, amount in _token_amounts(plan).items():
        made_at = token_prices.get(kind, {})
        if (made_at.get("amount"), made_at.get("currency")) != (amount, plan.currency):
            stale.append(kind)
    return stale


def _catalog_sync() -> list[Plan]:
    meters = _meter_ids()
    synced = []
    for plan in Plan.objects.all():
        stale = _stale_prices(plan)
        if not stale:
            continue
        if not plan.stripe_product_id:
            plan.stripe_product_id = stripe.Product.create(
                name=f"Quire {plan.name}",
                metadata={"plan": plan.code},
                idempotency_key=f"product-{plan.code}",
            ).id
        if FLAT_PRICE in stale:
            terms = flat_price_terms(plan)
            price_id = stripe.Price.create(
                product=plan.stripe_product_id,
                currency=plan.currency,
                unit_amount=plan.monthly_price,
                recurring={"interval": "month", "usage_type": "licensed"},
                metadata={"plan": plan.code, "role": "flat"},
                idempotency_key=f"price-flat-{plan.code}-{terms['currency']}-{terms['monthly_price']}",
            ).id
            past = [*plan.stripe_past_flat_price_ids, plan.stripe_flat_price_id]
            plan.stripe_past_flat_price_ids = [p for p in dict.fromkeys(past) if p and p != price_id]
            plan.stripe_flat_price_id = price_id
            plan.stripe_flat_price_terms = terms
        if BILLABLE_KIND in stale:
            terms = page_price_terms(plan)
            plan.stripe_metered_price_id = stripe.Price.create(
                product=plan.stripe_product_id,
                currency=plan.currency,
                recurring={"interval": "month", "usage_type": "metered", "meter": meters[BILLABLE_KIND]},
                metadata={"plan": plan.code, "role": "metered"},
                idempotency_key=(
                    f"price-pages-{plan.code}-{terms['currency']}-{terms['included_units']}-"
                    f"{terms['overage_unit_price']}"
                ),
                **_page_price_scheme(plan),
            ).id
            plan.stripe_metered_price_terms = terms
        token_prices = dict(plan.stripe_token_price_ids)
        amounts = _token_amounts(plan)
        for kind in stale:
            if kind not in amounts:
                continue
            price = stripe.Price.create(
                product=plan.stripe_product_id,
                currency=plan.currency,
                unit_amount_decimal=amounts[kind],
                recurring={"interval": "month", "usage_type": "metered", "meter": meters[kind]},
                metadata={"plan": plan.code, "role": kind},
                idempotency_key=f"price-{kind}-{plan.code}-{plan.currency}-{amounts[kind]}",
            )
            token_prices[kind] = {"price": price.id, "amount": amounts[kind], "currency": plan.currency}
        plan.stripe_token_price_ids = token_prices
        plan.save(
            update_fields=[
                "stripe_product_id",
                "stripe_flat_price_id",
                "stripe_flat_price_terms",
                "stripe_past_flat_price_ids",
                "stripe_metered_price_id",
                "stripe_metered_price_terms",
                "stripe_token_price_ids",
            ]
        )
        synced.append(plan)
    return synced


def _priced(plan: Plan) -> bool:
    """The plan has its Stripe prices, each made at the plan's terms of today."""
    return not _stale_prices(plan)


def _subscription_items(plan: Plan) -> list[dict]:
    if not (
        plan.stripe_flat_price_id
        and plan.stripe_metered_price_id
        and set(TOKEN_KINDS) <= set(plan.stripe_token_price_ids)
    ):
        raise StripeNotConfigured(f"plan {plan.code} has no Stripe prices; run manage.py billing_stripe_sync")
    return [
        {"price": plan.stripe_flat_price_id, "quantity": 1},
        {"price": plan.stripe_metered_price_id},
        *({"price": plan.stripe_token_price_ids[kind]["price"]} for kind in TOKEN_KINDS),
    ]


def stripe_customer_provision(*, tenant: Tenant) -> BillingAccount:
    """A Stripe customer for the tenant and a subscription to its plan; safe to call again, and calls for one
    tenant at once (the signup task and a Checkout) take turns, so the second finds what the first made.

    The subscription's billing cycle is anchored to the account's periods (the day of the month and time of
    `period_start`, to the second), so its first period is the rest of the account's period under way, its
    flat price prorated: a tenant provisioned late (made while Stripe was off, or provisioned by its first
    Checkout or Customer Portal session) keeps its period, and the usage and quota in it."""
    _configure()
    with _held(tenant.pk):
        return _customer_provision(tenant)


def _customer_provision(tenant: Tenant) -> BillingAccount:
    if not Tenant.objects.filter(pk=tenant.pk, is_active=True).exists():
        raise Tenant.DoesNotExist(f"tenant {tenant.pk} is inactive (being erased); no Stripe customer made")
    account = account_for(tenant)
    if not _priced(account.plan):
        stripe_catalog_sync()
        account.plan.refresh_from_db()
    if not account.stripe_customer_id:
        customer = stripe.Customer.create(
            name=tenant.name,
            metadata={"tenant": tenant.public_id},
            idempotency_key=f"customer-{tenant.public_id}",
        )
        BillingAccount.objects.filter(pk=account.pk).update(
            stripe_customer_id=customer.id, stripe_customer_digest=lookup_digest(customer.id)
        )
        account.stripe_customer_id = customer.id
    if not account.stripe_subscription_id:
        anchor = account.period_start.astimezone(UTC).replace(microsecond=0)
        subscription = stripe.Subscription.create(
            customer=account.stripe_customer_id,
            items=_subscription_items(account.plan),
            billing_cycle_anchor_config={
                "day_of_month": anchor.day,
                "hour": anchor.hour,
                "minute": anchor.minute,
                "second": anchor.second,
            },
            proration_behavior="create_prorations",
            metadata={"tenant": tenant.public_id, "plan": account.plan.code},
            idempotency_key=f"subscription-{tenant.public_id}-{account.plan.code}",
        )
        account = account_update_subscription(
            account=account, status=subscription.status, subscription_id=subscription.id, period_start=anchor
        )
    return BillingAccount.objects.select_related("plan").get(pk=account.pk)


def stripe_account_settle(*, tenant: Tenant) -> dict | None:
    """Bill what the tenant owes before its customer goes (erasing the tenant): its usage not sent yet reaches
    the meters, then its subscription, and any it moved away from that is not canceled yet, is canceled with a
    final invoice of the period's metered usage (no credit for the flat price's unused time, as when a plan is
    replaced), charged at once while the customer still has its payment method. Returns those invoices'
    `amount_due` (summed), `currency` and `paid` (all of them), or None where there is none (no customer or
    subscription, or Stripe made no invoice). A refused charge leaves its invoice open at Stripe for
    collection by hand; it does not stop the erasure. Run again, it finds the subscriptions canceled and charges
    their final invoices if still open."""
    with _held(tenant.pk):
        account = BillingAccount.objects.filter(tenant=tenant).first()
        if account is None or not account.stripe_customer_id:
            return None
        _configure()
        _tenant_usage_push(tenant.pk)
        replaced = [r.subscription_id for r in account.replaced_subscriptions.filter(canceled_at=None)]
        subscriptions = [s for s in (*replaced, account.stripe_subscription_id) if s]
        invoices = [i for s in subscriptions if (i := _final_invoice_charged(s, tenant)) is not None]
    if not invoices:
        return None
    return {
        "amount_due": sum(invoice.amount_due for invoice in invoices),
        "currency": invoices[-1].currency,
        "paid": all(invoice.status == "paid" for invoice in invoices),
    }


def _final_invoice_charged(subscription_id: str, tenant: Tenant) -> stripe.Invoice | None:
    """The invoice that canceling the subscription made (canceled now, with `invoice_now`, if it was not),
    finalized if a draft and charged; None when Stripe has no such subscription or made no invoice."""
    try:
        stripe_subscription_cancel(subscription_id=subscription_id)
        subscription = stripe.Subscription.retrieve(subscription_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
        return None
    if not subscription.latest_invoice:
        return None
    invoice = stripe.Invoice.retrieve(subscription.latest_invoice)
    if invoice.created < (subscription.canceled_at or 0):
        return None
    try:
        if invoice.status == "draft":
            invoice = stripe.Invoice.finalize_invoice(invoice.id, auto_advance=False)
        if invoice.status == "open":
            invoice = stripe.Invoice.pay(invoice.id)
    except (stripe.CardError, stripe.InvalidRequestError) as exc:
        logger.warning(
            "a final invoice of erased tenant %s was not paid (%s); it stays open at Stripe",
            tenant.public_id,
            exc.code,
        )
        invoice = stripe.Invoice.retrieve(invoice.id)
    return invoice


def stripe_customer_erase(*, tenant: Tenant) -> bool:
    """Delete the tenant's Stripe customer (Stripe cancels its subscriptions with it), erasing the tenant.
    True when there was one; a customer Stripe no longer has counts as deleted. Refuses when the account
    has a customer but Stripe is not configured, so that erasure does not leave it behind unnoticed. Takes
    turns with provisioning: a customer being created now is deleted once it exists, and provisioning after
    this finds the tenant inactive (`workspace_erase` makes it so first) and creates none."""
    with _held(tenant.pk):
        customer_id = (
            BillingAccount.objects.filter(tenant=tenant).values_list("stripe_customer_id", flat=True).first()
        )
        if not customer_id:
            return False
        _configure()
        try:
            stripe.Customer.delete(customer_id, idempotency_key=f"customer-erase-{tenant.public_id}")
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise
    return True


def _period_of(anchor: datetime | None, moment: datetime) -> datetime | None:
    """The start of the account's billing period that `moment` falls in; None before the account's anchor
    (or without an account), where the periods are not known."""
    if anchor is None or moment < anchor:
        return None
    return current_period(anchor, moment)[0]


def meter_batches_create() -> list[MeterBatch]:
    """Gather unbatched metered ledger events into one batch per tenant, kind and billing period (each event
    in exactly one batch), dated by its latest event, so that its meter event lands in the period its usage
    happened in."""
    batches = []
    pending = list(
        UsageEvent.objects.filter(meter_batch=None, kind__in=METERED_KINDS)
        .values_list("tenant_id", "kind")
        .distinct()
    )
    anchors = dict(
        BillingAccount.objects.filter(tenant_id__in={tenant_id for tenant_id, _ in pending}).values_list(
            "tenant_id", "period_start"
        )
    )
    for tenant_id, kind in pending:
        with transaction.atomic():
            events = list(
                UsageEvent.objects.select_for_update(skip_locked=True)
                .filter(tenant_id=tenant_id, meter_batch=None, kind=kind)
                .order_by("id")
                .values_list("id", "quantity", "occurred_at")[:METER_BATCH_MAX_EVENTS]
            )
            periods: dict[datetime | None, list[tuple[int, int, datetime]]] = {}
            for event in events:
                periods.setdefault(_period_of(anchors.get(tenant_id), event[2]), []).append(event)
            for grouped in periods.values():
                batch = MeterBatch.objects.create(
                    tenant_id=tenant_id,
                    kind=kind,
                    units=sum(quantity for _, quantity, _ in grouped),
                    occurred_at=max(occurred_at for _, _, occurred_at in grouped),
                )
                UsageEvent.objects.filter(id__in=[event_id for event_id, _, _ in grouped]).update(
                    meter_batch=batch
                )
                batches.append(batch)
    return batches


def meter_batch_send(*, batch: MeterBatch) -> bool:
    """One meter event per batch, on its kind's meter, at the time its latest event happened (its creation
    for a batch made before that was recorded); the batch id is both the event `identifier` and the
    `Idempotency-Key`, so a resend after a crash is not counted again. False, and nothing sent, while the
    tenant has no Stripe customer: the batch waits for one."""
    _configure()
    customer_id = (
        BillingAccount.objects.filter(tenant_id=batch.tenant_id)
        .values_list("stripe_customer_id", flat=True)
        .first()
    )
    if not customer_id:
        return False
    stripe.billing.MeterEvent.create(
        event_name=meter_event_name(batch.kind),
        payload={"stripe_customer_id": customer_id, "value": str(batch.units)},
        identifier=batch.id,
        timestamp=int((batch.occurred_at or batch.created_at).timestamp()),
        idempotency_key=f"meter-event-{batch.id}",
    )
    MeterBatch.objects.filter(pk=batch.pk, sent_at=None).update(sent_at=timezone.now())
    return True


def meter_usage_push() -> int:
    """Beat task body: batch new ledger events, then send every unsent batch. Returns batches sent, not those
    of a tenant without a Stripe customer, which wait for one. A batch Stripe refuses (a customer gone at
    Stripe) stays unsent for the next push without holding back the others, with the refusal recorded for the
    tenant's admins (`meter_refusals`); a connection error stops the push, so the task is retried."""
    if not stripe_enabled():
        return 0
    meter_batches_create()
    return _batches_send(MeterBatch.objects.filter(sent_at=None))


def _tenant_usage_push(tenant_id: int) -> None:
    """Send the tenant's usage not on the meters yet, before a subscription of its is canceled with a final
    invoice: usage sent after that invoice is billed by no subscription."""
    meter_batches_create()
    _batches_send(MeterBatch.objects.filter(tenant_id=tenant_id, sent_at=None))


def _batches_send(batches: QuerySet[MeterBatch]) -> int:
    """Send the unsent batches oldest first; how many went. A batch Stripe refuses is recorded and skipped."""
    sent = 0
    for batch in batches.order_by("created_at"):
        try:
            if not meter_batch_send(batch=batch):
                continue
        except stripe.InvalidRequestError as exc:
            logger.warning(
                "meter batch %s refused by Stripe (%s); sent again at the next push", batch.pk, exc.code
            )
            refusal = f"{exc.code or 'invalid_request'}: {exc.user_message or exc}"
            MeterBatch.objects.filter(pk=batch.pk).update(refused_at=timezone.now(), refusal=refusal[:300])
            continue
        sent += 1
    return sent


def _subscribed_at_current_prices(account: BillingAccount, plan: Plan) -> bool:
    """The account's subscription is to `plan`, in good standing, with every price the plan has today."""
    if account.plan_id != plan.pk or account.subscription_status not in GOOD_STANDING:
        return False
    subscription = stripe.Subscription.retrieve(account.stripe_subscription_id)
    held = {item["price"]["id"] for item in subscription["items"]["data"]}
    return {item["price"] for item in _subscription_items(plan)} <= held


def checkout_session_create(*, tenant: Tenant, plan: Plan, success_url: str, cancel_url: str) -> str:
    """A Checkout session that subscribes the tenant's customer to `plan`; returns its URL. Refuses when
    Stripe is not configured or does not answer, and a Checkout to the plan the tenant's subscription is on,
    in good standing and at the plan's current prices: its subscription would replace that one, whose flat
    price is not credited, so the period's flat price would be paid twice."""
    with _provider_answers():
        account = stripe_customer_provision(tenant=tenant)
        if not _priced(plan):
            stripe_catalog_sync()
            plan.refresh_from_db()
        if _subscribed_at_current_prices(account, plan):
            raise Refusal(
                ErrorCode.ALREADY_ON_PLAN,
                f"The workspace is already subscribed to the {plan.name} plan, paid up and at its current "
                "prices; a Checkout to it would bill its flat price a second time.",
                param="plan",
            )
        session = stripe.checkout.Session.create(
            customer=account.stripe_customer_id,
            mode="subscription",
            line_items=_subscription_items(plan),
            success_url=success_url,
            cancel_url=cancel_url,
            metadata={"tenant": tenant.public_id, "plan": plan.code},
            subscription_data={"metadata": {"tenant": tenant.public_id, "plan": plan.code}},
        )
    return session.url


def portal_session_create(*, tenant: Tenant, return_url: str) -> str:
    """A Stripe Customer Portal session for the tenant's customer; returns its URL. Refuses like
    checkout_session_create."""
    with _provider_answers():
        account = stripe_customer_provision(tenant=tenant)
        session = stripe.billing_portal.Session.create(
            customer=account.stripe_customer_id, return_url=return_url
        )
    return session.url


def webhook_event_verify(*, payload: bytes, signature: str) -> stripe.Event:
    """Raises ValueError (bad payload) or stripe.SignatureVerificationError (bad signature, a timestamp more
    than the tolerance before or after now: Stripe's library checks only the first)."""
    signed_at = next(
        (part[2:] for part in (signature or "").split(",") if part.startswith("t=") and part[2:].isdigit()),
        None,
    )
    if signed_at is not None and int(signed_at) > time.time() + settings.QUIRE_STRIPE_WEBHOOK_TOLERANCE:
        raise stripe.SignatureVerificationError(
            "the signature's timestamp is in the future", signature, payload
        )
    return stripe.Webhook.construct_event(
        payload,
        signature,
        settings.QUIRE_STRIPE_WEBHOOK_SECRET,
        tolerance=settings.QUIRE_STRIPE_WEBHOOK_TOLERANCE,
    )


def _plan_for_subscription(subscription: dict) -> Plan | None:
    """The plan whose flat price, today's or one it had before, is among the subscription's items."""
    price_ids = [
        item["price"]["id"] for item in subscription.get("items", {}).get("data", []) if item.get("price")
    ]
    if not price_ids:
        return None
    made_before = Q()
    for price_id in price_ids:
        made_before |= Q(stripe_past_flat_price_ids__contains=[price_id])
    return Plan.objects.filter(Q(stripe_flat_price_id__in=price_ids) | made_before).first()


def webhook_event_apply(*, event: dict) -> bool:
    """Apply a verified event once (by event id). Returns False for an event seen before."""
    try:
        with transaction.atomic():
            StripeEvent.objects.create(id=event["id"], type=event["type"])
            if event["type"] in HANDLED_SUBSCRIPTION_EVENTS:
                _subscription_changed(
                    event["data"]["object"],
                    event_type=event["type"],
                    event_at=datetime.fromtimestamp(event["created"], UTC),
                )
    except IntegrityError:
        return False
    return True


def _current_period_start(subscription: dict) -> datetime | None:
    """When the subscription's current period began: on the subscription before Stripe's API version
    2025-03-31, on each of its items since (the earliest is taken); None when the snapshot has neither."""
    items = subscription.get("items", {}).get("data", [])
    start = subscription.get("current_period_start") or min(
        (item["current_period_start"] for item in items if item.get("current_period_start")), default=None
    )
    return datetime.fromtimestamp(start, UTC) if start else None


def _stale_for_current(account: BillingAccount, *, event_type: str, event_at: datetime) -> bool:
    """An event about the account's own subscription that would roll it back: Stripe sends events out of
    order and retries them for days. Older than the last event applied; a `created` (the subscription's first
    state, which provisioning or an earlier event already gave the account); anything after `canceled`,
    which Stripe never leaves. Events made in the same second apply in the order they arrive."""
    if account.subscription_status == SubscriptionStatus.CANCELED:
        return True
    if event_type == "customer.subscription.created":
        return True
    return account.subscription_event_at is not None and event_at < account.subscription_event_at


def _subscription_changed(subscription: dict, *, event_type: str, event_at: datetime) -> None:
    account = (
        BillingAccount.objects.select_for_update(of=("self",))
        .filter(stripe_customer_digest=lookup_digest(subscription["customer"]))
        .select_related("plan")
        .first()
    )
    if account is None:
        logger.warning("subscription event for unknown customer %s", subscription["customer"])
        return
    if ReplacedSubscription.objects.filter(subscription_digest=lookup_digest(subscription["id"])).exists():
        logger.info("event about a replaced subscription of tenant %s ignored", account.tenant_id)
        return
    ended = event_type.endswith(".deleted") or subscription["status"] in ENDED_AT_STRIPE
    status = SubscriptionStatus.CANCELED if ended else subscription["status"]
    if status not in SubscriptionStatus.values:
        status = SubscriptionStatus.INCOMPLETE
    replaced = account.stripe_subscription_id
    if replaced == subscription["id"]:
        replaced = ""
        if _stale_for_current(account, event_type=event_type, event_at=event_at):
            logger.info("stale %s for tenant %s ignored", event_type, account.tenant_id)
            return
    elif replaced and status not in GOOD_STANDING:
        return
    moved = subscription["id"] != account.stripe_subscription_id
    account_update_subscription(
        account=account,
        status=status,
        plan=_plan_for_subscription(subscription),
        subscription_id=subscription["id"],
        event_at=event_at,
        period_start=_current_period_start(subscription) if moved else None,
    )
    if replaced:
        record, _ = ReplacedSubscription.objects.get_or_create(
            subscription_digest=lookup_digest(replaced),
            defaults={"account": account, "subscription_id": replaced},
        )
        # A broker that cannot take it is logged: beat's replaced-subscriptions sweep cancels it anyway.
        transaction.on_commit(
            lambda: current_app.send_task(SUBSCRIPTION_CANCEL_TASK, args=[record.pk]), robust=True
        )


def stripe_subscription_cancel(*, subscription_id: str) -> str:
    """Cancel a subscription the account has moved away from (after a Checkout upgrade); returns its status.
    Stripe invoices it at once for the metered usage not invoiced yet (without `invoice_now` it would drop
    that usage), and credits no unused time of its flat price."""
    _configure()
    subscription = stripe.Subscription.retrieve(subscription_id)
    if subscription.status in ENDED_AT_STRIPE:
        return subscription.status
    return stripe.Subscription.cancel(
        subscription_id, invoice_now=True, prorate=False, idempotency_key=f"cancel-{subscription_id}"
    ).status


def replaced_subscription_cancel(*, replaced: ReplacedSubscription) -> bool:
    """Cancel a replaced subscription in Stripe; True, and recorded, once Stripe reports it canceled (or no
    longer has it). The tenant's usage not pushed yet reaches the meters first, so the final invoice bills it.
    A failure is recorded on the row (attempts, last error) and raised."""
    try:
        _tenant_usage_push(replaced.account.tenant_id)
        status = stripe_subscription_cancel(subscription_id=replaced.subscription_id)
    except stripe.StripeError as exc:
        if not (isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404):
            error = f"{exc.code or type(exc).__name__}: {exc.user_message or exc}"
            ReplacedSubscription.objects.filter(pk=replaced.pk).update(
                attempts=F("attempts") + 1, last_error=error[:300]
            )
            raise
        status = SubscriptionStatus.CANCELED
    confirmed = status in ENDED_AT_STRIPE
    ReplacedSubscription.objects.filter(pk=replaced.pk).update(
        attempts=F("attempts") + 1, canceled_at=timezone.now() if confirmed else None
    )
    return confirmed


def replaced_subscriptions_cancel() -> int:
    """Beat task body: cancel in Stripe every replaced subscription it has not confirmed canceled yet, so that
    an outage when the upgrade came in does not leave the customer paying for both. Returns how many Stripe
    confirmed. A refused request is recorded and the sweep goes on; Stripe not answering stops it until the
    next run."""
    if not stripe_enabled():
        return 0
    _configure()
    confirmed = 0
    unconfirmed = ReplacedSubscription.objects.select_related("account").filter(canceled_at=None)
    for replaced in unconfirmed.order_by("replaced_at"):
        try:
            confirmed += replaced_subscription_cancel(replaced=replaced)
        except (stripe.InvalidRequestError, stripe.PermissionError):
            continue
    return confirmed
