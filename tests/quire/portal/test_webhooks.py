"""Webhook pages: endpoints, secret reveal and rotation, test sends, delivery log and replay, roles."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from quire.webhooks.models import Delivery, WebhookEndpoint
from quire.webhooks.services import signing_secrets
from tests.support.portal import Workspace, signed_in

RECEIVER = "http://127.0.0.1:9/quire-hook"


@pytest.fixture
def admin(workspace: Workspace) -> Client:
    return signed_in(workspace, "admin")


def _in_schema(workspace: Workspace):
    from django_tenants.utils import tenant_context

    return tenant_context(workspace.tenant)


@override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=True)
def test_admin_adds_reveals_rotates_tests_and_replays(workspace, admin):
    missing = admin.post("/webhooks", {"url": "not a url"})
    assert missing.status_code == 400
    assert b"Enter a valid URL" in missing.content and b"This field is required" in missing.content

    added = admin.post("/webhooks", {"url": RECEIVER, "description": "ops", "event_types": ["job.succeeded"]})
    assert added.status_code == 302
    with _in_schema(workspace):
        endpoint = WebhookEndpoint.objects.get(url=RECEIVER)
    page = admin.get(added["Location"])
    assert endpoint.secret.encode() not in page.content

    revealed = admin.post(f"/webhooks/{endpoint.id}/secret", headers={"HX-Request": "true"})
    assert revealed.status_code == 200 and revealed["Cache-Control"] == "no-store"
    assert re.search(rb'value="(whsec_[^"]+)"', revealed.content).group(1).decode() == endpoint.secret

    assert admin.post(f"/webhooks/{endpoint.id}/rotate", {"grace_seconds": "3600"}).status_code == 302
    with _in_schema(workspace):
        rotated = WebhookEndpoint.objects.get(pk=endpoint.pk)
        assert rotated.secret != endpoint.secret
        assert signing_secrets(rotated) == [rotated.secret, endpoint.secret]

    assert admin.post(f"/webhooks/{endpoint.id}/test").status_code == 302
    with _in_schema(workspace):
        delivery = Delivery.objects.select_related("event").get(endpoint_id=endpoint.id)
    assert delivery.event.type == "webhook.test"
    log = admin.get(f"/webhooks/{endpoint.id}")
    assert delivery.id.encode() in log.content and b"webhook.test" in log.content
    assert b"Old secrets sign until" in log.content

    assert admin.post(f"/webhooks/{endpoint.id}/deliveries/{delivery.id}/replay").status_code == 302
    with _in_schema(workspace):
        replays = Delivery.objects.filter(endpoint_id=endpoint.id, is_replay=True)
        assert [d.event_id for d in replays] == [delivery.event_id]


@override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=True)
def test_an_endpoint_switched_off_in_the_portal_says_so(workspace, admin):
    added = admin.post("/webhooks", {"url": RECEIVER + "/off", "event_types": ["*"]})
    endpoint_id = added["Location"].rsplit("/", 1)[-1]
    saved = admin.post(f"/webhooks/{endpoint_id}", {"url": RECEIVER + "/off", "event_types": ["*"]})
    assert saved.status_code == 302, saved.content
    with _in_schema(workspace):
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (endpoint.status, endpoint.disabled_reason) == ("disabled", "disabled in the portal")
    assert b"disabled in the portal" in admin.get(f"/webhooks/{endpoint_id}").content


@override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=True)
def test_admin_deletes_an_endpoint(workspace, admin):
    added = admin.post("/webhooks", {"url": RECEIVER + "/gone", "event_types": ["*"]})
    endpoint_id = added["Location"].rsplit("/", 1)[-1]
    assert signed_in(workspace, "developer").post(f"/webhooks/{endpoint_id}/delete").status_code == 403
    assert admin.post(f"/webhooks/{endpoint_id}/delete").status_code == 302
    with _in_schema(workspace):
        assert not WebhookEndpoint.objects.filter(pk=endpoint_id).exists()


@override_settings(QUIRE_WEBHOOKS_ALLOW_PRIVATE=True)
def test_viewer_cannot_create_endpoints_or_see_secrets(workspace):
    viewer = signed_in(workspace, "viewer")
    listing = viewer.get("/webhooks")
    assert listing.status_code == 200 and b"Add an endpoint" not in listing.content
    viewer_url = RECEIVER + "/viewer"
    assert viewer.post("/webhooks", {"url": viewer_url, "event_types": ["*"]}).status_code == 403
    developer = signed_in(workspace, "developer")
    assert developer.post("/webhooks", {"url": viewer_url, "event_types": ["*"]}).status_code == 403
    with _in_schema(workspace):
        assert not WebhookEndpoint.objects.filter(url=viewer_url).exists()


def test_another_workspaces_endpoint_is_not_found(workspace, other_workspace):
    from django_tenants.utils import tenant_context

    from quire.webhooks.signing import new_secret

    with tenant_context(other_workspace.tenant):
        foreign = WebhookEndpoint.objects.create(url=RECEIVER, event_types=["*"], secret=new_secret())
    admin = signed_in(workspace, "admin")
    assert admin.get(f"/webhooks/{foreign.id}").status_code == 404
    assert admin.post(f"/webhooks/{foreign.id}/secret").status_code == 404
