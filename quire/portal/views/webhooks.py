"""Webhooks: endpoints with their event types, secret reveal and rotation, test sends, the delivery log
with replay. Admins manage endpoints and secrets; developers send tests and replay; everyone reads."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from quire.portal.access import portal_page
from quire.portal.views.common import listed, page, show_rejection
from quire.portal.webhook_forms import RotateSecretForm, WebhookEndpointForm
from quire.webhooks.models import EndpointStatus, WebhookEndpoint
from quire.webhooks.selectors import deliveries_with_attempts
from quire.webhooks.services import (
    WebhookRejected,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_secret_reveal,
    endpoint_send_test,
    endpoint_update,
    event_replay,
)
from tenants.models import Role

DELIVERY_LOG_SIZE = 50
PAGE_SIZE = 100


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page(write=Role.ADMIN)
def webhook_list(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        added = f"Added {form.cleaned_data['url']}. Reveal its signing secret on its page."
        saved = _save(request, form, endpoint_create, added)
        if saved is not None:
            return saved
    shown = listed(request, WebhookEndpoint.objects.order_by("-created_at", "-pk"), PAGE_SIZE)
    return page(
        request,
        "portal/webhooks.html",
        {**shown, "form": form, "endpoints": shown["listing"].object_list},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page(write=Role.ADMIN)
def webhook_detail(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    data = request.POST if request.method == "POST" else None
    form = WebhookEndpointForm(data, initial=_initial(endpoint), editing=True)
    if request.method == "POST" and form.is_valid():
        update = partial(endpoint_update, endpoint=endpoint, disabled_reason="disabled in the portal")
        saved = _save(request, form, update, "Saved.")
        if saved is not None:
            return saved
    return _detail_page(request, endpoint, form)


def _save(
    request: HttpRequest, form: WebhookEndpointForm, save: Callable[..., WebhookEndpoint], success: str
) -> HttpResponse | None:
    """`save(**form.cleaned_data)`, then the endpoint's page with `success`; None, with the refusal on the
    form, when the service refuses."""
    try:
        endpoint = save(**form.cleaned_data)
    except WebhookRejected as exc:
        show_rejection(form, exc)
        return None
    messages.success(request, success)
    return redirect("portal:webhook", endpoint_id=endpoint.id)


def _detail_page(
    request: HttpRequest, endpoint: WebhookEndpoint, form: WebhookEndpointForm, revealed: bool = False
) -> HttpResponse:
    deliveries = deliveries_with_attempts(endpoint_id=endpoint.id).order_by("-created_at")[:DELIVERY_LOG_SIZE]
    context = {
        "endpoint": endpoint,
        "form": form,
        "rotate_form": RotateSecretForm(),
        "deliveries": deliveries,
        "revealed": revealed,
    }
    return page(request, "portal/webhook.html", context, status=400 if form.errors else 200)


def _initial(endpoint: WebhookEndpoint) -> dict:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.status == EndpointStatus.ENABLED,
    }


@require_POST
@portal_page(write=Role.ADMIN)
def webhook_secret(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    """The signing secret with a copy button: an htmx fragment, or the endpoint's page showing it."""
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    endpoint_secret_reveal(endpoint=endpoint)
    if request.htmx:
        response = page(request, "portal/partials/webhook_secret.html", {"endpoint": endpoint})
    else:
        form = WebhookEndpointForm(initial=_initial(endpoint), editing=True)
        response = _detail_page(request, endpoint, form, revealed=True)
    response["Cache-Control"] = "no-store"
    return response


def _back_to_endpoint(
    request: HttpRequest, endpoint: WebhookEndpoint, action: Callable[[], object], success: str
) -> HttpResponse:
    """Run one service for the endpoint's page, show its refusal or `success`, and go back to the page."""
    try:
        action()
    except WebhookRejected as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return redirect("portal:webhook", endpoint_id=endpoint.id)


@require_POST
@portal_page(write=Role.ADMIN)
def webhook_rotate(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick how long the old secret keeps signing.")
        return redirect("portal:webhook", endpoint_id=endpoint.id)
    return _back_to_endpoint(
        request,
        endpoint,
        lambda: endpoint_rotate_secret(
            endpoint=endpoint, grace_seconds=int(form.cleaned_data["grace_seconds"])
        ),
        "Rotated the signing secret. Reveal the new one to update your receiver.",
    )


@require_POST
@portal_page(write=Role.ADMIN)
def webhook_delete(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Deleted the endpoint {endpoint.url}.")
    return redirect("portal:webhooks")


@require_POST
@portal_page()
def webhook_test(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    return _back_to_endpoint(
        request, endpoint, lambda: endpoint_send_test(endpoint=endpoint), "Queued a webhook.test event."
    )


@require_POST
@portal_page()
def webhook_replay(request: HttpRequest, endpoint_id: str, delivery_id: str) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id)
    delivery = get_object_or_404(deliveries_with_attempts(endpoint_id=endpoint.id), pk=delivery_id)
    return _back_to_endpoint(
        request,
        endpoint,
        lambda: event_replay(event=delivery.event, endpoint=endpoint),
        f"Queued {delivery.event.type} ({delivery.event_id}) again.",
    )
