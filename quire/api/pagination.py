"""Lists: newest-first cursor pagination and the filters every list takes (`ListFilter`)."""

from __future__ import annotations

import json
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from common.jsontext import json_value
from common.refusals import ErrorCode, Refusal
from quire.api.metadata import MAX_VALUE_LENGTH, bracketed, metadata_key_checked


class CreatedCursorPagination(BasePagination):
    """Newest first, by `created_at` then primary key; `?cursor=` from `next_cursor`, `?limit=` up to 100.

    A cursor holds the last row shown (its `created_at` and key), and the next page is the rows strictly
    after it in that order: rows deleted or added meanwhile neither shift the page nor hide a row that shares
    the shown row's `created_at`. The bound `created_at <= shown` beside that test is what an index on
    `created_at` can start its scan at (PostgreSQL cannot take the `OR` as an index condition), so a page deep in
    a long list reads its own rows, not every row before it."""

    page_size_query_param = "limit"
    max_page_size = 100
    page_size = api_settings.PAGE_SIZE

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        _filters_taken(request, view)
        limit = self.get_page_size(request)
        queryset = queryset.order_by("-created_at", "-pk")
        if (after := self.decode_cursor(request, queryset)) is not None:
            created_at, key = after
            queryset = queryset.filter(created_at__lte=created_at).filter(
                Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=key)
            )
        rows = list(queryset[: limit + 1])
        self.has_next = len(rows) > limit
        rows = rows[:limit]
        self.next_cursor = self.encode_cursor(rows[-1]) if self.has_next else None
        return rows

    @staticmethod
    def encode_cursor(row) -> str:
        position = json.dumps([row.created_at.isoformat(), row.pk], separators=(",", ":"))
        return urlsafe_b64encode(position.encode()).decode().rstrip("=")

    @staticmethod
    def decode_cursor(request: Request, queryset: QuerySet) -> tuple[datetime, object] | None:
        raw = request.query_params.get("cursor")
        if raw is None:
            return None
        refused = _invalid(
            "The cursor is not one this list hands out; start again from the first page, without cursor.",
            "cursor",
        )
        try:
            created, key = json_value(urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
            created_at = iso_moment(created) if isinstance(created, str) else None
            if created_at is None or isinstance(key, bool) or not isinstance(key, str | int):
                raise refused
            key = queryset.model._meta.pk.to_python(key)
        except (ValueError, TypeError, DjangoValidationError):
            raise refused from None
        return created_at, key

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdecimal() or int(raw) < 1:
            raise _invalid(f"limit must be an integer from 1 to {self.max_page_size}.", "limit")
        return min(int(raw), self.max_page_size)

    def get_paginated_response(self, data: list) -> Response:
        return Response({"data": data, "has_more": self.has_next, "next_cursor": self.next_cursor})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["data", "has_more", "next_cursor"],
            "properties": {
                "data": schema,
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": "string", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "The `next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Number of results per page, 1 to {self.max_page_size}.",
                "schema": {"type": "integer"},
            },
        ]


CREATED_BOUNDS = ("gt", "gte", "lt", "lte")
MAX_EXACT_LENGTH = 200
_UNIX_SECONDS = re.compile(r"^-?\d{1,12}$")


def _invalid(message: str, param: str) -> Refusal:
    return Refusal(ErrorCode.INVALID_PARAMETER, message, param)


ONE_VALUE_A_FILTER = "2026-12-07"
"""The API version from which a list filter given more than once, or given empty, is a 400 naming it. Before
it the last value counted, and an empty `batch_id` or `parent` on the document list filtered nothing."""


def filter_value(request: Request, name: str) -> str | None:
    """The value of the list filter `name` in `request`'s query, None when it is absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if getattr(request, "quire_version", ONE_VALUE_A_FILTER) >= ONE_VALUE_A_FILTER:
        if len(values) > 1:
            raise _invalid(f"{name} is given {len(values)} times; a filter takes one value.", name)
        if not values[0]:
            raise _invalid(f"{name} is empty; leave it out to list every object.", name)
    return values[-1]


ONE_VALUE_A_PARAMETER = "2026-12-08"
"""The API version from which any other query parameter given more than once (`/text?start=1&start=2`) is a 400
naming it, as a list filter is from ONE_VALUE_A_FILTER. Before it the last value counted."""


def query_values(request: Request) -> dict[str, str]:
    """The request's query parameters, one value a name (the last one before ONE_VALUE_A_PARAMETER)."""
    if getattr(request, "quire_version", ONE_VALUE_A_PARAMETER) >= ONE_VALUE_A_PARAMETER:
        for name, values in request.query_params.lists():
            if len(values) > 1:
                raise _invalid(f"{name} is given {len(values)} times; it takes one value.", name)
    return request.query_params.dict()


def iso_moment(text: str) -> datetime | None:
    """An ISO 8601 date-time in UTC (UTC unless it says otherwise; PostgreSQL takes offsets up to 15:59 only),
    or a date as its midnight UTC; None for anything else."""
    try:
        parsed = parse_datetime(text)
        if parsed is None and (day := parse_date(text)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:
        return None
    if parsed is None:
        return None
    if not timezone.is_aware(parsed):
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def parse_moment(raw: str, param: str) -> datetime:
    """An ISO 8601 date-time (UTC unless it says otherwise; a date means its midnight UTC) or Unix seconds.
    A `+` of a UTC offset that arrived unescaped in a query string (so as a space) is read as `+`."""
    text = raw.strip()
    if _UNIX_SECONDS.match(text):
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError):
            raise _invalid(f"{param} is out of range.", param) from None
    for candidate in (text, text.replace(" ", "+")):
        if (parsed := iso_moment(candidate)) is not None:
            return parsed
    raise _invalid(f"{param} must be an ISO 8601 date-time or Unix seconds.", param)


def _filters_taken(request: Request, view) -> None:
    """A list that takes no `created[...]` or `metadata[...]` filter (it has no `ListFilter`: events,
    deliveries, webhook endpoints, API keys) refuses one, rather than list every object as if it had filtered."""
    if view is not None and ListFilter in getattr(view, "filter_backends", ()):
        return
    for param in request.query_params:
        if param.split("[")[0].lower() in ("created", "metadata"):
            raise _invalid(f"This list cannot be filtered by {param}.", param)


Choices = Collection[str] | Callable[[], Collection[str]]


class ListFilter(BaseFilterBackend):
    """The filters of a list endpoint, combined (AND) and applied before the cursor pagination:

    - each field the view names in `list_filters` (`{"status": choices, "connector": ...}`; choices may be
      a callable), equal to one of its choices;
    - `created[gte]`, `created[gt]`, `created[lte]`, `created[lt]`: ISO 8601 date-times or Unix seconds;
    - each field the view names in `exact_filters`, equal to the value given (1 to 200 characters);
    - `metadata[key]=value`, repeated for more keys: objects whose metadata contains every pair (JSONB
      containment, served by the model's GIN index), unless the view sets `filter_metadata = False`.

    A bad value is a 400 that names the query parameter (`status`, `created[gte]`, `metadata[key]`)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view) -> QuerySet:
        params = request.query_params
        lookups: dict[str, object] = {}
        for name, choices in self._choices(view).items():
            value = filter_value(request, name)
            if value is None:
                continue
            if value not in choices:
                raise _invalid(f"{name} must be one of {', '.join(sorted(choices))}.", name)
            lookups[name] = value
        for name in getattr(view, "exact_filters", ()):
            value = filter_value(request, name)
            if value is None:
                continue
            if not 1 <= len(value) <= MAX_EXACT_LENGTH:
                raise _invalid(f"{name} must be 1 to {MAX_EXACT_LENGTH} characters.", name)
            lookups[name] = value
        bounds = {f"created[{bound}]": bound for bound in CREATED_BOUNDS}
        for param in params:
            if (param == "created" or param.startswith("created[")) and param not in bounds:
                raise _invalid("Filter by creation time with created[gte], [gt], [lte] or [lt].", param)
        for param, bound in bounds.items():
            if (raw := filter_value(request, param)) is not None:
                lookups[f"created_at__{bound}"] = parse_moment(raw, param)
        wanted = self._metadata(request) if getattr(view, "filter_metadata", True) else {}
        if wanted:
            lookups["metadata__contains"] = wanted
        return queryset.filter(**lookups)

    @staticmethod
    def _choices(view) -> dict[str, Collection[str]]:
        declared: Mapping[str, Choices] = getattr(view, "list_filters", {})
        return {name: choices() if callable(choices) else choices for name, choices in declared.items()}

    @staticmethod
    def _metadata(request: Request) -> dict[str, str]:
        params = request.query_params
        wanted = bracketed(params, "metadata")
        for key, value in wanted.items():
            param = f"metadata[{key}]"
            metadata_key_checked(key, param)
            filter_value(request, param)
            if not value or len(value) > MAX_VALUE_LENGTH:
                raise _invalid(f"{param} must be 1 to {MAX_VALUE_LENGTH} characters.", param)
        read = {f"metadata[{key}]" for key in wanted}
        for param in params:
            if param.lower().startswith("metadata") and param not in read:
                raise _invalid("Filter by metadata with metadata[key]=value.", param)
        return wanted

    def get_schema_operation_parameters(self, view) -> list[dict]:
        moment = {
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
            "description": "ISO 8601 date-time or Unix seconds",
        }
        fields = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"Only objects with this {name}.",
                "schema": {"type": "string", "enum": sorted(choices)},
            }
            for name, choices in self._choices(view).items()
        ]
        fields += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": f"Only objects with this {name}.",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_EXACT_LENGTH},
            }
            for name in getattr(view, "exact_filters", ())
        ]
        created = [
            {
                "name": "created",
                "in": "query",
                "required": False,
                "style": "deepObject",
                "explode": True,
                "description": "Creation time bounds: created[gte], created[gt], created[lte], created[lt].",
                "schema": {"type": "object", "properties": dict.fromkeys(CREATED_BOUNDS, moment)},
            },
        ]
        if not getattr(view, "filter_metadata", True):
            return [*fields, *created]
        return [
            *fields,
            *created,
            {
                "name": "metadata",
                "in": "query",
                "required": False,
                "style": "deepObject",
                "explode": True,
                "description": "metadata[key]=value: only objects whose metadata has every pair given.",
                "schema": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        ]
