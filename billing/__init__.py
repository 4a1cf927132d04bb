"""Plans, entitlements, the usage ledger and Stripe subscriptions with metered usage.

The platform asks two questions through plain functions: `billing.api.job_allowed` / `entitlements_for`
("may this tenant do this?") and `billing.api.usage_record` ("record this usage").
"""
