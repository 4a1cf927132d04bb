"""`model.changed`: the deployment's shipped models against what a workspace was last told, in this process
with a toy catalogue, and through a real worker with the real one."""

from __future__ import annotations

import pytest
from celery import current_app
from django_tenants.utils import tenant_context

from common.licences import ShippedModel
from quire.api.provenance import model_catalogue
from quire.webhooks.models import AnnouncedModel, Delivery
from quire.webhooks.services import endpoint_create, endpoint_delete, models_announce_changes
from tests.support import Api, wait_for


def _toy(weights, key: str = "toy") -> ShippedModel:
    return ShippedModel(
        key=key,
        purpose="a toy",
        connectors=("legal",),
        data="toy data",
        licences=("Toy-1.0",),
        weights=weights,
        non_commercial=False,
        fallback="the rules",
    )


@pytest.fixture
def forgotten(hooks_tenant):
    """The hooks workspace, told of no model yet."""
    with tenant_context(hooks_tenant.tenant):
        AnnouncedModel.objects.all().delete()
    yield hooks_tenant
    with tenant_context(hooks_tenant.tenant):
        AnnouncedModel.objects.all().delete()


def test_a_change_of_version_status_or_catalogue_is_announced_once(
    forgotten, receiver, tmp_path, monkeypatch
):
    weights = tmp_path / "toy.npz"
    weights.write_bytes(b"first")
    toy = _toy(weights)
    with tenant_context(forgotten.tenant):
        wanting = endpoint_create(url=receiver.url, event_types=["model.changed"])
        other = endpoint_create(url=receiver.url, event_types=["job.succeeded"])
        try:
            assert models_announce_changes(catalogue={"toy": toy}) == []
            first_version = AnnouncedModel.objects.get(pk="toy").version
            assert first_version == toy.version() and AnnouncedModel.objects.get(pk="toy").status == "loaded"
            assert models_announce_changes(catalogue={"toy": toy}) == []

            weights.write_bytes(b"second")
            [changed] = models_announce_changes(catalogue={"toy": toy})
            assert changed.type == "model.changed" and changed.data["id"] == "toy"
            assert changed.data["version"] == toy.version() != first_version
            assert changed.data["previous"] == {"version": first_version, "status": "loaded"}
            assert changed.data["licences"] == ["Toy-1.0"] and changed.data["status"] == "loaded"
            assert [d.endpoint_id for d in Delivery.objects.filter(event=changed)] == [wanting.id]
            assert models_announce_changes(catalogue={"toy": toy}) == []

            monkeypatch.setenv("QUIRE_WITHHELD_LICENCES", "toy-1.0")
            [withheld] = models_announce_changes(catalogue={"toy": toy})
            assert (
                withheld.data["status"] == "withheld"
                and "QUIRE_WITHHELD_LICENCES" in withheld.data["status_reason"]
            )
            assert withheld.data["previous"]["status"] == "loaded"

            other_weights = tmp_path / "other.npz"
            other_weights.write_bytes(b"other")
            added, removed = models_announce_changes(catalogue={"other": _toy(other_weights, "other")})
            assert added.data["id"] == "other" and added.data["previous"] is None
            assert removed.data == {
                "id": "toy",
                "object": "model",
                "status": "removed",
                "version": None,
                "previous": {"version": toy.version(), "status": "withheld"},
            }
            assert list(AnnouncedModel.objects.values_list("model_id", flat=True)) == ["other"]
        finally:
            endpoint_delete(endpoint=wanting)
            endpoint_delete(endpoint=other)


def test_a_worker_announces_the_deployment_s_new_legal_weights_signed(
    celery_worker, api_hooks: Api, endpoints, receiver, forgotten
):
    endpoint = endpoints(receiver.url, ["model.changed"])
    receiver.secrets = [endpoint["secret"]]
    catalogue = model_catalogue()
    with tenant_context(forgotten.tenant):
        models_announce_changes(catalogue=catalogue)
        AnnouncedModel.objects.filter(pk="legal-clauses").update(version="000000000000")
    current_app.send_task("quire.webhooks.models_announce_changes_task")
    [changed] = wait_for(lambda: receiver.of_type("model.changed"), timeout=120)
    data = changed.payload["data"]
    assert data["id"] == "legal-clauses" and data["version"] == catalogue["legal-clauses"].version()
    assert data["previous"] == {"version": "000000000000", "status": "loaded"}
    assert changed.verified_with == [endpoint["secret"]]
    assert api_hooks.get(f"/v1/events/{changed.message_id}").json()["type"] == "model.changed"
    with tenant_context(forgotten.tenant):
        assert AnnouncedModel.objects.get(pk="legal-clauses").version == data["version"]
