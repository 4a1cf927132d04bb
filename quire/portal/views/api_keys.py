"""API keys: issue, list with last use and API version, move a key to the current version, revoke. A new
key's secret goes through the session, encrypted (`tenants.crypto`: the session row is signed, not secret), to the
page the POST redirects to and is shown there once, so reloading that page neither shows it again nor issues a
second key."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from common.refusals import Refusal
from quire.portal.access import portal_page
from quire.portal.forms import ApiKeyForm
from quire.portal.views.common import listed, page, show_rejection
from tenants.crypto import decrypt, encrypt
from tenants.models import ApiKey, Role
from tenants.services import api_key_issue, api_key_revoke, api_key_update

ISSUED_SESSION_KEY = "portal_issued_api_key"
PAGE_SIZE = 100


def _issued(handed_over: dict | None) -> dict | None:
    """The new key's name and secret from what the POST left in the session; None when there is none, or when
    its secret no longer decrypts (an encryption key dropped meanwhile)."""
    if handed_over is None:
        return None
    try:
        return {**handed_over, "secret": decrypt(handed_over["secret"])}
    except ValueError:
        return None


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page(read=Role.ADMIN, write=Role.ADMIN)
def api_key_list(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_key_issue(
                tenant=request.tenant,
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                created_by=request.member,
            )
        except Refusal as exc:
            show_rejection(form, exc)
        else:
            request.session[ISSUED_SESSION_KEY] = {
                "name": issued.api_key.name,
                "secret": encrypt(issued.secret),
            }
            return redirect("portal:api_keys")
    issued = _issued(request.session.pop(ISSUED_SESSION_KEY, None)) if request.method == "GET" else None
    keys = (
        ApiKey.objects.filter(tenant=request.tenant)
        .select_related("created_by__user")
        .order_by("-created_at", "-pk")
    )
    shown = listed(request, keys, PAGE_SIZE)
    response = page(
        request,
        "portal/api_keys.html",
        {
            **shown,
            "form": form,
            "keys": shown["listing"].object_list,
            "issued": issued,
            "current_version": settings.QUIRE_API_VERSIONS[-1],
        },
        status=400 if form.errors else 200,
    )
    if issued is not None:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@portal_page(read=Role.ADMIN, write=Role.ADMIN)
def api_key_revoke_view(request: HttpRequest, key_id: str) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, pk=key_id, tenant=request.tenant)
    if api_key.revoked_at is not None:
        messages.info(request, f"{api_key.name} ({api_key.display_prefix}…) was already revoked.")
        return redirect("portal:api_keys")
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Revoked {api_key.name} ({api_key.display_prefix}…).")
    return redirect("portal:api_keys")


@require_POST
@portal_page(read=Role.ADMIN, write=Role.ADMIN)
def api_key_version_view(request: HttpRequest, key_id: str) -> HttpResponse:
    """Move a key to the API version posted (the current one, from the list): its requests get that version's
    answers from now on."""
    api_key = get_object_or_404(ApiKey, pk=key_id, tenant=request.tenant)
    try:
        api_key = api_key_update(api_key=api_key, version=request.POST.get("version", ""))
    except Refusal as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{api_key.name} ({api_key.display_prefix}…) now uses API version {api_key.version}."
        )
    return redirect("portal:api_keys")
