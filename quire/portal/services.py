"""Writes behind the portal's member pages: invite, change a role, remove. Each holds the role rules:
only an owner grants or takes the owner role, and a workspace always keeps one owner; an invitation needs a
free seat of the tenant's plan."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from billing.entitlements import entitlements_for
from common.refusals import ErrorCode, Refusal
from tenants.audit import audit_record
from tenants.models import Member, Role, Tenant, email_normalised, role_allows
from tenants.passwords import password_set_link
from tenants.services import member_add, member_email, tenant_lock

logger = logging.getLogger(__name__)


class MemberChangeRefused(Refusal):
    """A member change the acting member's role, the owner rule or the plan's seats do not allow; `param`
    names the form field it concerns (None for the change as a whole)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(ErrorCode.MEMBER_CHANGE_REFUSED, message, param)


def _check_may_grant(*, actor: Member, role: str) -> None:
    if role not in Role.values:
        raise MemberChangeRefused(f"Unknown role {role!r}.", "role")
    if not role_allows(actor.role, Role.ADMIN):
        raise MemberChangeRefused("Only owners and admins manage members.")
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise MemberChangeRefused("Only an owner can make someone an owner.", "role")


def _check_may_change(*, actor: Member, target: Member) -> None:
    if target.tenant_id != actor.tenant_id:
        raise MemberChangeRefused("That member belongs to another workspace.")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise MemberChangeRefused("Only an owner can change an owner.")


def _locked(*, actor: Member, target: Member) -> tuple[Member, Member]:
    """Take the tenant's lock (every member change holds it) and read the actor and the target again under
    it, so the role rules judge both as they are now, not as the page that asked loaded them."""
    tenant_lock(target.tenant)
    rows = (
        Member.objects.select_for_update(of=("self",))
        .select_related("user", "tenant")
        .in_bulk([actor.pk, target.pk])
    )
    if actor.pk not in rows:
        raise MemberChangeRefused("You are no longer a member of this workspace.")
    if target.pk not in rows:
        raise MemberChangeRefused("That person is no longer a member of this workspace.")
    return rows[actor.pk], rows[target.pk]


def _keeps_an_owner(target: Member, new_role: str | None) -> bool:
    if target.role != Role.OWNER or new_role == Role.OWNER:
        return True
    return Member.objects.filter(tenant_id=target.tenant_id, role=Role.OWNER).exclude(pk=target.pk).exists()


@dataclass(frozen=True)
class Invitation:
    member: Member
    # False when the mail server refused the invitation: the member stays, and the portal's "Forgot your
    # password?" sends them the link.
    mailed: bool


def member_invite(*, tenant: Tenant, actor: Member, email: str, role: str, base_url: str) -> Invitation:
    """Add the person with `role` and e-mail them a link to set their password (or to sign in, if they
    already have an account). Inviting an existing member is refused. The rules judge the actor as they are
    under the tenant's lock, not as the page that asked loaded them. A mail server that fails leaves the
    member added, `mailed` false."""
    email = email_normalised(email)
    with transaction.atomic():
        tenant_lock(tenant)
        actor = Member.objects.select_related("user").filter(pk=actor.pk, tenant=tenant).first()
        if actor is None:
            raise MemberChangeRefused("You are no longer a member of this workspace.")
        _check_may_grant(actor=actor, role=role)
        if not email or "@" not in email:
            raise MemberChangeRefused("Enter an e-mail address.", "email")
        try:
            member_email(email)
        except ValueError as exc:
            raise MemberChangeRefused(str(exc), "email") from None
        if Member.objects.filter(tenant=tenant, user__username=email).exists():
            raise MemberChangeRefused(f"{email} is already a member.", "email")
        seats = entitlements_for(tenant).seats
        if Member.objects.filter(tenant=tenant).count() >= seats:
            raise MemberChangeRefused(
                f"Your plan includes {seats} seat(s) and all are taken: remove a member or upgrade the plan."
            )
        member = member_add(tenant=tenant, email=email, role=role)
    user = member.user
    link = (
        password_set_link(user=user, base_url=base_url)
        if not user.has_usable_password()
        else base_url.rstrip("/") + "/login"
    )
    context = {"tenant": tenant, "inviter": actor.user.email, "role": Role(role).label, "link": link}
    try:
        send_mail(
            subject=f"You are invited to {tenant.name} on Quire",
            message=render_to_string("portal/email/invite.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("the invitation of member %s was not mailed: %s", member.pk, exc)
        return Invitation(member, mailed=False)
    return Invitation(member, mailed=True)


def member_change_role(*, actor: Member, target: Member, role: str) -> Member:
    """Give `target` the `role`, if the actor may grant it and the workspace keeps an owner."""
    with transaction.atomic():
        actor, target = _locked(actor=actor, target=target)
        _check_may_grant(actor=actor, role=role)
        _check_may_change(actor=actor, target=target)
        if not _keeps_an_owner(target, role):
            raise MemberChangeRefused("A workspace needs at least one owner.")
        if target.role != role:
            audit_record(
                tenant=target.tenant,
                action="member.role_change",
                object_type="member",
                object_id=target.user.email,
                details={"from": target.role, "to": role},
            )
        target.role = role
        target.save(update_fields=["role"])
    return target


def member_remove(*, actor: Member, target: Member) -> None:
    """Remove `target` from the workspace (an admin or owner may; the last owner may not go)."""
    with transaction.atomic():
        actor, target = _locked(actor=actor, target=target)
        _check_may_grant(actor=actor, role=Role.VIEWER)
        _check_may_change(actor=actor, target=target)
        if not _keeps_an_owner(target, None):
            raise MemberChangeRefused("A workspace needs at least one owner.")
        audit_record(
            tenant=target.tenant,
            action="member.remove",
            object_type="member",
            object_id=target.user.email,
            details={"role": target.role},
        )
        target.delete()
