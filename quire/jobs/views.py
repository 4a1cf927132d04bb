from __future__ import annotations

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.refusals import ErrorCode, Refusal
from quire.api.idempotency import idempotent
from quire.api.pagination import ListFilter
from quire.api.serializers import MetadataUpdateSerializer
from quire.jobs.models import Job, JobResult, JobStatus
from quire.jobs.serializers import (
    ExpandedJobSerializer,
    JobCreateSerializer,
    JobResultSerializer,
    JobSerializer,
)
from quire.jobs.services import job_cancel, job_create, job_update

EXPANDABLE = ("result",)
EXPAND_PARAMETER = OpenApiParameter(
    "expand[]",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    many=True,
    enum=EXPANDABLE,
    description="Inline related objects: `expand[]=result` adds the job's `result` (null until it succeeded).",
)


def _expanded(params: QueryDict) -> set[str]:
    """What `expand[]=...` (also `expand=` and `expand[0]=`) asks for; anything not expandable is a 400."""
    asked = {value for name in params if name.split("[")[0] == "expand" for value in params.getlist(name)}
    for value in sorted(asked):
        if value not in EXPANDABLE:
            raise Refusal(
                ErrorCode.INVALID_PARAMETER,
                f"Cannot expand {value!r}; a job expands {', '.join(EXPANDABLE)}.",
                "expand",
            )
    return asked


def _connectors() -> list[str]:
    from connectors import CONNECTORS

    return list(CONNECTORS)


class JobListCreateView(ListAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()
    filter_backends = [ListFilter]
    list_filters = {"status": JobStatus.values, "connector": _connectors}

    @extend_schema(request=JobCreateSerializer, responses={202: JobSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        payload = JobCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        job = job_create(
            tenant=request.tenant,
            connector=data["connector"],
            document_ids=data["documents"],
            options=data["options"],
            mode=data["mode"],
            metadata=data.get("metadata"),
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailView(RetrieveAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()
    lookup_url_kwarg = "job_id"

    @extend_schema(parameters=[EXPAND_PARAMETER], responses={200: ExpandedJobSerializer})
    def get(self, request: Request, job_id: str) -> Response:
        serializer = ExpandedJobSerializer if "result" in _expanded(request.query_params) else JobSerializer
        return Response(serializer(self.get_object()).data)

    @extend_schema(
        operation_id="jobs_update", request=MetadataUpdateSerializer, responses={200: JobSerializer}
    )
    @idempotent
    def post(self, request: Request, job_id: str) -> Response:
        changes = MetadataUpdateSerializer.validated(request.data)
        job = job_update(job=self.get_object(), **changes)
        return Response(JobSerializer(job).data)


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request: Request, job_id: str) -> Response:
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise Refusal(ErrorCode.RESOURCE_MISSING, f"No job {job_id}.", "job_id")
        job = job_cancel(job=job)
        return Response(JobSerializer(job).data)


class JobResultView(APIView):
    @extend_schema(responses={200: JobResultSerializer})
    def get(self, request: Request, job_id: str) -> Response:
        job = Job.objects.filter(pk=job_id).only("id", "status").first()
        if job is None:
            raise Refusal(ErrorCode.RESOURCE_MISSING, f"No job {job_id}.", "job_id")
        result = JobResult.objects.filter(job_id=job_id).first()
        if result is None:
            raise Refusal(
                ErrorCode.RESULT_NOT_READY, f"Job {job_id} is {job.status}; it has no result.", "job_id"
            )
        return Response(JobResultSerializer(result).data)
