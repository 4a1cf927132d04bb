"""Which plan a tenant's requests are held to: the subscribed plan in good standing, else the default plan."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from billing.models import GOOD_STANDING, BillingAccount, Plan, SubscriptionStatus, UsageKind
from tenants.models import Tenant

CACHE_SECONDS = 60
# Each process also keeps a tenant's entitlements this long, so the API's per-request rate-limit check reads
# no cache server; a plan change reaches the other processes after at most this.
LOCAL_SECONDS = 1.0
TOKEN_KINDS = (UsageKind.TOKENS_IN, UsageKind.TOKENS_CACHED_IN, UsageKind.TOKENS_OUT)
_local: dict[int, tuple[float, Entitlements]] = {}
ZERO_DECIMAL_CURRENCIES = frozenset(
    (
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    )
)
THREE_DECIMAL_CURRENCIES = frozenset(("bhd", "jod", "kwd", "omr", "tnd"))


@dataclass(frozen=True)
class Entitlements:
    """What the effective plan allows; `token_prices` and `currency` are the billed plan's, the prices the
    tenant's usage is invoiced at."""

    plan_code: str
    subscribed_plan_code: str
    subscription_status: str
    connectors_allowed: tuple[str, ...]
    max_document_bytes: int
    max_context_tokens: int
    included_units: int
    hard_limit: bool
    api_rate: str
    api_key_rate: str
    seats: int
    max_ocr_pages: int = 500
    max_review_cells: int = 0
    token_prices: tuple[float, float, float] = (0.0, 0.0, 0.0)
    currency: str = "usd"

    def allows_connector(self, connector: str) -> bool:
        return not self.connectors_allowed or connector in self.connectors_allowed


def _cache_key(tenant_id: int) -> str:
    return f"billing:entitlements:{tenant_id}"


def default_plan() -> Plan:
    plan = Plan.objects.filter(is_default=True).first()
    if plan is None:
        raise LookupError("no default plan: mark one plan is_default in the admin")
    return plan


def account_for(tenant: Tenant) -> BillingAccount:
    """The tenant's billing account, created on the default plan the first time it is asked for."""
    account = BillingAccount.objects.select_related("plan").filter(tenant=tenant).first()
    if account is None:
        account, _ = BillingAccount.objects.select_related("plan").get_or_create(
            tenant=tenant, defaults={"plan": default_plan(), "period_start": timezone.now()}
        )
    return account


def effective_plan(account: BillingAccount) -> Plan:
    """A subscription that is past due, unpaid, incomplete or canceled falls back to the default plan."""
    if account.subscription_status in GOOD_STANDING or account.subscription_status == SubscriptionStatus.NONE:
        return account.plan
    return default_plan()


def billed_plan(account: BillingAccount) -> Plan:
    """The plan the account's usage is priced at, as Stripe invoices it: the subscribed plan while its
    subscription still bills (past due, unpaid or incomplete too), the effective plan once Stripe ended it."""
    if account.subscription_status == SubscriptionStatus.CANCELED:
        return effective_plan(account)
    return account.plan


def entitlements_for(tenant: Tenant) -> Entitlements:
    now = time.monotonic()
    local = _local.get(tenant.pk)
    if local is not None and now - local[0] < LOCAL_SECONDS:
        return local[1]
    result = _shared_entitlements(tenant)
    _local[tenant.pk] = (now, result)
    return result


def _shared_entitlements(tenant: Tenant) -> Entitlements:
    cached = cache.get(_cache_key(tenant.pk))
    if cached is not None:
        return cached
    account = account_for(tenant)
    plan, billed = effective_plan(account), billed_plan(account)
    result = Entitlements(
        plan_code=plan.code,
        subscribed_plan_code=account.plan.code,
        subscription_status=account.subscription_status,
        connectors_allowed=tuple(plan.connectors_allowed),
        max_document_bytes=plan.max_document_bytes,
        max_context_tokens=plan.max_context_tokens,
        included_units=plan.included_units,
        hard_limit=plan.hard_limit,
        api_rate=plan.api_rate,
        api_key_rate=plan.api_key_rate,
        seats=plan.seats,
        max_ocr_pages=plan.max_ocr_pages,
        max_review_cells=plan.max_review_cells,
        token_prices=token_prices(billed),
        currency=billed.currency,
    )
    cache.set(_cache_key(tenant.pk), result, CACHE_SECONDS)
    return result


def token_prices(plan: Plan) -> tuple[float, float, float]:
    """The plan's prices per million input, cached input and output tokens; a blank one is the
    `QUIRE_TOKEN_PRICES` default."""
    defaults = settings.QUIRE_TOKEN_PRICES
    prices = (plan.input_token_price, plan.cached_input_token_price, plan.output_token_price)
    return tuple(  # type: ignore[return-value]
        float(default if price is None else price) for price, default in zip(prices, defaults, strict=True)
    )


def entitlements_forget(tenant_id: int) -> None:
    cache.delete(_cache_key(tenant_id))
    _local.pop(tenant_id, None)


def entitlements_forget_all() -> None:
    """After a plan changes: every account may be on it, or fall back to it."""
    tenant_ids = BillingAccount.objects.values_list("tenant_id", flat=True)
    cache.delete_many([_cache_key(tenant_id) for tenant_id in tenant_ids])
    _local.clear()


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def current_period(anchor: datetime, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The monthly billing period, anchored at `anchor`, that contains `now`."""
    now = now or timezone.now()
    if now < anchor:
        return anchor, _add_months(anchor, 1)
    months = (now.year - anchor.year) * 12 + now.month - anchor.month
    start = _add_months(anchor, months)
    if start > now:
        months -= 1
        start = _add_months(anchor, months)
    return start, _add_months(anchor, months + 1)


def minor_units(currency: str) -> int:
    """Minor units in one major unit of `currency`, as Stripe counts them: 1 for its zero-decimal currencies
    (JPY, KRW, ...), 1,000 for its three-decimal ones (BHD, KWD, ...), else 100."""
    code = currency.lower()
    return 1 if code in ZERO_DECIMAL_CURRENCIES else 1_000 if code in THREE_DECIMAL_CURRENCIES else 100


def money_text(amount: int, currency: str) -> str:
    """Integer minor units as an amount with its currency code, in the currency's own decimals (`minor_units`):
    12345, "usd" → "123.45 USD"; 12345, "jpy" → "12,345 JPY"."""
    minor = minor_units(currency)
    decimals = len(str(minor)) - 1
    return f"{int(amount) / minor:,.{decimals}f} {currency.upper()}"


def token_unit_amounts(plan: Plan) -> dict[str, Decimal]:
    """The price of one token of each token usage kind in minor units of the plan's currency (the price per
    million in major units times `minor_units`, over a million), as Stripe's `unit_amount_decimal` takes it."""
    minor = minor_units(plan.currency)
    return {
        kind: Decimal(str(price)) * minor / 1_000_000
        for kind, price in zip(TOKEN_KINDS, token_prices(plan), strict=True)
    }
