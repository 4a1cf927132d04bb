"""Disabling an endpoint, and the e-mail that tells the tenant's owners and admins."""

from __future__ import annotations

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from quire.webhooks.models import (
    Delivery,
    DeliveryStatus,
    EndpointNotification,
    EndpointStatus,
    WebhookEndpoint,
)
from tenants.models import Member, Role, Tenant

logger = logging.getLogger(__name__)


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, notify_tenant: Tenant | None = None) -> None:
    """Disable the endpoint and fail its pending deliveries; with `notify_tenant`, e-mail that tenant's
    owners and admins once the transaction commits."""
    now = timezone.now()
    endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = EndpointStatus.DISABLED, reason, now
    endpoint.save(update_fields=["status", "disabled_reason", "disabled_at", "updated_at"])
    Delivery.objects.filter(
        endpoint=endpoint, status=DeliveryStatus.PENDING, lease_until__isnull=True
    ).update(status=DeliveryStatus.FAILED, last_error="endpoint_disabled")
    if notify_tenant is not None:
        endpoint_id = endpoint.pk
        transaction.on_commit(lambda: endpoint_notify_disabled(tenant=notify_tenant, endpoint_id=endpoint_id))


def endpoint_notify_disabled(*, tenant: Tenant, endpoint_id: str) -> EndpointNotification | None:
    """E-mail the tenant's owners and admins that the endpoint was disabled, and record it."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return None
    recipients = sorted(
        {
            email
            for email in Member.objects.filter(tenant=tenant, role__in=[Role.OWNER, Role.ADMIN]).values_list(
                "user__email", flat=True
            )
            if email
        }
    )
    subject = f"Quire disabled the webhook endpoint {endpoint.url}"
    body = (
        f"The webhook endpoint {endpoint.id} ({endpoint.url}) of {tenant.name} was disabled: "
        f"{endpoint.disabled_reason}.\n\nFix the receiver, then enable the endpoint again "
        f'(PATCH /v1/webhook_endpoints/{endpoint.id} with {{"enabled": true}}) and replay the events it missed '
        f"(POST /v1/events/{{id}}/replay).\n"
    )
    if recipients:
        try:
            send_mail(subject, body, None, recipients)
        except OSError:
            logger.exception("could not e-mail the tenant about endpoint %s", endpoint.id)
    return EndpointNotification.objects.create(
        endpoint=endpoint, kind="endpoint_disabled", recipients=recipients, subject=subject[:255]
    )
