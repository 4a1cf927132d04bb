from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.refusals import ErrorCode, Refusal
from quire.api.expand import expand_parameter, expanded
from quire.api.idempotency import idempotent
from quire.api.lookups import FoundDetail, found
from quire.api.negotiation import FileNegotiation
from quire.api.pagination import ListFilter, query_values
from quire.api.serializers import MetadataUpdateSerializer
from quire.clauses.models import ClauseType
from quire.jobs.clause_findings import passages_to_check, unanswered_findings
from quire.jobs.models import Job, JobResult, JobStatus
from quire.jobs.review import XLSX_CONTENT_TYPE, grid_export, review_cells
from quire.jobs.serializers import (
    CELLS_PAGE,
    CELLS_PAGED_BY_DEFAULT,
    JOB_EXPANDABLE,
    CellCorrectionResultSerializer,
    CellCorrectionSerializer,
    ExpandedJobSerializer,
    JobCreateSerializer,
    JobResultSerializer,
    JobSerializer,
    PassagesToCheckSerializer,
    ReviewCellsSerializer,
    ReviewCellsWindowSerializer,
)
from quire.jobs.services import WITHIN_REACH, cell_correct, job_cancel, job_create, job_update

EXPAND_PARAMETER = expand_parameter(
    JOB_EXPANDABLE,
    "Inline related objects: `expand[]=result` adds the job's `result` (null until it succeeded), "
    "`expand[]=usage` what the usage ledger metered for it (empty until it succeeded).",
)


def _connectors() -> list[str]:
    from connectors import CONNECTORS

    return list(CONNECTORS)


class JobListCreateView(ListAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()
    filter_backends = [ListFilter]
    list_filters = {"status": JobStatus.values, "connector": _connectors}

    def get(self, request: Request, *args, **kwargs) -> Response:
        expanded(request.query_params, (), "job list")
        return super().get(request, *args, **kwargs)

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
            refuse_too_long=request.quire_version >= WITHIN_REACH,
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailView(FoundDetail, RetrieveAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()
    lookup_url_kwarg = "job_id"
    noun = "job"

    @extend_schema(parameters=[EXPAND_PARAMETER], responses={200: ExpandedJobSerializer})
    def get(self, request: Request, job_id: str) -> Response:
        asked = expanded(request.query_params, JOB_EXPANDABLE, "job")
        job = self.get_object()
        if not asked:
            return Response(JobSerializer(job).data)
        return Response(ExpandedJobSerializer(job, context={"expand": asked, "tenant": request.tenant}).data)

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
    @idempotent
    def post(self, request: Request, job_id: str) -> Response:
        job = job_cancel(job=found(Job.objects, job_id, noun="job", param="job_id"))
        return Response(JobSerializer(job).data)


def _result_of(job_id: str) -> JobResult:
    job = found(Job.objects.only("id", "status"), job_id, noun="job", param="job_id")
    result = JobResult.objects.filter(job_id=job_id).first()
    if result is None:
        raise Refusal(
            ErrorCode.RESULT_NOT_READY, f"Job {job_id} is {job.status}; it has no result.", "job_id"
        )
    return result


class JobResultView(APIView):
    @extend_schema(responses={200: JobResultSerializer})
    def get(self, request: Request, job_id: str) -> Response:
        return Response(JobResultSerializer(_result_of(job_id)).data)


def _review_result(job_id: str) -> JobResult:
    result = _result_of(job_id)
    if not isinstance(result.output, dict) or result.output.get("connector") != "review":
        raise Refusal(
            ErrorCode.INVALID_PARAMETER,
            f"Job {job_id} is not a review; only reviews export a grid.",
            "job_id",
        )
    return result


class JobResultCsvView(APIView):
    content_negotiation_class = FileNegotiation
    file_media_type = "text/csv"

    @extend_schema(
        operation_id="jobs_result_csv",
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        description="A review's grid as CSV: one row per document; per column the value (a reviewer's "
        "correction when there is one), its citation (page and quote) and its status. Streamed.",
    )
    def get(self, request: Request, job_id: str) -> StreamingHttpResponse:
        return grid_export(tenant=request.tenant, result=_review_result(job_id), export_format="csv")


class JobResultXlsxView(APIView):
    content_negotiation_class = FileNegotiation
    file_media_type = XLSX_CONTENT_TYPE

    @extend_schema(
        operation_id="jobs_result_xlsx",
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY},
        description="A review's grid as an Excel workbook, the same columns as the CSV. Written row by row "
        "and streamed.",
    )
    def get(self, request: Request, job_id: str) -> FileResponse:
        return grid_export(tenant=request.tenant, result=_review_result(job_id), export_format="xlsx")


class JobCellCorrectionView(APIView):
    @extend_schema(
        operation_id="jobs_cells_list",
        responses={200: ReviewCellsSerializer},
        parameters=[ReviewCellsWindowSerializer],
        description="A review's rows so far: while the job runs, each document's cells as soon as the worker "
        "has them (spans verified, with pages and boxes); once it succeeded, the result's rows with their "
        "corrections (`complete`). `from_index` and `limit` return a window of rows by document index, read "
        "as such (a client polling a long review asks for the rows it has not seen); `next_from_index` is where "
        f"the next window starts while rows lie past this one. Without `limit`, at most {CELLS_PAGE} rows from "
        f"version {CELLS_PAGED_BY_DEFAULT} on (every row before it). A job that is not a review is a 400.",
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = found(Job.objects, job_id, noun="job", param="job_id")
        if job.connector != "review":
            raise Refusal(
                ErrorCode.INVALID_PARAMETER, f"Job {job_id} is not a review; it has no cells.", "job_id"
            )
        window = ReviewCellsWindowSerializer(data=query_values(request))
        window.is_valid(raise_exception=True)
        count = window.validated_data.get("limit")
        if count is None and request.quire_version >= CELLS_PAGED_BY_DEFAULT:
            count = CELLS_PAGE
        grid = review_cells(job, first=window.validated_data.get("from_index", 0), count=count)
        body = {
            "job_id": job.pk,
            "status": job.status,
            "complete": grid["complete"],
            "rows_done": grid["done"],
            "next_from_index": grid["next"],
        }
        body.update(columns=grid["columns"], data=grid["rows"])
        return Response(ReviewCellsSerializer(body).data)

    @extend_schema(
        operation_id="jobs_cells_correct",
        request=CellCorrectionSerializer,
        responses={200: CellCorrectionResultSerializer},
        description="Mark a review cell verified, or correct its value; stored with who and when beside the "
        "cell (the result and the exports show it), and carried into a review that extends this one.",
    )
    @idempotent
    def post(self, request: Request, job_id: str) -> Response:
        job = found(Job.objects, job_id, noun="job", param="job_id")
        payload = CellCorrectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        extra = {"corrected_value": data["corrected_value"]} if "corrected_value" in data else {}
        correction = cell_correct(
            job=job,
            document_id=data["document"],
            key=data["key"],
            by=f"api_key:{request.user.key_id}",
            verified=data["verified"],
            **extra,
        )
        return Response(CellCorrectionResultSerializer(correction).data)


class ClauseTypePassagesToCheckView(APIView):
    @extend_schema(
        operation_id="clause_types_passages_to_check",
        responses={200: PassagesToCheckSerializer},
        description="What to answer next about a clause type, as its portal page asks: up to ten passages, "
        "first its findings in its latest succeeded legal jobs and reviews (of the last 20 that ran it; a "
        "review's are the passages its clause columns answered with) that are neither examples nor "
        "counter-examples yet, newest job and most confident first, then its near misses; half each "
        "where both have enough. Findings teach a head precision, near misses recall. Post each `text` to "
        "`/v1/clause_types/{id}/examples` as an example or a counter-example. While the type trains, its findings "
        "only (its near misses are the previous head's).",
    )
    def get(self, request: Request, clause_type_id: str) -> Response:
        clause_type = found(ClauseType.objects, clause_type_id, noun="clause type", param="clause_type_id")
        asked = passages_to_check(clause_type, unanswered_findings(clause_type))
        body = {"object": "list", "clause_type_id": clause_type.pk, "data": asked}
        return Response(PassagesToCheckSerializer(body).data)
