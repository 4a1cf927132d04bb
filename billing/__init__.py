"""Plans, entitlements, the usage ledger and Stripe subscriptions with metered usage.

The platform asks two questions through plain functions: `billing.services.job_allowed` /
`billing.entitlements.entitlements_for` ("may this tenant do this?") and `billing.services.usage_record`
("record this usage"), then `billing.services.usage_thresholds_record` (which shares of the included pages that
usage reached).
"""
