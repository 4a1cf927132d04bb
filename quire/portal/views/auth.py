"""Sign in and out, password reset, and the home page (a workspace's overview, or the workspace picker
on a host name that routes to no workspace)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy

from quire.documents.models import Document, DocumentStatus
from quire.jobs.models import Job
from quire.portal.access import member_of_request_tenant, portal_page
from quire.portal.forms import MemberAuthenticationForm, PasswordSetOrResetForm
from quire.portal.views.common import page
from tenants.audit import audit_origin_bind
from tenants.models import ActorType, Member
from tenants.services import member_sign_in_refused, member_signed_in


class SignInView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = MemberAuthenticationForm

    @property
    def redirect_authenticated_user(self) -> bool:
        """Whether a signed-in person is sent on from this page: only where the portal lets them in, as a
        member of the host's workspace (or on a host with no workspace, whose start page lists theirs); anyone
        else gets the form, to sign in as someone else."""
        if getattr(self.request, "tenant", None) is None:
            return True
        return member_of_request_tenant(self.request) is not None

    def get_redirect_url(self) -> str:
        """The `next` page, unless it is this sign-in page itself (whatever its query), which would send a
        signed-in member back here: they go to the start page instead."""
        target = super().get_redirect_url()
        return "" if urlsplit(target).path == self.request.path else target

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        tenant = getattr(self.request, "tenant", None)
        member = tenant and Member.objects.filter(tenant=tenant, user=form.get_user()).first()
        if member:
            audit_origin_bind(
                actor_type=ActorType.MEMBER, actor_id=member.user.email, actor_label=member.role
            )
            member_signed_in(tenant=tenant, member=member)
        return response

    def form_invalid(self, form) -> HttpResponse:
        tenant = getattr(self.request, "tenant", None)
        email = form.cleaned_data.get("username")
        if tenant is not None and email and not form.has_error(NON_FIELD_ERRORS, code="rate_limited"):
            audit_origin_bind(actor_type=ActorType.ANONYMOUS, actor_id="")
            member_sign_in_refused(tenant=tenant, email=email)
        return super().form_invalid(form)


class SignOutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordSetOrResetForm
    template_name = "portal/password_reset.html"
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password_reset_done")

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "tenant": getattr(self.request, "tenant", None)}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"


def home(request: HttpRequest) -> HttpResponse:
    if getattr(request, "tenant", None) is None:
        return workspaces(request)
    return overview(request)


@portal_page()
def overview(request: HttpRequest) -> HttpResponse:
    documents = Document.objects.all()
    return page(
        request,
        "portal/overview.html",
        {
            "document_count": documents.count(),
            "ready_count": documents.filter(status=DocumentStatus.READY).count(),
            "recent_jobs": Job.objects.listed().order_by("-created_at")[:5],
        },
    )


def workspaces(request: HttpRequest) -> HttpResponse:
    """On a host with no workspace: the signed-in person's workspaces, each linking to its own address."""
    if not request.user.is_authenticated:
        return redirect(settings.LOGIN_URL)
    host = request.get_host()
    suffix = host[host.rindex(":") :] if ":" in host else ""
    memberships = Member.objects.filter(user=request.user, tenant__is_active=True).select_related("tenant")
    choices = []
    for membership in memberships.order_by("tenant__name"):
        domain = (
            membership.tenant.domains.filter(is_primary=True).first() or membership.tenant.domains.first()
        )
        if domain is not None:
            url = f"{request.scheme}://{domain.domain}{suffix}/"
            choices.append({"tenant": membership.tenant, "role": membership.get_role_display(), "url": url})
    return render(request, "portal/workspaces.html", {"choices": choices})
