"""`GET /v1/models`: every model file of this build, what it was trained on, its licence and whether this
deployment loads it (`common.licences.ShippedModel`)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.licences import ModelStatus, ShippedModel
from common.refusals import ErrorCode, Refusal
from quire.api.serializers import ObjectNameField


def model_catalogue() -> dict[str, ShippedModel]:
    from connectors import shipped_models
    from inference.embeddings import chunk_encoder_provenance, encoder_provenance

    return {
        model.key: model for model in (*shipped_models(), encoder_provenance(), chunk_encoder_provenance())
    }


class ShippedModelSerializer(serializers.Serializer):
    id = serializers.CharField(source="key")
    object = ObjectNameField("model")
    purpose = serializers.CharField()
    connectors = serializers.ListField(child=serializers.CharField())
    training_data = serializers.CharField(source="data")
    trained_here = serializers.BooleanField()
    licences = serializers.ListField(child=serializers.CharField())
    commercial_use = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=[status.value for status in ModelStatus])
    status_reason = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    training_documents = serializers.SerializerMethodField()

    def get_commercial_use(self, model: ShippedModel) -> bool:
        """Whether the training data's licence allows commercial use (false for weights marked non-commercial)."""
        return not model.non_commercial

    def get_training_documents(self, model: ShippedModel) -> int | None:
        """How many documents or claims TRAINED_ON.txt lists; null for weights not trained here."""
        trained_on = model.trained_on()
        return None if trained_on is None else len(trained_on)


class ShippedModelDetailSerializer(ShippedModelSerializer):
    model_card = serializers.CharField(source="card", allow_null=True)
    trained_on = serializers.ListField(child=serializers.CharField(), allow_null=True)


class ModelListView(APIView):
    @extend_schema(
        operation_id="models_list",
        responses={
            200: inline_serializer(
                "ModelList",
                {
                    "data": ShippedModelSerializer(many=True),
                    "has_more": serializers.BooleanField(),
                    "next_cursor": serializers.CharField(allow_null=True),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        data = ShippedModelSerializer(list(model_catalogue().values()), many=True).data
        return Response({"data": data, "has_more": False, "next_cursor": None})


class ModelDetailView(APIView):
    @extend_schema(operation_id="models_retrieve", responses={200: ShippedModelDetailSerializer})
    def get(self, request: Request, model_id: str) -> Response:
        model = model_catalogue().get(model_id)
        if model is None:
            raise Refusal(ErrorCode.RESOURCE_MISSING, f"No model {model_id}.", "model_id")
        return Response(ShippedModelDetailSerializer(model).data)
