"""`expand[]=...`: what a request asks to have inlined, checked against what the resource can expand."""

from __future__ import annotations

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from common.refusals import ErrorCode, Refusal


def expand_parameter(expandable: tuple[str, ...], description: str) -> OpenApiParameter:
    return OpenApiParameter(
        "expand[]",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        many=True,
        enum=expandable,
        description=description,
    )


def expanded(params: QueryDict, expandable: tuple[str, ...], resource: str) -> set[str]:
    """What `expand[]=...` (also `expand=` and `expand[0]=`) asks for; anything not expandable is a 400."""
    asked = {value for name in params if name.split("[")[0] == "expand" for value in params.getlist(name)}
    for value in sorted(asked):
        if value not in expandable:
            raise Refusal(
                ErrorCode.INVALID_PARAMETER,
                f"Cannot expand {value!r}; a {resource} expands {', '.join(expandable) or 'nothing'}.",
                "expand",
            )
    return asked
