"""Who may open a portal page: a signed-in member of the tenant the host name routes to, with the role
the page asks for reading (GET) or acting (POST). Anyone else gets a 404, as if the page did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from tenants.audit import audit_origin_bind
from tenants.models import ActorType, Member, Role, role_allows

READ_METHODS = ("GET", "HEAD")


def member_of_request_tenant(request: HttpRequest) -> Member | None:
    tenant = getattr(request, "tenant", None)
    if tenant is None or not request.user.is_authenticated:
        return None
    return Member.objects.select_related("tenant", "user").filter(tenant=tenant, user=request.user).first()


def _to_sign_in(request: HttpRequest) -> HttpResponse:
    """The sign-in page, then back to this one; for a form's post, back to the page of the form (its
    `Referer` on this host, else the overview), as the post itself is not sent again. An htmx request (a poll,
    a fragment) sends the whole browser there instead, and back to the page it came from, rather than have the
    sign-in form swapped into it."""
    if not request.htmx:
        if request.method in READ_METHODS:
            return redirect_to_login(request.get_full_path())
        referer = request.headers.get("Referer", "")
        back = referer if url_has_allowed_host_and_scheme(referer, {request.get_host()}) else "/"
        return redirect_to_login(urlsplit(back)._replace(scheme="", netloc="").geturl() or "/")
    return HttpResponseClientRedirect(
        redirect_to_login(request.htmx.current_url_abs_path or request.path).url
    )


def portal_page(*, read: str = Role.VIEWER, write: str = Role.DEVELOPER) -> Callable:
    """Decorate a view: `request.member` is set; a role below `read`/`write` gets the 403 page."""
    if read not in Role.values or write not in Role.values:
        raise ValueError(f"unknown role in read={read!r} write={write!r}")

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if getattr(request, "tenant", None) is None:
                raise Http404("no workspace at this address")
            if not request.user.is_authenticated:
                return _to_sign_in(request)
            member = member_of_request_tenant(request)
            if member is None:
                raise Http404("not a member of this workspace")
            required = read if request.method in READ_METHODS else write
            if not role_allows(member.role, required):
                return render(
                    request,
                    "portal/forbidden.html",
                    {"member": member, "required": Role(required).label},
                    status=403,
                )
            request.member = member
            audit_origin_bind(
                actor_type=ActorType.MEMBER, actor_id=member.user.email, actor_label=member.role
            )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
