"""The models the deployment ships: what each was trained on, its licence, its version and whether it is loaded
here, and since when the workspace has known that version (`model.changed`); every member reads it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from quire.api.provenance import model_catalogue
from quire.portal.access import portal_page
from quire.portal.views.common import page
from quire.webhooks.models import AnnouncedModel


@require_safe
@portal_page()
def model_list(request: HttpRequest) -> HttpResponse:
    since = dict(AnnouncedModel.objects.values_list("model_id", "announced_at"))
    rows = [(model, since.get(model.key)) for model in model_catalogue().values()]
    return page(request, "portal/models.html", {"rows": rows})
