"""Plans (data), a billing account per tenant, the append-only usage ledger, meter batches, Stripe events."""

from __future__ import annotations

from functools import partial

from django.db import models

from tenants.crypto import EncryptedTextField
from tenants.identifiers import new_id
from tenants.models import Tenant


class Plan(models.Model):
    """What a tenant may do and what it pays. Money in minor units of `currency`."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, default="usd")
    monthly_price = models.PositiveIntegerField(help_text="flat monthly price, minor units")
    included_units = models.PositiveBigIntegerField(help_text="billable units included each period")
    overage_unit_price = models.PositiveIntegerField(
        help_text="price per unit past the included ones, minor units"
    )
    review_cell_price = models.PositiveIntegerField(
        default=0, help_text="price per 1,000 review cells (document x column), minor units"
    )
    max_review_cells = models.PositiveBigIntegerField(
        default=0, help_text="review cells (document x column) a hard-limit plan allows each period"
    )
    hard_limit = models.BooleanField(default=False, help_text="refuse jobs past the included units (402)")
    connectors_allowed = models.JSONField(default=list, help_text="connector names; empty means all")
    max_document_bytes = models.PositiveBigIntegerField()
    max_context_tokens = models.PositiveIntegerField()
    max_ocr_pages = models.PositiveIntegerField(default=500, help_text="pages OCR'd per document")
    api_rate = models.CharField(max_length=20, help_text="requests per tenant, e.g. 600/min")
    api_key_rate = models.CharField(max_length=20, help_text="requests per API key, e.g. 300/min")
    seats = models.PositiveIntegerField()
    input_token_price = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="per million uncached input tokens, major units; blank: QUIRE_TOKEN_PRICES",
    )
    cached_input_token_price = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="per million input tokens served from the prefix cache; blank: QUIRE_TOKEN_PRICES",
    )
    output_token_price = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="per million output tokens; blank: QUIRE_TOKEN_PRICES",
    )
    is_default = models.BooleanField(default=False, help_text="the plan of new tenants and of lapsed ones")
    stripe_product_id = models.CharField(max_length=64, blank=True)
    stripe_flat_price_id = models.CharField(max_length=64, blank=True)
    stripe_flat_price_terms = models.JSONField(
        default=dict, blank=True, help_text="the monthly price and currency the flat price was made at"
    )
    stripe_past_flat_price_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="the flat prices the plan had before, which subscriptions made then still bill",
    )
    stripe_metered_price_id = models.CharField(max_length=64, blank=True)
    stripe_metered_price_terms = models.JSONField(
        default=dict,
        blank=True,
        help_text="the currency, included units and overage unit price the metered page price was made at",
    )
    stripe_token_price_ids = models.JSONField(
        default=dict,
        blank=True,
        help_text="per token usage kind: its metered Stripe price and the amount per token and currency it "
        "was made at",
    )

    class Meta:
        ordering = ["monthly_price", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="billing_one_default_plan",
                violation_error_message="Another plan is already the default; unmark it first.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    NONE = "none", "No subscription"
    INCOMPLETE = "incomplete", "Incomplete"
    TRIALING = "trialing", "Trialing"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    UNPAID = "unpaid", "Unpaid"
    CANCELED = "canceled", "Canceled"


GOOD_STANDING = {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}


class BillingAccount(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing_account")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="accounts")
    subscription_status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.NONE
    )
    stripe_customer_id = EncryptedTextField(blank=True)
    stripe_customer_digest = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_subscription_id = EncryptedTextField(blank=True)
    subscription_event_at = models.DateTimeField(
        null=True, blank=True, help_text="when Stripe made the last subscription event applied to the account"
    )
    period_start = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.plan.code} ({self.subscription_status})"


class ReplacedSubscription(models.Model):
    """A Stripe subscription an account moved away from (to the one a Checkout upgrade made). Events about it
    are ignored from then on, and it is canceled in Stripe, again at each sweep, until Stripe confirms."""

    account = models.ForeignKey(
        BillingAccount, on_delete=models.CASCADE, related_name="replaced_subscriptions"
    )
    subscription_id = EncryptedTextField()
    subscription_digest = models.CharField(max_length=64, unique=True)
    replaced_at = models.DateTimeField(auto_now_add=True)
    canceled_at = models.DateTimeField(null=True, blank=True, help_text="when Stripe confirmed it canceled")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["replaced_at"], name="replaced_sub_uncanceled", condition=models.Q(canceled_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} replaced {self.replaced_at:%Y-%m-%d %H:%M}"


class UsageKind(models.TextChoices):
    TOKENS_IN = "tokens_in", "Input tokens"
    TOKENS_CACHED_IN = "tokens_cached_in", "Cached input tokens"
    TOKENS_OUT = "tokens_out", "Output tokens"
    PAGES = "pages", "Pages"
    JOB = "job", "Jobs"
    REVIEW_CELLS = "review_cells", "Review cells (document x column)"


class MeterBatch(models.Model):
    """Ledger events of one tenant, kind and billing period aggregated for one meter event; its id is the
    meter event's `identifier`."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "mtr"), editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="meter_batches")
    kind = models.CharField(max_length=16, choices=UsageKind.choices, default=UsageKind.PAGES)
    units = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text="when its latest event happened: the meter event's timestamp"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    # Stripe's last refusal of this batch (its error code and message), and when; kept after a later send.
    refused_at = models.DateTimeField(null=True, blank=True)
    refusal = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["sent_at"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.units} units)"


class UsageEvent(models.Model):
    """Append-only: one row per (job, kind), written in the job result's transaction."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="usage_events")
    kind = models.CharField(max_length=16, choices=UsageKind.choices)
    quantity = models.PositiveBigIntegerField()
    job_id = models.CharField(max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    occurred_at = models.DateTimeField()
    meter_batch = models.ForeignKey(
        MeterBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "occurred_at"]),
            models.Index(
                fields=["meter_batch"], name="usage_unbatched", condition=models.Q(meter_batch=None)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.quantity}"


class UsageThreshold(models.Model):
    """A share (`percent`) of the plan's `included` units of `kind` that the tenant's usage reached in the billing
    period starting at `period_start`: recorded once for each, when the usage that reached it was recorded."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_thresholds")
    kind = models.CharField(max_length=16, choices=UsageKind.choices)
    percent = models.PositiveSmallIntegerField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    plan_code = models.CharField(max_length=40)
    included = models.PositiveBigIntegerField()
    used = models.PositiveBigIntegerField(
        help_text="the period's usage of `kind` when the threshold was reached"
    )
    reached_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "percent", "included", "period_start"],
                name="usage_threshold_once_a_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.percent}% from {self.period_start:%Y-%m-%d}"


class StripeEvent(models.Model):
    """Webhook events already applied, by Stripe event id."""

    id = models.CharField(primary_key=True, max_length=80)
    type = models.CharField(max_length=80)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
