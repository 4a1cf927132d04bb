from __future__ import annotations

from functools import partial

from django.contrib.postgres.indexes import GinIndex
from django.db import models

from tenants.identifiers import new_id


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class JobQuerySet(models.QuerySet):
    def listed(self) -> JobQuerySet:
        """What a list of jobs shows of each: without its documents' ids (a review reads up to 1,000), options,
        error and metadata, which PostgreSQL counts (`document_count`) rather than send."""
        return self.only("id", "connector", "status", "progress", "created_at").annotate(
            document_count=models.Func(
                "document_ids", function="jsonb_array_length", output_field=models.IntegerField()
            )
        )


class Job(models.Model):
    """One connector run over documents. `attempt` and `lease_until` let a redelivered task take over
    from a worker that died, while a live worker keeps its job."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "job"), editable=False)
    connector = models.CharField(max_length=40)
    mode = models.CharField(max_length=16, default="analyzers")
    document_ids = models.JSONField(default=list)
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    stage = models.CharField(max_length=80, default="queued")
    progress = models.FloatField(default=0.0)
    attempt = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The process of the attempt holding the lease (`common.processes.process_identity`): a redelivery on the
    # same host takes the job over at once when that process has died, instead of waiting out the lease.
    lease_owner = models.CharField(max_length=120, blank=True)
    # When the current attempt was claimed: an attempt whose process ended past the job's time limit (killed at
    # the hard limit) fails `timed_out` when the stalled sweep or a claim finds it, rather than starting again.
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    # Attempts stopped because the tenant entered maintenance (a restore): they do not count toward
    # QUIRE_JOB_MAX_ATTEMPTS, which is there for attempts whose worker died.
    maintenance_stops = models.PositiveIntegerField(default=0)
    # Set when the broker refused the run task after the job committed; the stalled sweep queues it.
    run_unqueued = models.BooleanField(default=False)
    # When a worker last had this queued job's run task in hand (ran it, or deferred it past the tenant's share);
    # a queued job unseen for QUIRE_JOB_QUEUED_LOST_SECONDS has lost its message, and the stalled sweep sends one.
    queued_seen_at = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["status"]),
            GinIndex(fields=["metadata"], name="job_metadata_gin", opclasses=["jsonb_path_ops"]),
            # The jobs that read a document (`document_ids @> [id]`), which deleting it redacts.
            GinIndex(fields=["document_ids"], name="job_document_ids_gin", opclasses=["jsonb_path_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.connector} {self.status}"


class JsonPathFirst(models.Func):
    """`jsonb_path_query_first(target, path, vars)`: the first item the JSON path finds, or null."""

    function = "jsonb_path_query_first"
    output_field = models.JSONField()


class JsonPathArray(models.Func):
    """`jsonb_path_query_array(target, path[, vars])`: every item the JSON path finds, as one array."""

    function = "jsonb_path_query_array"
    output_field = models.JSONField()


class JobResultQuerySet(models.QuerySet):
    def review_row(self, *, job_id: str, document_id: str) -> dict | None:
        """A review result's columns and its row for one document, read as such from PostgreSQL rather than
        the whole grid: `{"columns", "row"}` (`row` None when the result has none for the document); None
        when the job has no result."""
        return (
            self.filter(job_id=job_id)
            .annotate(
                row=JsonPathFirst(
                    models.F("output"),
                    models.Value("$.rows[*] ? (@.document_id == $document)"),
                    models.Value({"document": document_id}, output_field=models.JSONField()),
                )
            )
            .values("row", columns=models.F("output__columns"))
            .first()
        )


class JobResult(models.Model):
    """The verified connector output; one per job (the primary key is the job)."""

    job = models.OneToOneField(Job, primary_key=True, on_delete=models.CASCADE, related_name="result")
    output = models.JSONField()
    context = models.JSONField(default=dict)
    spans_checked = models.PositiveIntegerField(default=0)
    spans_repaired = models.PositiveIntegerField(default=0)
    findings_dropped = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = JobResultQuerySet.as_manager()

    def __str__(self) -> str:
        return f"result of {self.job_id}"


# A corrected cell value's size, written as JSON: a cell's answer with room to spare, never a document.
MAX_CORRECTION_CHARS = 10_000


class CellCorrection(models.Model):
    """A reviewer's word on one cell of a review: verified as it stands, or corrected to `corrected_value`.
    Stored beside the cell, never over it; the latest per (job, document, key) counts."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="corrections")
    document_id = models.CharField(max_length=40)
    key = models.CharField(max_length=60)
    corrected_value = models.JSONField(null=True, blank=True)
    # A correction, whatever its value (null included: "the document has no answer"); else a verification.
    corrected = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    by = models.CharField(max_length=254)
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "document_id", "key"], name="one_correction_per_cell")
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.document_id} {self.key}"

    def as_dict(self) -> dict:
        return {
            "corrected": self.corrected,
            "corrected_value": self.corrected_value,
            "verified": self.verified,
            "by": self.by,
            "at": self.at.isoformat().replace("+00:00", "Z"),
        }


class ReviewRow(models.Model):
    """One document's cells of a review still running, written (spans verified) as the worker finishes the
    document, so the grid fills in before the result exists; removed when the job ends."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="review_rows")
    index = models.PositiveIntegerField()
    document_id = models.CharField(max_length=40)
    cells = models.JSONField()
    attempt = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="one_review_row_per_document")]

    def __str__(self) -> str:
        return f"{self.job_id} row {self.index}"
