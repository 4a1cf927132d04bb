"""The models the deployment ships: what each was trained on, its licence, its version and whether it is loaded
here; every member reads it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from quire.api.provenance import model_catalogue
from quire.portal.access import portal_page
from quire.portal.views.common import page


@require_safe
@portal_page()
def model_list(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/models.html", {"models": list(model_catalogue().values())})
