"""Portal access rules through Django's test client: sign-in per workspace, roles on every page and action,
another workspace's members get 404s, CSRF, invitations and password reset by e-mail."""

from __future__ import annotations

import re
from functools import partial

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client, override_settings

from quire.portal.views.api_keys import ISSUED_SESSION_KEY
from tenants.models import ApiKey, AuditEvent, Member
from tenants.services import api_key_issue
from tests.support import Api
from tests.support.portal import PASSWORD, signed_in

LOCMEM_EMAIL = "django.core.mail.backends.locmem.EmailBackend"
HTML = {"HTTP_ACCEPT": "text/html"}


def test_anonymous_is_sent_to_sign_in(workspace):
    client = Client(HTTP_HOST=workspace.host)
    for path in ("/", "/documents", "/jobs", "/api-keys", "/members"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login?next=")
    assert client.get("/login").status_code == 200


def test_a_sign_in_link_whose_next_is_the_sign_in_page_itself_goes_home(workspace):
    member = signed_in(workspace, "viewer")
    for next_page in ("/login", "/login?next=/login"):
        response = member.get("/login", {"next": next_page})
        assert (response.status_code, response["Location"]) == (302, "/"), next_page
    anonymous = Client(HTTP_HOST=workspace.host)
    signed = anonymous.post(
        "/login?next=/login", {"username": workspace.emails["viewer"], "password": PASSWORD}, follow=True
    )
    assert signed.status_code == 200 and signed.redirect_chain[-1] == ("/", 302)


def test_a_polling_fragment_whose_session_ended_sends_the_whole_page_to_sign_in(workspace):
    """A poll (htmx) after the member signed out elsewhere gets no sign-in form to swap into the page it polls
    from: the browser is sent to sign in, and back to that page after."""
    member = signed_in(workspace, "viewer")
    member.post("/logout")
    page = f"http://{workspace.host}/documents?page=2&q=lease"
    polled = member.get("/documents/table", {"page": 2}, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page)
    assert polled.status_code == 200 and polled.content == b""
    assert polled["HX-Redirect"] == "/login?next=/documents%3Fpage%3D2%26q%3Dlease"
    elsewhere = member.get(
        "/jobs/table", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/jobs"
    )
    assert elsewhere["HX-Redirect"] == "/login?next=/jobs/table"
    assert member.get("/jobs/table").status_code == 302


def test_a_form_posted_after_the_session_ended_signs_in_back_to_the_page_of_the_form(workspace):
    """Sign-in goes back to the page the form was on, not to the address it posts to, which opened would
    carry out nothing."""
    member = signed_in(workspace, "admin")
    member.post("/logout")
    posted = member.post("/api-keys/key_x/revoke", HTTP_REFERER=f"http://{workspace.host}/api-keys?page=2")
    assert (posted.status_code, posted["Location"]) == (302, "/login?next=/api-keys%3Fpage%3D2")
    for referer in ("https://evil.example/api-keys", ""):
        posted = member.post("/api-keys/key_x/revoke", HTTP_REFERER=referer)
        assert (posted.status_code, posted["Location"]) == (302, "/login?next=/"), referer
    assert member.get("/api-keys")["Location"] == "/login?next=/api-keys"


def test_an_address_only_a_form_posts_to_opened_in_a_browser_says_so(workspace):
    member = signed_in(workspace, "admin")
    opened = member.get("/api-keys/key_x/revoke", **HTML)
    assert opened.status_code == 405 and opened["Allow"] == "POST"
    assert b"Use the page's button" in opened.content and b"Go to the overview" in opened.content
    assert member.get("/api-keys/key_x/revoke").content == b""


def test_sign_in_errors_and_members_of_another_workspace(workspace, other_workspace):
    client = Client(HTTP_HOST=workspace.host)
    wrong = client.post("/login", {"username": workspace.emails["owner"], "password": "nope"})
    assert wrong.status_code == 200
    assert b"The e-mail or password is incorrect." in wrong.content and b"case-sensitive" not in wrong.content
    outsider = client.post("/login", {"username": other_workspace.emails["owner"], "password": PASSWORD})
    assert outsider.status_code == 200 and b"The e-mail or password is incorrect." in outsider.content
    assert "_auth_user_id" not in client.session


def test_sign_in_attempts_are_limited_per_email_over_a_sliding_window(workspace, limiter_clock):
    from django.conf import settings

    from quire.api.throttling import parse_rate
    from tenants.services import member_add

    limit, period = parse_rate(settings.QUIRE_SIGN_IN_RATE)
    email = "guessed@portal-one.example.com"
    member_add(tenant=workspace.tenant, email=email, role="viewer", password=PASSWORD)
    client = Client(HTTP_HOST=workspace.host)
    limiter_clock.advance(period - 1)
    for _ in range(limit):
        wrong = client.post("/login", {"username": email, "password": "guess"})
        assert b"The e-mail or password is incorrect" in wrong.content
    limiter_clock.advance(2)  # past a fixed window's edge: the attempts still count
    right = client.post("/login", {"username": email, "password": PASSWORD})
    assert right.status_code == 200 and b"Too many sign-in attempts" in right.content
    assert "_auth_user_id" not in client.session
    assert signed_in(workspace, "viewer").get("/documents").status_code == 200
    elsewhere = Client(HTTP_HOST=f"{workspace.host}:8443")
    assert (
        b"Too many sign-in attempts"
        in elsewhere.post("/login", {"username": email, "password": PASSWORD}).content
    )
    limiter_clock.advance(period)  # every attempt has left the window
    assert client.post("/login", {"username": email, "password": PASSWORD}).status_code == 302


def _fullwidth(text: str, letters: int) -> str:
    """`text` with its first `letters` ASCII letters in their fullwidth forms, which NFKC folds back."""
    out = []
    for ch in text:
        if letters and "a" <= ch <= "z":
            out.append(chr(ord(ch) - ord("a") + 0xFF41))
            letters -= 1
        else:
            out.append(ch)
    return "".join(out)


def test_every_spelling_of_an_email_signs_in_and_counts_as_that_email(workspace, limiter_clock):
    from django.conf import settings

    from quire.api.throttling import parse_rate
    from tenants.services import member_add

    limit, period = parse_rate(settings.QUIRE_SIGN_IN_RATE)
    email = "spelled@portal-one.example.com"
    member_add(tenant=workspace.tenant, email=email, role="viewer", password=PASSWORD)
    capitals = Client(HTTP_HOST=workspace.host)
    assert (
        capitals.post(
            "/login", {"username": " Spelled@Portal-One.example.COM ", "password": PASSWORD}
        ).status_code
        == 302
    )
    assert capitals.get("/documents").status_code == 200
    assert (
        Client(HTTP_HOST=workspace.host)
        .post("/login", {"username": _fullwidth(email, 3), "password": PASSWORD})
        .status_code
        == 302
    )

    limiter_clock.advance(period)
    client = Client(HTTP_HOST=workspace.host)
    for attempt in range(limit):
        wrong = client.post(
            "/login", {"username": _fullwidth(email.upper(), attempt % 4), "password": "guess"}
        )
        assert b"The e-mail or password is incorrect" in wrong.content
    for spelling in (email, _fullwidth(email, 5), email.upper()):
        refused = client.post("/login", {"username": spelling, "password": PASSWORD})
        assert b"Too many sign-in attempts" in refused.content
    assert "_auth_user_id" not in client.session


def test_another_workspaces_member_gets_404_everywhere(workspace, other_workspace):
    client = Client(HTTP_HOST=workspace.host)
    client.force_login(other_workspace.member("owner").user)
    for path in ("/", "/documents", "/jobs", "/api-keys", "/members", "/jobs/job_x", "/documents/doc_x"):
        response = client.get(path, **HTML)
        assert response.status_code == 404, path
        assert b"Not found" in response.content
    assert client.post("/api-keys", {"name": "sneaky", "role": "admin"}).status_code == 404
    assert not ApiKey.objects.filter(tenant=workspace.tenant, name="sneaky").exists()


def test_viewer_reads_but_cannot_write(workspace):
    viewer = signed_in(workspace, "viewer")
    documents = viewer.get("/documents")
    assert documents.status_code == 200
    assert b'enctype="multipart/form-data"' not in documents.content
    assert b"Start a job" not in viewer.get("/jobs").content
    assert b"Invite someone" not in viewer.get("/members").content
    assert viewer.get("/api-keys").status_code == 403
    refused = viewer.post("/api-keys", {"name": "viewer key", "role": "viewer"})
    assert refused.status_code == 403 and b"Not allowed" in refused.content
    assert not ApiKey.objects.filter(name="viewer key").exists()
    assert viewer.post("/members", {"email": "x@example.com", "role": "viewer"}).status_code == 403
    assert viewer.post("/jobs", {"connector": "legal"}).status_code == 403


def test_developer_cannot_manage_keys_or_members(workspace):
    developer = signed_in(workspace, "developer")
    assert developer.get("/jobs").status_code == 200
    assert developer.post("/api-keys", {"name": "dev key", "role": "admin"}).status_code == 403
    viewer = workspace.member("viewer")
    assert developer.post(f"/members/{viewer.pk}/remove").status_code == 403
    assert Member.objects.filter(pk=viewer.pk).exists()


def test_admin_issues_and_revokes_keys_of_its_own_workspace_only(workspace, other_workspace):
    admin = signed_in(workspace, "admin")
    created = admin.post("/api-keys", {"name": "ci runner", "role": "developer"})
    assert created.status_code == 302 and created["Location"] == "/api-keys"
    handed_over = admin.session[ISSUED_SESSION_KEY]
    assert handed_over["name"] == "ci runner" and not handed_over["secret"].startswith("qk_live_")
    shown = admin.get("/api-keys")
    assert shown["Cache-Control"] == "no-store"
    secret = re.search(rb'value="(qk_live_[^"]+)"', shown.content).group(1).decode()
    assert not [row for row in Session.objects.all() if secret in row.session_data + str(row.get_decoded())]
    key = ApiKey.objects.get(tenant=workspace.tenant, name="ci runner")
    assert key.display_prefix == secret[:12] and key.created_by == workspace.member("admin")
    reloaded = admin.get("/api-keys")
    assert secret.encode() not in reloaded.content
    assert ApiKey.objects.filter(tenant=workspace.tenant, name="ci runner").count() == 1
    blank = admin.post("/api-keys", {"name": "  ", "role": "developer"})
    assert blank.status_code == 400 and b'class="error"' in blank.content

    foreign = ApiKey.objects.filter(tenant=other_workspace.tenant).first()
    assert admin.post(f"/api-keys/{foreign.id}/revoke").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None
    assert admin.post(f"/api-keys/{key.id}/revoke").status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_head_request_does_not_use_up_the_one_showing_of_a_new_key(workspace):
    admin = signed_in(workspace, "admin")
    admin.post("/api-keys", {"name": "probed by head", "role": "viewer"})
    assert admin.head("/api-keys").status_code == 200
    shown = admin.get("/api-keys")
    assert shown["Cache-Control"] == "no-store" and b'value="qk_live_' in shown.content
    assert b'value="qk_live_' not in admin.get("/api-keys").content


def test_csrf_is_enforced(workspace):
    client = Client(HTTP_HOST=workspace.host, enforce_csrf_checks=True)
    client.force_login(workspace.member("admin").user)
    assert client.post("/api-keys", {"name": "no token", "role": "viewer"}).status_code == 403
    page = client.get("/api-keys")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    assert (
        client.post(
            "/api-keys", {"name": "with token", "role": "viewer", "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    assert ApiKey.objects.filter(name="with token").exists()
    assert not ApiKey.objects.filter(name="no token").exists()


def test_role_rules_for_members(workspace):
    admin = signed_in(workspace, "admin")
    owner = workspace.member("owner")
    assert admin.post(f"/members/{owner.pk}/role", {"role": "viewer"}).status_code == 302
    owner.refresh_from_db()
    assert owner.role == "owner"
    refused = admin.post("/members", {"email": "boss@example.com", "role": "owner"})
    assert refused.status_code == 400 and b"Only an owner can make someone an owner" in refused.content

    owner_client = signed_in(workspace, "owner")
    owner_client.post(f"/members/{owner.pk}/role", {"role": "admin"}, follow=True)
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_an_admin_is_not_offered_the_owner_role_nor_changes_to_owners_that_are_always_refused(workspace):
    """Only an owner grants the owner role or changes an owner: an admin's members page offers neither, so no
    one picks a change that can only come back refused; an owner's page offers both."""
    import re

    owner, admin = workspace.member("owner"), workspace.member("admin")

    def offered(role: str) -> tuple[str, str, str]:
        page = signed_in(workspace, role).get("/members").content.decode()
        invite = re.search(r'<select name="role"[^>]*id="id_role".*?</select>', page, re.S).group(0)
        owner_row = re.search(rf'<tr data-member="{owner.user.email}">.*?</tr>', page, re.S).group(0)
        admin_row = re.search(rf'<tr data-member="{admin.user.email}">.*?</tr>', page, re.S).group(0)
        return invite, owner_row, admin_row

    invite, owner_row, admin_row = offered("admin")
    assert 'value="owner"' not in invite and 'value="admin"' in invite
    assert "<form" not in owner_row and "Owner" in owner_row
    assert f"/members/{admin.pk}/role" in admin_row and 'value="owner"' not in admin_row
    invite, owner_row, admin_row = offered("owner")
    assert 'value="owner"' in invite and 'value="owner"' in admin_row
    assert f"/members/{owner.pk}/role" in owner_row and f"/members/{owner.pk}/remove" in owner_row


def test_an_invitation_to_an_address_longer_than_a_username_is_refused_on_the_form(workspace):
    long_address = "a" * 100 + "@" + "b" * 60 + ".example.com"
    admin = signed_in(workspace, "admin")
    refused = admin.post("/members", {"email": long_address, "role": "viewer"})
    assert refused.status_code == 400 and b"too long: at most 150 characters" in refused.content
    assert not Member.objects.filter(tenant=workspace.tenant, user__username=long_address).exists()


@override_settings(EMAIL_BACKEND=LOCMEM_EMAIL)
def test_invite_sets_a_password_and_signs_in(workspace):
    mail.outbox = []
    admin = signed_in(workspace, "admin")
    invited = admin.post("/members", {"email": "New.Person@Example.com", "role": "developer"}, follow=True)
    assert invited.redirect_chain[-1][1] == 302
    assert b"a link to set a password, or to sign in" in invited.content
    member = Member.objects.get(tenant=workspace.tenant, user__username="new.person@example.com")
    assert member.role == "developer" and not member.user.has_usable_password()
    again = admin.post("/members", {"email": "new.person@example.com", "role": "viewer"})
    assert again.status_code == 400 and b"already a member" in again.content

    (message,) = mail.outbox
    assert message.to == ["new.person@example.com"]
    link = re.search(rf"http://{re.escape(workspace.host)}(/password-reset/\S+)", message.body).group(1)
    person = Client(HTTP_HOST=workspace.host)
    form = person.get(link, follow=True)
    assert b"Choose a password" in form.content
    set_url = form.redirect_chain[-1][0] if form.redirect_chain else link
    mismatch = person.post(set_url, {"new_password1": "a fine passphrase 42", "new_password2": "other"})
    assert mismatch.status_code == 200 and b'class="error"' in mismatch.content
    done = person.post(
        set_url, {"new_password1": "a fine passphrase 42", "new_password2": "a fine passphrase 42"}
    )
    assert done.status_code == 302
    signed = person.post("/login", {"username": "new.person@example.com", "password": "a fine passphrase 42"})
    assert signed.status_code == 302
    assert person.get("/jobs").status_code == 200


@override_settings(EMAIL_BACKEND=LOCMEM_EMAIL)
def test_password_reset_mails_a_link_on_the_workspace_host(workspace):
    mail.outbox = []
    client = Client(HTTP_HOST=workspace.host)
    response = client.post("/password-reset", {"email": workspace.emails["viewer"]})
    assert response.status_code == 302 and response["Location"] == "/password-reset/sent"
    (message,) = mail.outbox
    assert f"http://{workspace.host}/password-reset/" in message.body


@override_settings(EMAIL_BACKEND=LOCMEM_EMAIL, QUIRE_PASSWORD_RESET_RATE="2/hour")
def test_password_reset_mails_an_address_at_most_the_rate_and_answers_alike_past_it(workspace, limiter_clock):
    mail.outbox = []
    client = Client(HTTP_HOST=workspace.host)
    email = workspace.emails["developer"]
    answers = [client.post("/password-reset", {"email": email.upper()}) for _ in range(4)]
    assert [(a.status_code, a["Location"]) for a in answers] == [(302, "/password-reset/sent")] * 4
    assert [m.to for m in mail.outbox] == [[email]] * 2
    client.post("/password-reset", {"email": workspace.emails["viewer"]})
    assert mail.outbox[-1].to == [workspace.emails["viewer"]]
    limiter_clock.advance(3601)
    client.post("/password-reset", {"email": email})
    assert len(mail.outbox) == 4 and mail.outbox[-1].to == [email]


@override_settings(EMAIL_BACKEND=LOCMEM_EMAIL, QUIRE_PASSWORD_RESET_RATE="100/hour")
def test_password_reset_on_a_workspace_host_mails_only_its_members(workspace, other_workspace, limiter_clock):
    from django.contrib.auth import get_user_model

    staff, _ = get_user_model().objects.get_or_create(
        username="reset-staff", defaults={"email": "ops@reset-staff.example.com", "is_staff": True}
    )
    outsider = other_workspace.emails["owner"]

    def reset(host: str, email: str) -> list[str]:
        mail.outbox = []
        answer = Client(HTTP_HOST=host).post("/password-reset", {"email": email})
        assert (answer.status_code, answer["Location"]) == (302, "/password-reset/sent")
        return [re.search(r"http://([^/\s]+)/password-reset/", m.body).group(1) for m in mail.outbox]

    assert reset(workspace.host, outsider) == []
    assert reset(workspace.host, staff.email) == []
    assert reset(other_workspace.host, outsider) == [other_workspace.host]
    assert reset("127.0.0.1:8000", outsider) == ["127.0.0.1:8000"]
    assert reset("127.0.0.1:8000", staff.email) == ["127.0.0.1:8000"]
    assert reset(workspace.host, workspace.emails["owner"]) == [workspace.host]


def test_public_host_lists_the_members_workspaces(workspace, other_workspace):
    from tenants.services import member_add

    member_add(tenant=other_workspace.tenant, email=workspace.emails["developer"], role="viewer")
    client = Client(HTTP_HOST="127.0.0.1:8000")
    assert client.get("/").status_code == 302
    client.post("/login", {"username": workspace.emails["developer"], "password": PASSWORD})
    picker = client.get("/")
    assert picker.status_code == 200
    assert f"http://{workspace.host}:8000/".encode() in picker.content
    assert f"http://{other_workspace.host}:8000/".encode() in picker.content
    assert client.get("/documents", **HTML).status_code == 404


@pytest.mark.parametrize("path", ["/v1/nothing", "/nothing-here"])
def test_not_found_stays_json_for_api_clients(path):
    response = Client().get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_an_invitation_needs_a_free_seat(make_tenant):
    from billing.entitlements import entitlements_for
    from tenants.services import member_add

    provisioned = make_tenant("portal-seats")
    owner = member_add(
        tenant=provisioned.tenant, email="owner@seats.example.com", role="owner", password=PASSWORD
    )
    seats = entitlements_for(provisioned.tenant).seats
    for number in range(seats - Member.objects.filter(tenant=provisioned.tenant).count()):
        member_add(tenant=provisioned.tenant, email=f"seat{number}@seats.example.com", role="viewer")
    client = Client(HTTP_HOST=f"portal-seats.{_base_domain()}")
    client.force_login(owner.user)
    refused = client.post("/members", {"email": "one.more@seats.example.com", "role": "viewer"})
    assert refused.status_code == 400 and b"all are taken" in refused.content
    assert not Member.objects.filter(
        tenant=provisioned.tenant, user__username="one.more@seats.example.com"
    ).exists()
    Member.objects.filter(tenant=provisioned.tenant, user__username="seat0@seats.example.com").delete()
    with override_settings(EMAIL_BACKEND=LOCMEM_EMAIL):
        assert (
            client.post("/members", {"email": "one.more@seats.example.com", "role": "viewer"}).status_code
            == 302
        )


def _base_domain() -> str:
    from django.conf import settings

    return settings.QUIRE_BASE_DOMAIN


def test_admin_moves_a_key_to_the_current_api_version(workspace, other_workspace):
    from django.conf import settings

    current = settings.QUIRE_API_VERSIONS[-1]
    admin, developer = signed_in(workspace, "admin"), signed_in(workspace, "developer")
    issued = api_key_issue(tenant=workspace.tenant, name="old integration", role="viewer")
    issued.api_key.version = "2026-12-01"
    issued.api_key.save(update_fields=["version"])
    page = admin.get("/api-keys").content.decode()
    assert f'action="/api-keys/{issued.api_key.pk}/version"' in page and f"Move to {current}" in page

    url = f"/api-keys/{issued.api_key.pk}/version"
    assert developer.post(url, {"version": current}).status_code == 403
    foreign = ApiKey.objects.filter(tenant=other_workspace.tenant).first()
    assert admin.post(f"/api-keys/{foreign.id}/version", {"version": current}).status_code == 404
    unknown = admin.post(url, {"version": "1999-01-01"}, follow=True).content.decode()
    assert "Unknown API version &#x27;1999-01-01&#x27;" in unknown
    moved = admin.post(url, {"version": current}, follow=True).content.decode()
    assert f"old integration ({issued.api_key.display_prefix}…) now uses API version {current}." in moved
    issued.api_key.refresh_from_db()
    assert issued.api_key.version == current
    assert f'action="/api-keys/{issued.api_key.pk}/version"' not in moved
    assert Api(issued.secret).get("/v1/health")["Quire-Version"] == current


def test_a_revoked_key_is_not_revoked_again_nor_moved_to_another_version(workspace):
    admin = signed_in(workspace, "admin")
    issued = api_key_issue(tenant=workspace.tenant, name="retired integration", role="viewer")
    key = issued.api_key
    first = admin.post(f"/api-keys/{key.pk}/revoke", follow=True).content.decode()
    assert f"Revoked retired integration ({key.display_prefix}…)." in first
    again = admin.post(f"/api-keys/{key.pk}/revoke", follow=True).content.decode()
    assert f"retired integration ({key.display_prefix}…) was already revoked." in again
    moved = admin.post(f"/api-keys/{key.pk}/version", {"version": "2026-12-01"}, follow=True).content.decode()
    assert "a revoked key keeps its role and version" in moved
    key.refresh_from_db()
    assert key.version != "2026-12-01"
    assert not AuditEvent.objects.filter(object_id=key.pk, action="api_key.version_change").exists()


def test_values_postgresql_cannot_take_are_a_400_on_the_portal_too(workspace):
    viewer = signed_in(workspace, "viewer")
    assert viewer.get("/documents", {"q": "memo\x00"}).status_code == 400
    assert viewer.get("/documents/doc_x\x00").status_code == 404


def test_two_owners_demoting_each_other_at_once_leave_one_owner(make_tenant, monkeypatch):
    import contextlib
    import threading

    from django.db import connection

    from quire.portal import services
    from quire.portal.services import MemberChangeRefused, member_change_role
    from tenants.services import member_add

    tenant = make_tenant("two-owners").tenant
    first, second = (
        member_add(tenant=tenant, email=f"owner-{n}@two-owners.example.com", role="owner", password=PASSWORD)
        for n in (1, 2)
    )
    both_checked = threading.Barrier(2)
    keeps = services._keeps_an_owner

    def checked_then_wait(target, role):
        kept = keeps(target, role)
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=2)
        return kept

    monkeypatch.setattr(services, "_keeps_an_owner", checked_then_wait)
    outcomes = []

    def demote(actor, target):
        try:
            member_change_role(actor=actor, target=target, role="admin")
            outcomes.append("demoted")
        except MemberChangeRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=pair) for pair in ((first, second), (second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert Member.objects.filter(tenant=tenant, role="owner").count() == 1


def test_the_owner_rule_judges_the_member_as_it_is_when_the_change_runs(workspace):
    from quire.portal.services import MemberChangeRefused, member_change_role, member_remove
    from tenants.services import member_add

    owner, admin = workspace.member("owner"), workspace.member("admin")
    promoted = member_add(tenant=workspace.tenant, email="promoted@portal-one.example.com", role="developer")
    seen_by_admin = Member.objects.select_related("user").get(pk=promoted.pk)
    member_change_role(actor=owner, target=Member.objects.get(pk=promoted.pk), role="owner")
    with pytest.raises(MemberChangeRefused, match="Only an owner can change an owner"):
        member_change_role(actor=admin, target=seen_by_admin, role="viewer")
    with pytest.raises(MemberChangeRefused, match="Only an owner can change an owner"):
        member_remove(actor=admin, target=seen_by_admin)
    assert Member.objects.get(pk=promoted.pk).role == "owner"

    stale_owner = Member.objects.get(pk=promoted.pk)
    member_change_role(actor=owner, target=Member.objects.get(pk=promoted.pk), role="admin")
    with pytest.raises(MemberChangeRefused, match="Only an owner can make someone an owner"):
        member_change_role(actor=stale_owner, target=admin, role="owner")
    member_remove(actor=owner, target=Member.objects.get(pk=promoted.pk))


def test_an_invitation_judges_the_inviter_and_the_invitee_as_they_are_when_it_runs(workspace):
    from quire.portal.services import MemberChangeRefused, member_change_role, member_invite, member_remove
    from tenants.services import member_add

    owner = workspace.member("owner")
    inviter = member_add(tenant=workspace.tenant, email="inviter@portal-one.example.com", role="admin")
    seen_by_inviter = Member.objects.select_related("user").get(pk=inviter.pk)
    member_change_role(actor=owner, target=Member.objects.get(pk=inviter.pk), role="viewer")
    invite = partial(
        member_invite,
        tenant=workspace.tenant,
        actor=seen_by_inviter,
        email="new@example.com",
        role="developer",
        base_url=f"http://{workspace.host}",
    )
    with pytest.raises(MemberChangeRefused, match="Only owners and admins manage members"):
        invite()
    member_remove(actor=owner, target=Member.objects.get(pk=inviter.pk))
    with pytest.raises(MemberChangeRefused, match="no longer a member"):
        invite()
    assert not Member.objects.filter(tenant=workspace.tenant, user__username="new@example.com").exists()


def test_a_member_who_leaves_is_signed_out_and_a_non_member_can_sign_in_again(workspace, other_workspace):
    from tenants.services import member_add

    email = "leaver@portal-one.example.com"
    leaver = member_add(tenant=workspace.tenant, email=email, role="admin", password=PASSWORD)
    client = Client(HTTP_HOST=workspace.host, **HTML)
    assert client.post("/login", {"username": email, "password": PASSWORD}).status_code == 302
    left = client.post(f"/members/{leaver.pk}/remove")
    assert left.status_code == 302 and left["Location"] == "/login"
    assert "_auth_user_id" not in client.session
    page = client.get("/login")
    assert page.status_code == 200 and f"You left {workspace.tenant.name}." in page.content.decode()

    outsider = Client(HTTP_HOST=workspace.host, **HTML)
    outsider.force_login(other_workspace.member("owner").user)
    assert outsider.get("/login").status_code == 200
    not_found = outsider.get("/")
    assert not_found.status_code == 404 and b"Sign out" in not_found.content
    assert (
        outsider.post("/login", {"username": workspace.emails["viewer"], "password": PASSWORD}).status_code
        == 302
    )
    assert outsider.get("/documents").status_code == 200
    member = signed_in(workspace, "viewer")
    assert member.get("/login")["Location"] == "/"


def test_an_invitation_the_mail_server_refuses_keeps_the_member_and_says_so(workspace, monkeypatch):
    import smtplib

    from quire.portal import services

    def refused(**kwargs):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(services, "send_mail", refused)
    admin = signed_in(workspace, "admin")
    invited = admin.post("/members", {"email": "unmailed@example.com", "role": "viewer"}, follow=True)
    assert invited.status_code == 200
    assert "the invitation e-mail could not be sent" in invited.content.decode()
    assert Member.objects.filter(tenant=workspace.tenant, user__username="unmailed@example.com").exists()


def test_the_portal_shows_the_key_limit_on_the_form(workspace, monkeypatch):
    from tenants import services

    active = ApiKey.objects.filter(tenant=workspace.tenant, revoked_at__isnull=True).count()
    monkeypatch.setattr(services, "MAX_ACTIVE_API_KEYS", active)
    refused = signed_in(workspace, "admin").post("/api-keys", {"name": "past the limit", "role": "viewer"})
    assert refused.status_code == 400
    assert f"at most {active} active API keys; revoke one to issue another".encode() in refused.content
    assert not ApiKey.objects.filter(name="past the limit").exists()
