"""Writes for webhooks: endpoints (`endpoints`), the event outbox and its sweeper (`outbox`), delivery
attempts with retries (`delivery`), disabling an endpoint and telling the tenant (`notify`), `model.changed` when the deployment's models
change (`models`)."""

from quire.webhooks.services.delivery import delivery_attempt
from quire.webhooks.services.endpoints import (
    WebhookRejected,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_secret_reveal,
    endpoint_update,
    endpoints_secrets_reencrypt,
    signing_secrets,
)
from quire.webhooks.services.models import models_announce_changes
from quire.webhooks.services.notify import endpoint_disable, endpoint_notify_disabled
from quire.webhooks.services.outbox import (
    deliveries_dispatch_due,
    endpoint_send_test,
    event_publish,
    event_replay,
    events_purge_before,
    events_purge_expired,
    events_rewrite,
)

__all__ = [
    "WebhookRejected",
    "deliveries_dispatch_due",
    "delivery_attempt",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_notify_disabled",
    "endpoint_rotate_secret",
    "endpoint_secret_reveal",
    "endpoint_send_test",
    "endpoint_update",
    "endpoints_secrets_reencrypt",
    "event_publish",
    "event_replay",
    "events_purge_before",
    "events_purge_expired",
    "events_rewrite",
    "models_announce_changes",
    "signing_secrets",
]
