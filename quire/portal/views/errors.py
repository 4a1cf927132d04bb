"""Not-found answers: JSON for the API and for clients that do not ask for HTML, a page for browsers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from quire.api import errors


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    wants_html = "text/html" in request.headers.get("Accept", "")
    if request.path.startswith("/v1/") or not wants_html:
        return errors.json_not_found(request, exception)
    return render(request, "portal/not_found.html", status=404)
