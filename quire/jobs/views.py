from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.refusals import ErrorCode, Refusal
from quire.api.idempotency import idempotent
from quire.jobs.models import Job, JobResult
from quire.jobs.serializers import JobCreateSerializer, JobResultSerializer, JobSerializer
from quire.jobs.services import job_cancel, job_create


class JobListCreateView(ListAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()

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
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailView(RetrieveAPIView):
    serializer_class = JobSerializer
    queryset = Job.objects.all()
    lookup_url_kwarg = "job_id"


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
