"""`model.changed`: the deployment's shipped models (`quire.api.provenance.model_catalogue`) against what
the workspace was last told of them."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from common.licences import ShippedModel
from quire.api.provenance import ShippedModelSerializer
from quire.webhooks.models import AnnouncedModel, Event
from quire.webhooks.services.outbox import event_publish


def models_announce_changes(*, catalogue: dict[str, ShippedModel]) -> list[Event]:
    """One `model.changed` event per model whose version or status differs from the last announced (or that
    is new, or gone from the build), with the model as `GET /v1/models/{id}` lists it and its `previous`
    version and status. A workspace that was never told of any model is told nothing the first time: its
    record starts from what runs now."""
    now = timezone.now()
    current = {key: model.state() for key, model in catalogue.items()}
    with transaction.atomic():
        known = {row.model_id: row for row in AnnouncedModel.objects.select_for_update()}
        first = not known
        events = []
        for key in sorted(current.keys() | known.keys()):
            row = known.get(key)
            previous = None if row is None else {"version": row.version or None, "status": row.status}
            if previous == current.get(key):
                continue
            if key not in current:
                data = {"id": key, "object": "model", "status": "removed", "version": None}
                AnnouncedModel.objects.filter(pk=key).delete()
            else:
                data = dict(ShippedModelSerializer(catalogue[key]).data)
                AnnouncedModel.objects.update_or_create(
                    model_id=key,
                    defaults={
                        "version": current[key]["version"] or "",
                        "status": current[key]["status"],
                        "announced_at": now,
                    },
                )
            if not first:
                events.append(event_publish(event_type="model.changed", data={**data, "previous": previous}))
    return events
