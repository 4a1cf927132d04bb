"""Writes and questions for the rest of the platform: may this tenant run this job, record this usage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP

from django.db import connection, transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

from billing.entitlements import (
    TOKEN_KINDS,
    account_for,
    billed_plan,
    current_period,
    entitlements_for,
    token_unit_amounts,
)
from billing.models import (
    BillingAccount,
    MeterBatch,
    Plan,
    ReplacedSubscription,
    SubscriptionStatus,
    UsageEvent,
    UsageKind,
    UsageThreshold,
)
from common.refusals import ErrorCode, Refusal
from tenants.audit import audit_record
from tenants.crypto import rows_reencrypt
from tenants.models import Tenant

BILLABLE_KIND = UsageKind.PAGES
METERED_KINDS = (BILLABLE_KIND, *TOKEN_KINDS)
CHARS_PER_PAGE = 3000
# Shares of the included pages whose reaching is recorded once a billing period (`usage_thresholds_record`).
USAGE_THRESHOLDS = (80, 100)


class QuotaExceeded(Refusal):
    """The job would go past what the tenant's plan allows."""


def billable_pages(*, page_count: int, char_count: int) -> int:
    """A document's pages: its page map when it has one, else one page per 3,000 characters; at least 1."""
    if page_count < 0 or char_count < 0:
        raise ValueError("page and character counts must be >= 0")
    return max(1, page_count or -(-char_count // CHARS_PER_PAGE))


def job_usage_quantities(
    *,
    documents: list[tuple[int, int]],
    tokens_in: int = 0,
    cached_tokens: int = 0,
    tokens_out: int = 0,
    review_cells: int | None = None,
) -> dict[str, int]:
    """Usage of one job from its documents' (page count, character count) and, when a model read them, the
    tokens the inference server reported: input not served from its prefix cache, cached input, output. A
    review is metered by the document x column cells it computed (`review_cells`, reused cells excluded)
    instead of by pages."""
    quantities = {
        UsageKind.JOB: 1,
        UsageKind.PAGES: sum(billable_pages(page_count=p, char_count=c) for p, c in documents),
    }
    if tokens_in or tokens_out:
        cached = min(cached_tokens, tokens_in)
        quantities[UsageKind.TOKENS_IN] = tokens_in - cached
        quantities[UsageKind.TOKENS_CACHED_IN] = cached
        quantities[UsageKind.TOKENS_OUT] = tokens_out
    if review_cells is not None:
        del quantities[UsageKind.PAGES]
        quantities[UsageKind.REVIEW_CELLS] = review_cells
    return quantities


def review_cells(*, documents: int, columns: int, reused: int = 0) -> int:
    """The cells a review is metered by, and checked against its quota by: documents x columns, less the
    cells it reuses from the review it extends."""
    if documents < 0 or columns < 0 or reused < 0:
        raise ValueError("documents, columns and reused cells must be >= 0")
    return max(0, documents * columns - reused)


def period_units_used(tenant: Tenant, since: datetime, kind: str = BILLABLE_KIND) -> int:
    used = UsageEvent.objects.filter(tenant=tenant, kind=kind, occurred_at__gte=since).aggregate(
        total=Sum("quantity")
    )["total"]
    return int(used or 0)


_QUOTA_NAMES = {UsageKind.PAGES: "pages", UsageKind.REVIEW_CELLS: "review cells"}


def usage_thresholds_record(*, tenant: Tenant, quantities: dict[str, int]) -> list[UsageThreshold]:
    """The shares (`USAGE_THRESHOLDS`) of the effective plan's included pages that the tenant's usage this
    period has reached and that were not recorded yet for this period and number of included pages, each
    recorded now and returned, lowest first. Call it after `usage_record` of `quantities`, in its transaction:
    usage without pages reaches nothing. The account's row is locked while the period's usage is counted: of
    two transactions whose usage reaches a threshold together, the second waits for the first, counts its
    pages too, and records the threshold (or finds it recorded)."""
    if not quantities.get(UsageKind.PAGES):
        return []
    entitled = entitlements_for(tenant)
    included = entitled.included_units
    if included <= 0:
        return []
    with transaction.atomic():
        locked = (
            BillingAccount.objects.select_for_update()
            .filter(tenant=tenant)
            .values_list("period_start", flat=True)
        )
        anchor = locked.first()
        if anchor is None:
            account_for(tenant)
            anchor = locked.get()
        start, end = current_period(anchor)
        used = period_units_used(tenant, start)
        key = {"tenant": tenant, "kind": UsageKind.PAGES, "included": included, "period_start": start}
        due = [p for p in USAGE_THRESHOLDS if used * 100 >= p * included]
        recorded = set(
            UsageThreshold.objects.filter(**key, percent__in=due).values_list("percent", flat=True)
        )
        reached = []
        for percent in (p for p in due if p not in recorded):
            threshold, created = UsageThreshold.objects.get_or_create(
                **key,
                percent=percent,
                defaults={
                    "period_end": end,
                    "plan_code": entitled.plan_code,
                    "used": used,
                    "reached_at": timezone.now(),
                },
            )
            if created:
                reached.append(threshold)
        return reached


def job_allowed(
    *, tenant: Tenant, connector: str, quantities: dict[str, int], reserved: dict[str, int] | None = None
) -> None:
    """Raise QuotaExceeded when the tenant's effective plan refuses a job that will record `quantities`
    (`job_usage_quantities`: pages, or a review's cells), with `reserved` of each kind already promised to
    its queued and running jobs. On a hard-limit plan pages count against the included units and review
    cells against `max_review_cells`, each with its period's usage of that kind."""
    reserved = reserved or {}
    if any(q < 0 for q in (*quantities.values(), *reserved.values())):
        raise ValueError(f"quantities must be >= 0, got {quantities} and {reserved} reserved")
    entitled = entitlements_for(tenant)
    if not entitled.allows_connector(connector):
        raise QuotaExceeded(
            ErrorCode.CONNECTOR_NOT_IN_PLAN,
            f"The {entitled.plan_code} plan does not include the {connector} connector; upgrade to use it.",
            "connector",
        )
    if not entitled.hard_limit:
        return
    start, _ = current_period(account_for(tenant).period_start)
    limits = {UsageKind.PAGES: entitled.included_units, UsageKind.REVIEW_CELLS: entitled.max_review_cells}
    for kind, limit in limits.items():
        wanted = quantities.get(kind)
        if wanted is None:
            continue
        used = period_units_used(tenant, start, kind) + reserved.get(kind, 0)
        if used + wanted > limit:
            name = _QUOTA_NAMES[kind]
            raise QuotaExceeded(
                ErrorCode.QUOTA_EXCEEDED,
                f"This job needs {wanted} {name}; {used} of the {limit} {name} included in the "
                f"{entitled.plan_code} plan this period are used or held by unfinished jobs. Upgrade for more.",
            )


def _usage_key(tenant: Tenant, job_id: str, kind: str) -> str:
    """A ledger row's idempotency key: one row per tenant, job and kind."""
    return f"{tenant.pk}:{job_id}:{kind}"


def usage_record(
    *, tenant: Tenant, job_id: str, quantities: dict[str, int], occurred_at: datetime | None = None
) -> int:
    """Append the job's usage to the ledger, one row per kind; a second call for the same job adds nothing.

    Call it inside the transaction that saves the job's result, so that both exist or neither does.
    Returns the number of rows written."""
    if not job_id:
        raise ValueError("usage needs the job id it belongs to")
    occurred_at = occurred_at or timezone.now()
    rows = []
    for kind, quantity in quantities.items():
        if kind not in UsageKind.values:
            raise ValueError(f"unknown usage kind {kind!r}; known: {', '.join(UsageKind.values)}")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ValueError(f"usage quantity for {kind} must be a non-negative integer, got {quantity!r}")
        rows.append((tenant.pk, kind, quantity, job_id, _usage_key(tenant, job_id, kind), occurred_at))
    if not rows:
        return 0
    placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {UsageEvent._meta.db_table} "
            "(tenant_id, kind, quantity, job_id, idempotency_key, occurred_at) "
            f"VALUES {placeholders} ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [value for row in rows for value in row],
        )
        return len(cursor.fetchall())


def usage_for_job(*, tenant: Tenant, job_id: str) -> dict[str, int]:
    """What the ledger metered for one job, per kind in `UsageKind`'s order (empty until the job succeeded): one
    lookup per kind in the idempotency keys' unique index."""
    keys = [_usage_key(tenant, job_id, kind) for kind in UsageKind.values]
    rows = dict(UsageEvent.objects.filter(idempotency_key__in=keys).values_list("kind", "quantity"))
    return {kind: int(rows[kind]) for kind in UsageKind.values if kind in rows}


def usage_summary(*, tenant: Tenant, start: datetime, end: datetime, group_by: str) -> list[dict]:
    """Ledger totals in [start, end): per UTC day and kind (`day`) or per kind (`kind`)."""
    if start >= end:
        raise ValueError("`from` must be before `to`")
    events = UsageEvent.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
    if group_by == "kind":
        rows = events.values("kind").annotate(quantity=Sum("quantity")).order_by("kind")
        return [{"kind": r["kind"], "quantity": int(r["quantity"])} for r in rows]
    if group_by == "day":
        from django.db.models.functions import TruncDate

        rows = (
            events.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
            .values("day", "kind")
            .annotate(quantity=Sum("quantity"))
            .order_by("day", "kind")
        )
        return [
            {"day": r["day"].isoformat(), "kind": r["kind"], "quantity": int(r["quantity"])} for r in rows
        ]
    raise ValueError(f"group_by must be day or kind, got {group_by!r}")


def upcoming_invoice(*, tenant: Tenant, now: datetime | None = None) -> dict:
    """The invoice the current period would produce so far: flat price, pages past the included ones, review
    cells, and input, cached input and output tokens at the plan's token prices (each token line rounded to
    the minor unit, as Stripe rounds a metered line), all at the plan the account is billed at."""
    account = account_for(tenant)
    plan = billed_plan(account)
    start, end = current_period(account.period_start, now)
    used = period_units_used(tenant, start)
    overage = max(0, used - plan.included_units)
    totals = dict(
        UsageEvent.objects.filter(
            tenant=tenant, kind__in=[UsageKind.REVIEW_CELLS, *TOKEN_KINDS], occurred_at__gte=start
        )
        .values("kind")
        .annotate(total=Sum("quantity"))
        .values_list("kind", "total")
    )
    lines = [
        {
            "description": f"{plan.name} plan, monthly",
            "quantity": 1,
            "unit_amount": plan.monthly_price,
            "amount": plan.monthly_price,
        },
        {
            "description": f"Pages past the {plan.included_units:,} included",
            "quantity": overage,
            "unit_amount": plan.overage_unit_price,
            "amount": overage * plan.overage_unit_price,
        },
    ]
    cells = int(totals.get(UsageKind.REVIEW_CELLS) or 0)
    if cells:
        lines.append(
            {
                "description": "Review cells (document x column), per 1,000",
                "quantity": cells,
                "unit_amount": plan.review_cell_price,
                "amount": -(-cells * plan.review_cell_price // 1000),
            }
        )
    for kind, unit in token_unit_amounts(plan).items():
        tokens = int(totals.get(kind) or 0)
        if tokens:
            lines.append(
                {
                    "description": f"{UsageKind(kind).label}, per 1,000,000",
                    "quantity": tokens,
                    "unit_amount": int((unit * 1_000_000).to_integral_value(ROUND_HALF_UP)),
                    "unit_amount_decimal": f"{unit.normalize():f}",
                    "amount": int((tokens * unit).to_integral_value(ROUND_HALF_UP)),
                }
            )
    total = sum(line["amount"] for line in lines)
    return {
        "object": "invoice_preview",
        "plan": plan.code,
        "subscription_status": account.subscription_status,
        "currency": plan.currency,
        "period_start": start,
        "period_end": end,
        "units_used": used,
        "units_included": plan.included_units,
        "lines": lines,
        "subtotal": total,
        "total": total,
    }


def meter_refusals(*, tenant: Tenant) -> dict | None:
    """Usage Stripe keeps refusing for `tenant`: unsent batches with a refusal, the units they hold per kind,
    the first refusal's time and the latest refusal; None when there is none."""
    refused = MeterBatch.objects.filter(tenant=tenant, sent_at=None, refused_at__isnull=False)
    latest = refused.order_by("-refused_at").first()
    if latest is None:
        return None
    by_kind = refused.values("kind").annotate(
        units=Sum("units"), batches=Count("pk"), since=Min("created_at")
    )
    return {
        "batches": sum(row["batches"] for row in by_kind),
        "units": {row["kind"]: row["units"] for row in by_kind},
        "since": min(row["since"] for row in by_kind),
        "latest": latest.refusal,
        "latest_at": latest.refused_at,
    }


def account_update_subscription(
    *,
    account: BillingAccount,
    status: str,
    plan: Plan | None = None,
    subscription_id: str | None = None,
    event_at: datetime | None = None,
    period_start: datetime | None = None,
) -> BillingAccount:
    """Record the subscription's status (and its plan and id when given) on the account, as Stripe reports it,
    and when given the time of the Stripe event that reported it and the start of the subscription's period,
    which anchors the account's monthly periods."""
    if status not in SubscriptionStatus.values:
        raise ValueError(f"unknown subscription status {status!r}")
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        account.subscription_status = status
        if plan is not None and plan.pk != account.plan_id:
            audit_record(
                tenant=account.tenant,
                action="billing.plan_change",
                object_type="plan",
                object_id=plan.code,
                details={"from": account.plan.code, "to": plan.code, "status": status},
            )
        if plan is not None:
            account.plan = plan
        if subscription_id is not None:
            account.stripe_subscription_id = subscription_id
        if event_at is not None:
            account.subscription_event_at = event_at
        if period_start is not None:
            account.period_start = period_start
        account.save()
    return account


def billing_erase(*, tenant: Tenant) -> int:
    """Delete the tenant's usage ledger, meter batches and the usage thresholds it reached (erasing the tenant;
    its billing account goes with the tenant row). Returns how many usage rows went."""
    with transaction.atomic():
        deleted, _ = UsageEvent.objects.filter(tenant=tenant).delete()
        MeterBatch.objects.filter(tenant=tenant).delete()
        UsageThreshold.objects.filter(tenant=tenant).delete()
    return deleted


def billing_secrets_reencrypt() -> int:
    """Write every account's Stripe ids again, and the ids of the subscriptions they replaced, so they are
    encrypted under the first key of `QUIRE_ENCRYPTION_KEYS` (a key rotation, `rows_reencrypt`); returns how
    many accounts."""
    accounts = BillingAccount.objects.exclude(stripe_customer_id="", stripe_subscription_id="")
    count = rows_reencrypt(accounts, ("stripe_customer_id", "stripe_subscription_id"))
    rows_reencrypt(ReplacedSubscription.objects.all(), ("subscription_id",))
    return count
