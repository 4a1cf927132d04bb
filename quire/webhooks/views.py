from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import CharField, Serializer
from rest_framework.views import APIView

from common.refusals import ErrorCode, Refusal
from quire.api.idempotency import idempotent
from quire.api.lookups import FoundDetail, found
from quire.api.pagination import filter_value
from quire.api.serializers import DeletedSerializer
from quire.webhooks.models import EVENT_TYPES, Event, WebhookEndpoint
from quire.webhooks.selectors import deliveries_with_attempts
from quire.webhooks.serializers import (
    DeliverySerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    EndpointWithSecretSerializer,
    EventSerializer,
    ReplaySerializer,
    RotateSecretSerializer,
)
from quire.webhooks.services import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    event_replay,
)
from tenants.models import Role

ADMIN_WRITES = {"POST": Role.ADMIN, "PATCH": Role.ADMIN, "DELETE": Role.ADMIN}


def _endpoint(endpoint_id: str, param: str = "endpoint_id") -> WebhookEndpoint:
    return found(WebhookEndpoint.objects, endpoint_id, noun="webhook endpoint", param=param)


def _event(event_id: str) -> Event:
    return found(Event.objects, event_id, noun="event", param="event_id")


def _validated(serializer_class: type[Serializer], data: object) -> dict:
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class EndpointListCreateView(ListAPIView):
    required_roles = ADMIN_WRITES
    serializer_class = EndpointSerializer
    queryset = WebhookEndpoint.objects.prefetch_related("retired_secrets")

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        endpoint = endpoint_create(**_validated(EndpointCreateSerializer, request.data))
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    required_roles = ADMIN_WRITES

    @extend_schema(responses={200: EndpointSerializer})
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(EndpointSerializer(_endpoint(endpoint_id)).data)

    @extend_schema(request=EndpointUpdateSerializer, responses={200: EndpointSerializer})
    @idempotent
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(endpoint_id)
        endpoint = endpoint_update(endpoint=endpoint, **_validated(EndpointUpdateSerializer, request.data))
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={200: DeletedSerializer})
    @idempotent
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoint_delete(endpoint=_endpoint(endpoint_id))
        return Response({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


class EndpointRotateSecretView(APIView):
    required_roles = {"POST": Role.ADMIN}

    @extend_schema(request=RotateSecretSerializer, responses={200: EndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(endpoint_id)
        grace_seconds = _validated(RotateSecretSerializer, request.data)["grace_period_seconds"]
        endpoint = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=grace_seconds)
        return Response(EndpointWithSecretSerializer(endpoint).data)


class EndpointTestView(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    @idempotent
    def post(self, request: Request, endpoint_id: str) -> Response:
        delivery = endpoint_send_test(endpoint=_endpoint(endpoint_id))
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class EndpointDeliveriesView(ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        endpoint = _endpoint(self.kwargs["endpoint_id"])
        return deliveries_with_attempts(endpoint_id=endpoint.id)


@extend_schema_view(
    get=extend_schema(
        parameters=[
            OpenApiParameter("type", str, enum=sorted(EVENT_TYPES), description="Only events of this type.")
        ]
    )
)
class EventListView(ListAPIView):
    serializer_class = EventSerializer

    def get_queryset(self):
        event_type = filter_value(self.request, "type")
        if event_type is None:
            return Event.objects.all()
        if event_type not in EVENT_TYPES:
            raise Refusal(ErrorCode.UNKNOWN_EVENT_TYPE, f"Unknown event type {event_type!r}.", "type")
        return Event.objects.filter(type=event_type)


class EventDetailView(FoundDetail, RetrieveAPIView):
    serializer_class = EventSerializer
    queryset = Event.objects.all()
    lookup_url_kwarg = "event_id"
    noun = "event"


class EventDeliveriesView(ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self):
        return deliveries_with_attempts(event_id=_event(self.kwargs["event_id"]).id)


class EventReplayView(APIView):
    @extend_schema(
        request=ReplaySerializer,
        responses={
            202: inline_serializer(
                "DeliveryReplayList",
                {"object": CharField(), "data": DeliverySerializer(many=True)},
            )
        },
    )
    @idempotent
    def post(self, request: Request, event_id: str) -> Response:
        event = _event(event_id)
        endpoint_id = _validated(ReplaySerializer, request.data or {}).get("endpoint")
        endpoint = _endpoint(endpoint_id, "endpoint") if endpoint_id else None
        deliveries = event_replay(event=event, endpoint=endpoint)
        data = DeliverySerializer(
            deliveries_with_attempts().filter(pk__in=[d.pk for d in deliveries]), many=True
        )
        return Response({"object": "list", "data": data.data}, status=status.HTTP_202_ACCEPTED)
