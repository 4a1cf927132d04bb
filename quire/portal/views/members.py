"""Members: list with roles; owners and admins invite people, change roles and remove members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

from quire.portal.access import portal_page
from quire.portal.forms import InviteForm, RoleForm
from quire.portal.services import MemberChangeRefused, member_change_role, member_invite, member_remove
from quire.portal.views.common import base_url, page, show_rejection
from tenants.models import Member, Role


def _grantable(actor: Member) -> list[tuple[str, str]]:
    """The roles `actor` may give: every role for an owner, all but the owner role for anyone else."""
    return [
        (value, label) for value, label in Role.choices if value != Role.OWNER or actor.role == Role.OWNER
    ]


def _target(request: HttpRequest, member_id: int) -> Member:
    return get_object_or_404(Member.objects.select_related("user"), pk=member_id, tenant=request.tenant)


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page(write=Role.ADMIN)
def member_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            invited = member_invite(
                tenant=request.tenant,
                actor=request.member,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                base_url=base_url(request),
            )
        except MemberChangeRefused as exc:
            show_rejection(form, exc)
        else:
            email = invited.member.user.email
            if invited.mailed:
                messages.success(
                    request,
                    f"Invited {email}; they get an e-mail with a link to set a password, or to sign in.",
                )
            else:
                messages.warning(
                    request,
                    f"Added {email}, but the invitation e-mail could not be sent; they can choose a password "
                    "with “Forgot your password?” on the sign-in page.",
                )
            return redirect("portal:members")
    members = Member.objects.filter(tenant=request.tenant).select_related("user").order_by("created_at")
    roles = _grantable(request.member)
    form.fields["role"].widget.choices = roles
    return page(
        request,
        "portal/members.html",
        {
            "form": form,
            "members": members,
            "roles": roles,
            "manages_owners": request.member.role == Role.OWNER,
        },
        status=400 if form.errors else 200,
    )


@require_POST
@portal_page(write=Role.ADMIN)
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    target = _target(request, member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the roles.")
        return redirect("portal:members")
    try:
        member_change_role(actor=request.member, target=target, role=form.cleaned_data["role"])
    except MemberChangeRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{target.user.email} is now {Role(form.cleaned_data['role']).label.lower()}."
        )
    return redirect("portal:members")


@require_POST
@portal_page(write=Role.ADMIN)
def member_delete(request: HttpRequest, member_id: int) -> HttpResponse:
    target = _target(request, member_id)
    try:
        member_remove(actor=request.member, target=target)
    except MemberChangeRefused as exc:
        messages.error(request, str(exc))
        return redirect("portal:members")
    if target.pk == request.member.pk:
        logout(request)
        messages.success(request, f"You left {request.tenant.name}.")
        return redirect("portal:login")
    messages.success(request, f"Removed {target.user.email}.")
    return redirect("portal:members")
