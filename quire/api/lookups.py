"""One rule for every /v1 view: an id that names nothing in the workspace is a 404 `resource_missing` naming
the parameter that carried it."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet

from common.refusals import ErrorCode, Refusal

M = TypeVar("M", bound=Model)


def found(objects: QuerySet[M], pk: str, *, noun: str, param: str) -> M:
    """The object `pk` of `objects` (a model's manager or a narrowed queryset), or the 404."""
    obj = objects.filter(pk=pk).first()
    if obj is None:
        raise Refusal(ErrorCode.RESOURCE_MISSING, f"No {noun} {pk}.", param)
    return obj
