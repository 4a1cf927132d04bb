from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class CreatedCursorPagination(CursorPagination):
    """Newest first; `?cursor=` from `next_cursor`, `?limit=` up to 100."""

    ordering = ("-created_at", "-pk")
    page_size_query_param = "limit"
    max_page_size = 100

    def get_paginated_response(self, data: list) -> Response:
        return Response(
            {"data": data, "has_more": self.has_next, "next_cursor": self._cursor_of(self.get_next_link())}
        )

    @staticmethod
    def _cursor_of(link: str | None) -> str | None:
        if not link:
            return None
        return parse_qs(urlparse(link).query).get("cursor", [None])[0]

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
