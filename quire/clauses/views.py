from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quire.api.expand import expand_parameter, expanded
from quire.api.idempotency import idempotent
from quire.api.lookups import found
from quire.api.pagination import ListFilter
from quire.api.serializers import DeletedSerializer
from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.clauses.serializers import (
    ClauseTypeCreateSerializer,
    ClauseTypeExamplesSerializer,
    ClauseTypeListedSerializer,
    ClauseTypeSerializer,
    ClauseTypeSummarySerializer,
    ClauseTypeWithExamplesSerializer,
)
from quire.clauses.services import clause_type_create, clause_type_delete, clause_type_examples_add

LIST_WITHOUT_NEAR_MISSES = "2026-12-05"
EXPANDABLE = ("near_misses",)
EXPAND_PARAMETER = expand_parameter(
    EXPANDABLE,
    "`expand[]=near_misses` keeps each clause type's `near_misses` in the list (left out from version "
    f"{LIST_WITHOUT_NEAR_MISSES} on).",
)
DETAIL_EXPANDABLE = ("examples",)
EXPAND_EXAMPLES = expand_parameter(
    DETAIL_EXPANDABLE,
    "`expand[]=examples` adds the passages the clause type trains on, `examples` and `counter_examples`.",
)


def _clause_type(clause_type_id: str) -> ClauseType:
    return found(ClauseType.objects, clause_type_id, noun="clause type", param="clause_type_id")


def _validated(serializer_class, data) -> dict:
    payload = serializer_class(data=data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class ClauseTypeListCreateView(ListAPIView):
    """From version `LIST_WITHOUT_NEAR_MISSES` on, the list leaves each clause type's near misses out unless
    `expand[]=near_misses` asks for them; older versions get them always."""

    filter_backends = [ListFilter]
    list_filters = {"status": ClauseTypeStatus.values}
    filter_metadata = False

    @cached_property
    def _with_near_misses(self) -> bool:
        version = getattr(self.request, "quire_version", settings.QUIRE_API_VERSIONS[-1])
        asked = expanded(self.request.query_params, EXPANDABLE, "clause type list")
        return version < LIST_WITHOUT_NEAR_MISSES or "near_misses" in asked

    def get_queryset(self) -> QuerySet[ClauseType]:
        return ClauseType.objects.listed(near_misses=self._with_near_misses)

    def get_serializer_class(self) -> type[ClauseTypeSerializer]:
        return ClauseTypeListedSerializer if self._with_near_misses else ClauseTypeSummarySerializer

    @extend_schema(parameters=[EXPAND_PARAMETER])
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(
        request=ClauseTypeCreateSerializer,
        responses={202: ClauseTypeSerializer},
        description="A custom clause type from at least 10 example passages (and optional counter-examples); "
        "its head trains in the background and reports cross-validated precision and recall.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        clause_type = clause_type_create(
            tenant=request.tenant, **_validated(ClauseTypeCreateSerializer, request.data)
        )
        return Response(ClauseTypeSerializer(clause_type).data, status=status.HTTP_202_ACCEPTED)


class ClauseTypeDetailView(APIView):
    @extend_schema(parameters=[EXPAND_EXAMPLES], responses={200: ClauseTypeWithExamplesSerializer})
    def get(self, request: Request, clause_type_id: str) -> Response:
        asked = expanded(request.query_params, DETAIL_EXPANDABLE, "clause type")
        serializer = ClauseTypeWithExamplesSerializer if "examples" in asked else ClauseTypeSerializer
        return Response(serializer(_clause_type(clause_type_id)).data)

    @extend_schema(responses={200: DeletedSerializer})
    @idempotent
    def delete(self, request: Request, clause_type_id: str) -> Response:
        clause_type_delete(tenant=request.tenant, clause_type=_clause_type(clause_type_id))
        return Response({"id": clause_type_id, "object": "clause_type", "deleted": True})


class ClauseTypeExamplesView(APIView):
    @extend_schema(
        operation_id="clause_types_examples_add",
        request=ClauseTypeExamplesSerializer,
        responses={202: ClauseTypeSerializer},
        description="Add example passages or counter-examples and train the head again; jobs use the previous "
        "head until the new one is ready. The last answer on a passage wins: a passage stored the other way "
        "round moves, and when every passage is already stored as given nothing trains (the clause type comes "
        "back with its version and status unchanged), unless its last training failed: then it trains again.",
    )
    @idempotent
    def post(self, request: Request, clause_type_id: str) -> Response:
        clause_type = clause_type_examples_add(
            tenant=request.tenant,
            clause_type=_clause_type(clause_type_id),
            **_validated(ClauseTypeExamplesSerializer, request.data),
        )
        return Response(ClauseTypeSerializer(clause_type).data, status=status.HTTP_202_ACCEPTED)
