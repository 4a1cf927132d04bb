"""Usage and billing: usage per day and kind over the last 30 days (server-drawn charts), the plan and the
invoice so far, upgrade through Stripe Checkout, and the Stripe Customer Portal. Admins act; all read."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing.entitlements import account_for, billed_plan
from billing.models import Plan, UsageKind
from billing.services import meter_refusals, upcoming_invoice, usage_summary
from billing.stripe_gateway import checkout_session_create, portal_session_create, stripe_enabled
from common.refusals import Refusal
from quire.portal.access import portal_page
from quire.portal.charts import days_between, usage_charts
from quire.portal.views.common import base_url, page
from tenants.models import Role

CHART_DAYS = 30


@portal_page()
def billing_overview(request: HttpRequest) -> HttpResponse:
    today = timezone.now().astimezone(UTC).date()
    days = days_between(today - timedelta(days=CHART_DAYS - 1), today)
    start = datetime.combine(days[0], time.min, tzinfo=UTC)
    rows = usage_summary(
        tenant=request.tenant, start=start, end=start + timedelta(days=CHART_DAYS), group_by="day"
    )
    account = account_for(request.tenant)
    context = {
        "charts": usage_charts(rows, days, list(UsageKind.choices)),
        "account": account,
        "current_plan": billed_plan(account),
        "invoice": upcoming_invoice(tenant=request.tenant),
        "refusals": meter_refusals(tenant=request.tenant),
        "plans": Plan.objects.order_by("monthly_price", "code"),
        "online_billing": stripe_enabled(),
    }
    return page(request, "portal/billing.html", context)


def _stripe_redirect(request: HttpRequest, call) -> HttpResponse:
    try:
        url = call()
    except Refusal as exc:
        messages.error(request, str(exc))
    else:
        return HttpResponseRedirect(url, status=303)
    return redirect("portal:billing")


@require_POST
@portal_page(write=Role.ADMIN)
def billing_checkout(request: HttpRequest) -> HttpResponse:
    plan = get_object_or_404(Plan, code=request.POST.get("plan", ""))
    back = base_url(request) + reverse("portal:billing")
    return _stripe_redirect(
        request,
        lambda: checkout_session_create(
            tenant=request.tenant, plan=plan, success_url=back + "?checkout=done", cancel_url=back
        ),
    )


@require_POST
@portal_page(write=Role.ADMIN)
def billing_portal(request: HttpRequest) -> HttpResponse:
    back = base_url(request) + reverse("portal:billing")
    return _stripe_redirect(request, lambda: portal_session_create(tenant=request.tenant, return_url=back))
