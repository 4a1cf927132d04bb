from rest_framework import serializers

from quire.api.serializers import ObjectNameField, ResourceSerializer, StrictSerializer
from quire.clauses.models import ADVICE_BELOW, ClauseType


class ClauseTypeCreateSerializer(StrictSerializer):
    key = serializers.CharField(
        max_length=60, help_text="Lower-case letters, digits and _; unique per workspace."
    )
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)
    examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        help_text="At least 10 passages that are this clause.",
    )
    counter_examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        default=list,
        help_text="Passages that look alike but are not this clause.",
    )


class ClauseTypeExamplesSerializer(StrictSerializer):
    examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False, default=list
    )
    counter_examples = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False), required=False, default=list
    )


class NearMissSerializer(serializers.Serializer):
    document = serializers.CharField(help_text="The document the passage is in.")
    start = serializers.IntegerField(help_text="The passage's first character in the document's text.")
    end = serializers.IntegerField(help_text="One past its last character.")
    text = serializers.CharField()
    score = serializers.FloatField(help_text="The head's probability that the passage is the clause.")


class ClauseTypeSerializer(ResourceSerializer):
    object = ObjectNameField("clause_type")
    example_count = serializers.IntegerField(read_only=True)
    counter_example_count = serializers.IntegerField(read_only=True)
    precision = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Cross-validated precision of the trained head."
    )
    recall = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Cross-validated recall of the trained head."
    )
    near_misses = NearMissSerializer(
        many=True,
        read_only=True,
        help_text=(
            "The workspace's passages the trained head scores highest that are neither examples nor "
            "counter-examples: post those that are the clause as examples and the others as counter_examples."
        ),
    )
    advice = serializers.CharField(
        read_only=True,
        help_text=f"What to add when the cross-validated precision or recall is under {ADVICE_BELOW}; empty otherwise.",
    )

    class Meta:
        model = ClauseType
        fields = [
            "id",
            "object",
            "key",
            "name",
            "description",
            "status",
            "failure_reason",
            "version",
            "precision",
            "recall",
            "advice",
            "near_misses",
            "example_count",
            "counter_example_count",
            "negative_count",
            "trained_at",
            "created_at",
        ]


class ClauseTypeListedSerializer(ClauseTypeSerializer):
    """A clause type in a list: its passage counts come from the list's query (`ClauseType.objects.listed()`),
    which never reads the passages themselves."""

    example_count = serializers.IntegerField(source="listed_example_count", read_only=True)
    counter_example_count = serializers.IntegerField(source="listed_counter_example_count", read_only=True)


class ClauseTypeSummarySerializer(ClauseTypeListedSerializer):
    """A clause type in a list from API version 2026-12-05 on: without its `near_misses` (up to ten passages),
    which `GET /v1/clause_types/{id}` or `expand[]=near_misses` give."""

    class Meta(ClauseTypeSerializer.Meta):
        fields = [name for name in ClauseTypeSerializer.Meta.fields if name != "near_misses"]


class ClauseTypeWithExamplesSerializer(ClauseTypeSerializer):
    """A clause type with the passages it trains on (`expand[]=examples`): enough to create it again elsewhere.
    Both lists are declared optional (present only when expanded), hence not read-only: output only."""

    examples = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="With `expand[]=examples`."
    )
    counter_examples = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="With `expand[]=examples`."
    )

    class Meta(ClauseTypeSerializer.Meta):
        fields = [*ClauseTypeSerializer.Meta.fields, "examples", "counter_examples"]
