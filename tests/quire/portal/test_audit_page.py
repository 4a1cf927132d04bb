"""The portal's audit log page and its CSV: sign-ins (and refused ones) and member actions recorded with
the member as actor; admins read it and set the retention period, others get the 403 page."""

from __future__ import annotations

from django.test import Client

from tenants.models import AuditEvent
from tests.support.portal import signed_in


def test_sign_ins_and_the_audit_page(workspace):
    Client(HTTP_HOST=workspace.host).post("/login", {"username": workspace.emails["viewer"], "password": "x"})
    admin = signed_in(workspace, "admin")
    events = AuditEvent.objects.filter(tenant=workspace.tenant).order_by("-created_at", "-pk")
    sign_in = events.filter(action="member.sign_in").first()
    assert (sign_in.actor_type, sign_in.actor_id) == ("member", workspace.emails["admin"])
    assert sign_in.ip == "127.0.0.1" and sign_in.request_id.startswith("req_")
    refused = events.filter(action="member.sign_in_refused").first()
    assert refused.object_id == workspace.emails["viewer"] and (refused.actor_type, refused.actor_id) == (
        "anonymous",
        "",
    )
    assert refused.ip == "127.0.0.1"

    page = admin.get("/audit", {"action": "member.sign_in"})
    assert page.status_code == 200 and sign_in.id.encode() in page.content
    download = admin.get("/audit.csv")
    assert download.status_code == 200
    assert sign_in.id in b"".join(download.streaming_content).decode()
    export = events.filter(action="export.create").first()
    assert (export.actor_id, export.object_type) == (workspace.emails["admin"], "audit_events")
    assert admin.post("/audit", {"days": "90"}).status_code == 302
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.retention_days == 90
    change = events.filter(action="workspace.retention_change").first()
    assert change.details == {"from": None, "to": 90} and change.actor_id == workspace.emails["admin"]
    assert b'value="90"' in admin.get("/audit").content
    admin.post("/audit", {"days": ""})
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.retention_days is None

    developer = Client(HTTP_HOST=workspace.host)
    developer.force_login(workspace.member("developer").user)
    assert developer.get("/audit").status_code == 403


def test_refused_sign_ins_are_recorded_for_members_only_and_not_past_the_limit(workspace, limiter_clock):
    from django.conf import settings

    from quire.api.throttling import parse_rate
    from tenants.services import member_add
    from tests.support.portal import PASSWORD

    limit, _ = parse_rate(settings.QUIRE_SIGN_IN_RATE)
    email = "flooded@portal-one.example.com"
    member_add(tenant=workspace.tenant, email=email, role="viewer", password=PASSWORD)
    refused = AuditEvent.objects.filter(tenant=workspace.tenant, action="member.sign_in_refused")
    before = refused.count()
    client = Client(HTTP_HOST=workspace.host)
    for _ in range(limit * 3):
        client.post("/login", {"username": email, "password": "guess"})
    assert refused.count() == before + limit
    for attempt in range(5):
        client.post("/login", {"username": f"nobody{attempt}@anywhere.example", "password": "x"})
    client.post("/login", {"username": '=HYPERLINK("http://x")@a', "password": "x"})
    assert refused.count() == before + limit


def test_a_refused_retention_period_is_shown_on_its_field_with_what_was_typed(workspace):
    from tenants.models import RETENTION_DAYS_MAX

    admin = signed_in(workspace, "admin")
    workspace.tenant.refresh_from_db()
    kept = workspace.tenant.retention_days
    for typed in ("0", "ten", str(RETENTION_DAYS_MAX + 1)):
        refused = admin.post("/audit", {"days": typed})
        assert refused.status_code == 400, typed
        shown = refused.content.decode()
        assert f'value="{typed}"' in shown and 'id="id_days_error"' in shown and "Audit log" in shown
    developer = signed_in(workspace, "developer")
    assert developer.post("/audit", {"days": "30"}).status_code == 403
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.retention_days == kept


def test_an_admin_sets_the_languages_the_workspaces_scans_are_read_in(workspace):
    from django.test import override_settings

    admin = signed_in(workspace, "admin")
    events = AuditEvent.objects.filter(tenant=workspace.tenant, action="workspace.ocr_languages_change")
    with override_settings(QUIRE_INGEST_OCR_LANGUAGES="eng+deu+fra"):
        page = admin.get("/audit").content.decode()
        assert "OCR languages" in page and "of eng, deu, fra" in page
        for typed in ("spa", "German", "deu,eng", "eng+eng", "deu+eng+deu"):
            refused = admin.post("/audit/scans", {"languages": typed})
            assert refused.status_code == 400, typed
            shown = refused.content.decode()
            assert f'value="{typed}"' in shown and 'id="id_languages_error"' in shown
            assert 'action="/audit" class="inline-form" aria-label="Filter the audit log"' in shown
        assert admin.post("/audit/scans", {"languages": "deu+eng"}).status_code == 302
        workspace.tenant.refresh_from_db()
        assert workspace.tenant.ocr_languages == "deu+eng"
        assert events.first().details == {"from": "", "to": "deu+eng"}
        assert b'value="deu+eng"' in admin.get("/audit").content
        assert signed_in(workspace, "developer").post("/audit/scans", {"languages": ""}).status_code == 403
        assert admin.post("/audit/scans", {"languages": ""}).status_code == 302
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.ocr_languages == "" and events.count() == 2


def test_an_admin_sets_when_the_workspaces_office_pictures_are_read(workspace):
    admin = signed_in(workspace, "admin")
    events = AuditEvent.objects.filter(tenant=workspace.tenant, action="workspace.ocr_pictures_change")
    page = admin.get("/audit").content.decode()
    assert "Read pictures in Office documents" in page and "As the deployment does (only when" in page
    refused = admin.post("/audit/scans", {"languages": "", "pictures": "sometimes"})
    assert refused.status_code == 400 and 'id="id_pictures_error"' in refused.content.decode()
    assert admin.post("/audit/scans", {"languages": "", "pictures": "always"}).status_code == 302
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.ocr_pictures == "always"
    assert '<option value="always" selected>' in admin.get("/audit").content.decode()
    assert admin.post("/audit/scans", {"languages": "", "pictures": ""}).status_code == 302
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.ocr_pictures == ""
    assert [e.details for e in events.order_by("created_at", "pk")] == [
        {"from": "", "to": "always"},
        {"from": "always", "to": ""},
    ]


def test_the_log_a_refused_form_shows_pages_and_filters_at_the_logs_own_address(workspace, monkeypatch):
    from quire.portal.views import audit

    admin = signed_in(workspace, "admin")
    admin.post("/audit", {"days": "400"})
    admin.post("/audit", {"days": ""})
    monkeypatch.setattr(audit, "PAGE_SIZE", 1)
    shown = admin.post("/audit/scans", {"languages": "German"}).content.decode()
    assert 'href="/audit?page=2' in shown and 'action="/audit" class="inline-form"' in shown
    assert admin.get("/audit?page=2").status_code == 200
