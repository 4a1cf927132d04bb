from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.services import usage_for_job
from connectors import in_reading_order
from quire.api.serializers import (
    MetadataField,
    NamedChoiceField,
    ObjectNameField,
    ResourceSerializer,
    StrictSerializer,
)
from quire.jobs.models import MAX_CORRECTION_CHARS, Job, JobResult, JobStatus

MAX_JOB_DOCUMENTS = 1000


class JobCreateSerializer(StrictSerializer):
    connector = serializers.CharField(max_length=40)
    documents = serializers.ListField(
        child=serializers.CharField(max_length=40),
        min_length=1,
        max_length=MAX_JOB_DOCUMENTS,
        error_messages={"min_length": "Name at least one document."},
    )
    options = serializers.DictField(required=False, default=dict)
    mode = NamedChoiceField(choices=["analyzers", "model"], default="analyzers")
    metadata = MetadataField(required=False)


class JobSerializer(ResourceSerializer):
    object = ObjectNameField("job")
    documents = serializers.ListField(source="document_ids", child=serializers.CharField())
    metadata = MetadataField(read_only=True)
    queue_wait_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "object",
            "connector",
            "mode",
            "documents",
            "options",
            "status",
            "stage",
            "progress",
            "attempt",
            "error",
            "metadata",
            "created_at",
            "started_at",
            "finished_at",
            "queue_wait_seconds",
        ]

    @extend_schema_field(serializers.FloatField())
    def get_queue_wait_seconds(self, job: Job) -> float:
        """Seconds between the job's creation and its start (so far, while it is still queued)."""
        until = job.started_at or (timezone.now() if job.status == JobStatus.QUEUED else job.finished_at)
        return round(((until or job.created_at) - job.created_at).total_seconds(), 3)


@extend_schema_field(OpenApiTypes.OBJECT)
class _OutputField(serializers.Field):
    """The connector's output, its sections in reading order; a review's cells carry the reviewers' corrections
    beside them."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, result: JobResult) -> dict:
        from quire.jobs.review import output_with_corrections

        output = output_with_corrections(result)
        return in_reading_order(output) if isinstance(output, dict) else output


class JobResultSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    object = ObjectNameField("job_result")
    output = _OutputField()
    context = serializers.JSONField()
    spans_checked = serializers.IntegerField()
    spans_repaired = serializers.IntegerField()
    findings_dropped = serializers.IntegerField()
    created_at = serializers.DateTimeField()


@extend_schema_field(JobResultSerializer(allow_null=True))
class _ResultField(serializers.Field):
    """The job's result, or null until the job has succeeded. Declared optional (it is present only when
    expanded), hence not read-only: this serializer is only ever used for output."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", required=False, allow_null=True, **kwargs)

    def to_representation(self, job: Job) -> dict | None:
        result = JobResult.objects.filter(job_id=job.pk).first()
        return None if result is None else JobResultSerializer(result).data


@extend_schema_field(
    serializers.DictField(
        child=serializers.IntegerField(min_value=0), help_text="units metered, by usage kind"
    )
)
class _UsageField(serializers.Field):
    """What the usage ledger metered for the job, by kind; empty until the job has succeeded."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, job: Job) -> dict[str, int]:
        return usage_for_job(tenant=self.context["tenant"], job_id=job.pk)


JOB_EXPANDABLE = ("result", "usage")


class ExpandedJobSerializer(JobSerializer):
    """A job with what `expand[]` asked for inline (`context["expand"]`): `result`, `usage`; each is present only
    when asked for."""

    result = _ResultField(help_text="The verified result; null until the job has succeeded.")
    usage = _UsageField(
        help_text="Units the usage ledger metered for the job (pages, job, review_cells, tokens_in, "
        "tokens_cached_in, tokens_out), as billed; empty until the job has succeeded."
    )

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, *JOB_EXPANDABLE]

    def get_fields(self) -> dict:
        fields = super().get_fields()
        asked = self.context.get("expand")
        if asked is None:
            return fields
        return {name: field for name, field in fields.items() if name not in JOB_EXPANDABLE or name in asked}


class CellCorrectionSerializer(StrictSerializer):
    document = serializers.CharField(max_length=40)
    key = serializers.CharField(max_length=60)
    corrected_value = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text=f"The cell's value: any JSON, at most {MAX_CORRECTION_CHARS:,} characters written.",
    )
    verified = serializers.BooleanField(required=False, default=False)


class CellCorrectionResultSerializer(serializers.Serializer):
    object = ObjectNameField("cell_correction")
    job_id = serializers.CharField()
    document = serializers.CharField(source="document_id")
    key = serializers.CharField()
    corrected = serializers.BooleanField(
        help_text="A correction (whatever its value, null included) rather than a verification as it stands."
    )
    corrected_value = serializers.JSONField(allow_null=True)
    verified = serializers.BooleanField()
    by = serializers.CharField()
    at = serializers.DateTimeField()


class ReviewRowSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The document's place in the job's `documents`.")
    document_id = serializers.CharField()
    cells = serializers.JSONField(
        help_text="By column key: `{value, normalised, spans, confidence, status}`."
    )


# From this API version on, a cells request without `limit` answers `CELLS_PAGE` rows.
CELLS_PAGED_BY_DEFAULT = "2026-12-06"
CELLS_PAGE = 100


class ReviewCellsWindowSerializer(serializers.Serializer):
    from_index = serializers.IntegerField(
        min_value=0,
        max_value=MAX_JOB_DOCUMENTS,
        required=False,
        help_text="Only the rows from this document index on (0 by default).",
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        help_text="At most this many rows: those whose index is in from_index to from_index + limit - 1. "
        f"Without it, {CELLS_PAGE} from version {CELLS_PAGED_BY_DEFAULT} on, every row from from_index on "
        "before it.",
    )


class ReviewCellsSerializer(serializers.Serializer):
    object = ObjectNameField("review_cells")
    job_id = serializers.CharField()
    status = serializers.CharField()
    complete = serializers.BooleanField(help_text="True once the result exists; these are then its rows.")
    rows_done = serializers.IntegerField(
        help_text="The review's rows so far, whatever from_index and limit left out: the documents finished "
        "while it runs, the result's rows once complete."
    )
    next_from_index = serializers.IntegerField(
        allow_null=True,
        help_text="The `from_index` of the next window when there are rows past this one (so far, while the "
        f"review runs); else null, as it is for a request without `limit` before version {CELLS_PAGED_BY_DEFAULT}.",
    )
    columns = serializers.JSONField()
    data = ReviewRowSerializer(many=True)


class PassageToCheckSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["finding", "near_miss"],
        help_text="`finding`: the head found it in a legal job or a review's clause column; `near_miss`: one of "
        "the workspace's passages it scores highest.",
    )
    job = serializers.CharField(
        source="job_id", allow_null=True, help_text="The job of a finding; null otherwise."
    )
    connector = serializers.ChoiceField(
        choices=["legal", "review"],
        allow_null=True,
        help_text="What that job is: a legal job, or a review whose clause column found the passage; null for a "
        "near miss.",
    )
    document = serializers.CharField(source="document_id")
    start = serializers.IntegerField(help_text="The passage's first character in the document's text.")
    end = serializers.IntegerField(help_text="One past its last character.")
    text = serializers.CharField(help_text="The passage, runs of whitespace folded: post it as it is.")
    score = serializers.FloatField(help_text="The head's probability (a finding's confidence in its job).")
    correction = serializers.JSONField(
        allow_null=True,
        help_text="For a review's finding, the reviewer's word on its cell in the grid (`corrected_value`, "
        "`verified`, `by`, `at`); null where there is none.",
    )
    suggested = serializers.ChoiceField(
        choices=["clause", "not"],
        allow_null=True,
        help_text="The answer that word gives: `clause` where the cell was verified as it stands, `not` where it "
        "was corrected to another value; null otherwise. Nothing is taught until the answer is posted.",
    )


class PassagesToCheckSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    clause_type_id = serializers.CharField()
    data = PassageToCheckSerializer(many=True)
