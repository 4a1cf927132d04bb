"""The HTTP edge of billing: usage and invoice preview for integrators, Checkout/Portal links, Stripe webhooks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import stripe
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Plan, UsageKind
from billing.services import upcoming_invoice, usage_summary
from billing.stripe_gateway import (
    checkout_session_create,
    portal_session_create,
    webhook_event_apply,
    webhook_event_verify,
)
from common.refusals import ErrorCode, Refusal
from quire.api.errors import error_json
from quire.api.idempotency import idempotent
from quire.api.pagination import parse_moment, query_values
from quire.api.serializers import StrictSerializer

logger = logging.getLogger(__name__)
DEFAULT_USAGE_DAYS = 30


def _moment(raw: str | None, param: str) -> datetime | None:
    return parse_moment(raw, param) if raw else None


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField(required=False, help_text="The UTC day; only with `group_by=day`.")
    kind = serializers.ChoiceField(choices=UsageKind.choices)
    quantity = serializers.IntegerField()


USAGE_SCHEMA = inline_serializer(
    "Usage",
    {
        "object": serializers.CharField(help_text="`usage`."),
        "from": serializers.DateTimeField(help_text="Where the totals start (included)."),
        "to": serializers.DateTimeField(help_text="Where the totals end (left out)."),
        "group_by": serializers.ChoiceField(choices=["day", "kind"]),
        "data": UsageRowSerializer(many=True),
    },
)


class InvoiceLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_amount = serializers.IntegerField(help_text="Minor units a unit (a token line: per 1,000,000).")
    unit_amount_decimal = serializers.CharField(
        required=False,
        help_text="Token lines only: the price of one token in minor units, as Stripe writes it.",
    )
    amount = serializers.IntegerField(help_text="Minor units.")


class InvoicePreviewSerializer(serializers.Serializer):
    object = serializers.CharField(help_text="`invoice_preview`.")
    plan = serializers.CharField(help_text="The code of the plan the period is billed at.")
    subscription_status = serializers.CharField()
    currency = serializers.CharField()
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    units_used = serializers.IntegerField(help_text="Pages used this period.")
    units_included = serializers.IntegerField()
    lines = InvoiceLineSerializer(many=True)
    subtotal = serializers.IntegerField(help_text="Minor units.")
    total = serializers.IntegerField(help_text="Minor units.")


class UsageView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from",
                str,
                description="ISO 8601 date or date-time, or Unix seconds; `to` less 30 days when absent.",
            ),
            OpenApiParameter(
                "to", str, description="ISO 8601 date or date-time, or Unix seconds; now when absent."
            ),
            OpenApiParameter("group_by", str, enum=["day", "kind"], default="day"),
        ],
        responses={200: USAGE_SCHEMA},
    )
    def get(self, request: Request) -> Response:
        query = query_values(request)
        end = _moment(query.get("to"), "to") or timezone.now()
        start = _moment(query.get("from"), "from")
        if start is None:
            if end < datetime.min.replace(tzinfo=UTC) + timedelta(days=DEFAULT_USAGE_DAYS):
                raise Refusal(
                    ErrorCode.INVALID_PARAMETER, f"`to` must leave {DEFAULT_USAGE_DAYS} days before it.", "to"
                )
            start = end - timedelta(days=DEFAULT_USAGE_DAYS)
        group_by = query.get("group_by", "day")
        if group_by not in ("day", "kind"):
            raise Refusal(ErrorCode.INVALID_PARAMETER, "group_by must be day or kind.", "group_by")
        if start >= end:
            raise Refusal(ErrorCode.INVALID_PARAMETER, "`from` must be before `to`.", "from")
        rows = usage_summary(tenant=request.tenant, start=start, end=end, group_by=group_by)
        return Response({"object": "usage", "from": start, "to": end, "group_by": group_by, "data": rows})


class UpcomingInvoiceView(APIView):
    @extend_schema(responses={200: InvoicePreviewSerializer})
    def get(self, request: Request) -> Response:
        return Response(upcoming_invoice(tenant=request.tenant))


class CheckoutSerializer(StrictSerializer):
    plan = serializers.CharField(help_text="A plan's code.")
    success_url = serializers.URLField()
    cancel_url = serializers.URLField()

    def validate_plan(self, code: str) -> Plan:
        plan = Plan.objects.filter(code=code).first()
        if plan is None:
            codes = ", ".join(Plan.objects.order_by("code").values_list("code", flat=True))
            raise serializers.ValidationError(
                f"No plan has the code {code!r}; the plans are {codes}.", code="does_not_exist"
            )
        return plan


class PortalSerializer(StrictSerializer):
    return_url = serializers.URLField()


class CheckoutSessionView(APIView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=CheckoutSerializer, responses={201: dict})
    @idempotent(transactional=False)
    def post(self, request: Request) -> Response:
        payload = CheckoutSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        url = checkout_session_create(
            tenant=request.tenant,
            plan=data["plan"],
            success_url=data["success_url"],
            cancel_url=data["cancel_url"],
        )
        return Response({"object": "checkout_session", "url": url}, status=201)


# Stripe's portal session URLs are short-lived (minutes) and expire unvisited: a retry with the same key gets
# the first URL within this window, and a new session after it.
PORTAL_SESSION_REPLAY = timedelta(minutes=5)


class PortalSessionView(APIView):
    required_roles = {"POST": "admin"}

    @extend_schema(request=PortalSerializer, responses={201: dict})
    @idempotent(transactional=False, replay_within=PORTAL_SESSION_REPLAY)
    def post(self, request: Request) -> Response:
        payload = PortalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return_url = payload.validated_data["return_url"]
        url = portal_session_create(tenant=request.tenant, return_url=return_url)
        return Response({"object": "portal_session", "url": url}, status=201)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verified with the signing secret: a bad signature or a timestamp outside the tolerance is a 400."""
    if not settings.QUIRE_STRIPE_WEBHOOK_SECRET:
        return error_json(503, "webhooks_not_configured", "QUIRE_STRIPE_WEBHOOK_SECRET is not set.")
    try:
        event = webhook_event_verify(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except stripe.SignatureVerificationError:
        return error_json(400, "invalid_signature", "The Stripe-Signature header does not verify.")
    except ValueError:
        return error_json(400, "invalid_payload", "The body is not a Stripe event.")
    applied = webhook_event_apply(event=event.to_dict())
    return JsonResponse({"received": True, "duplicate": not applied})
