from django.contrib import admin

from billing.models import BillingAccount, MeterBatch, Plan, ReplacedSubscription, StripeEvent, UsageEvent


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "currency",
        "monthly_price",
        "included_units",
        "overage_unit_price",
        "input_token_price",
        "cached_input_token_price",
        "output_token_price",
        "is_default",
    )
    readonly_fields = (
        "stripe_product_id",
        "stripe_flat_price_id",
        "stripe_flat_price_terms",
        "stripe_past_flat_price_ids",
        "stripe_metered_price_id",
        "stripe_metered_price_terms",
        "stripe_token_price_ids",
    )


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    """The Stripe ids are written by provisioning and webhooks only: the customer is found by its digest, which
    an edit here would leave pointing at the old customer."""

    list_display = ("tenant", "plan", "subscription_status", "stripe_customer_id", "period_start")
    list_filter = ("subscription_status", "plan")
    search_fields = ("tenant__slug",)
    readonly_fields = (
        "stripe_customer_id",
        "stripe_customer_digest",
        "stripe_subscription_id",
        "subscription_event_at",
    )


@admin.register(UsageEvent)
class UsageEventAdmin(admin.ModelAdmin):
    list_display = ("tenant", "kind", "quantity", "job_id", "occurred_at", "meter_batch")
    list_filter = ("kind",)
    search_fields = ("job_id",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MeterBatch)
class MeterBatchAdmin(admin.ModelAdmin):
    list_display = ("id", "tenant", "units", "created_at", "sent_at")


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "received_at")


@admin.register(ReplacedSubscription)
class ReplacedSubscriptionAdmin(admin.ModelAdmin):
    """Subscriptions accounts moved away from; one without `canceled_at` is still to be canceled in Stripe (beat
    tries again), and `last_error` says what Stripe answered last."""

    list_display = ("account", "replaced_at", "canceled_at", "attempts", "last_error")
    list_filter = (("canceled_at", admin.EmptyFieldListFilter),)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
