from rest_framework import serializers

from quire.api.serializers import ObjectNameField, StrictSerializer
from quire.jobs.models import Job


class JobCreateSerializer(StrictSerializer):
    connector = serializers.CharField(max_length=40)
    documents = serializers.ListField(
        child=serializers.CharField(max_length=40), min_length=1, max_length=1000
    )
    options = serializers.DictField(required=False, default=dict)
    mode = serializers.ChoiceField(choices=["analyzers", "model"], default="analyzers")


class JobSerializer(serializers.ModelSerializer):
    object = ObjectNameField("job")
    documents = serializers.ListField(source="document_ids", child=serializers.CharField())

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
            "created_at",
            "started_at",
            "finished_at",
        ]


class JobResultSerializer(serializers.Serializer):
    job_id = serializers.CharField()
    object = ObjectNameField("job_result")
    output = serializers.JSONField()
    context = serializers.JSONField()
    spans_checked = serializers.IntegerField()
    spans_repaired = serializers.IntegerField()
    findings_dropped = serializers.IntegerField()
    created_at = serializers.DateTimeField()
