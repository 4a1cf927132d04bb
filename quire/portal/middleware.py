"""The portal's answer to a browser that opens an address only a form posts to (a link followed, a bookmark):
a page saying so, where Django's method check answers an empty 405."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code != 405
            or request.path.startswith("/v1/")
            or "text/html" not in request.headers.get("Accept", "")
            or response.content
        ):
            return response
        page = render(request, "portal/not_allowed.html", status=405)
        page["Allow"] = response.get("Allow", "")
        return page
