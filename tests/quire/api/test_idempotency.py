import re

from tests.support import Api


def test_same_key_same_body_replays(api_a: Api):
    headers = {"Idempotency-Key": "idem-create-key-1"}
    body = {"url": "https://93.184.215.14/idem", "event_types": ["job.succeeded"]}
    created = api_a.post("/v1/webhook_endpoints", body, headers={"Idempotency-Key": "idem-endpoint"}).json()
    path = f"/v1/webhook_endpoints/{created['id']}"
    first = api_a.request(
        "PATCH", path, headers=headers, data={"description": "idem"}, content_type="application/json"
    )
    second = api_a.request(
        "PATCH", path, headers=headers, data={"description": "idem"}, content_type="application/json"
    )
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Idempotent-Replayed"] == "true"


def test_a_replay_names_the_version_that_answered_first(api_a: Api):
    body = {"text": "Answered once, in one version.", "filename": "versioned.txt"}
    first = api_a.post(
        "/v1/documents", body, headers={"Idempotency-Key": "idem-version", "Quire-Version": "2026-12-06"}
    )
    again = api_a.post(
        "/v1/documents", body, headers={"Idempotency-Key": "idem-version", "Quire-Version": "2026-12-01"}
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content
    assert again["Quire-Version"] == first["Quire-Version"] == "2026-12-06"


def _stored_responses(tenant) -> list[str]:
    from django_tenants.utils import tenant_context

    from quire.api.models import IdempotencyRecord

    with tenant_context(tenant):
        return list(IdempotencyRecord.objects.values_list("response_text", flat=True))


def test_a_secret_is_shown_once_never_stored_and_its_replay_says_so(api_a: Api, tenant_a):
    import uuid

    run = uuid.uuid4().hex[:8]
    key = api_a.post("/v1/api_keys", {"name": f"once-{run}"}, headers={"Idempotency-Key": f"once-key-{run}"})
    endpoint = api_a.post(
        "/v1/webhook_endpoints",
        {"url": "https://93.184.215.14/once", "event_types": ["job.succeeded"]},
        headers={"Idempotency-Key": f"once-endpoint-{run}"},
    )
    rotate = f"/v1/webhook_endpoints/{endpoint.json()['id']}/rotate_secret"
    rotated = api_a.post(rotate, {}, headers={"Idempotency-Key": f"once-rotate-{run}"})
    assert (key.status_code, endpoint.status_code, rotated.status_code) == (201, 201, 200)
    secrets = [key.json()["secret"], endpoint.json()["secret"], rotated.json()["secret"]]
    assert secrets[0].startswith("qk_live_") and all(s.startswith("whsec_") for s in secrets[1:])
    stored = _stored_responses(tenant_a.tenant)
    assert not [text for text in stored if any(secret in text for secret in secrets)]
    assert not [text for text in stored if re.search(r"qk_live_[\w-]{5}|whsec_", text)], (
        "beyond display_prefix"
    )

    replays = [
        api_a.post("/v1/api_keys", {"name": f"once-{run}"}, headers={"Idempotency-Key": f"once-key-{run}"}),
        api_a.post(
            "/v1/webhook_endpoints",
            {"url": "https://93.184.215.14/once", "event_types": ["job.succeeded"]},
            headers={"Idempotency-Key": f"once-endpoint-{run}"},
        ),
        api_a.post(rotate, {}, headers={"Idempotency-Key": f"once-rotate-{run}"}),
    ]
    for replay, first in zip(replays, (key, endpoint, rotated), strict=True):
        assert replay.status_code == 409, replay.content
        error = replay.json()["error"]
        assert (error["code"], error["param"]) == ("secret_shown_once", "Idempotency-Key")
        assert first.json()["id"] in error["message"]
        assert not any(secret in replay.content.decode() for secret in secrets)
    names = [k["name"] for k in api_a.get("/v1/api_keys", limit=100).json()["data"]]
    assert names.count(f"once-{run}") == 1
    reused = api_a.post("/v1/api_keys", {"name": "another"}, headers={"Idempotency-Key": f"once-key-{run}"})
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


def test_the_migration_removes_secrets_stored_before(tenant_a):
    import importlib
    import json

    from django.db import connection
    from django_tenants.utils import tenant_context

    from quire.api.models import IdempotencyRecord

    migration = importlib.import_module("quire.api.migrations.0003_idempotency_secrets_removed")
    kept = {"id": "key_old", "object": "api_key", "name": "old"}
    with tenant_context(tenant_a.tenant):
        old = IdempotencyRecord.objects.create(
            key="idem-stored-before",
            fingerprint="f",
            status_code=201,
            content_type="application/json",
            response_text=json.dumps({**kept, "secret": "qk_live_stored_before"}),
        )
        other = IdempotencyRecord.objects.create(
            key="idem-stored-before-other",
            fingerprint="f",
            status_code=200,
            content_type="application/json",
            response_text='["secret"]',
        )
        claimed = IdempotencyRecord.objects.create(key="idem-stored-before-claimed", fingerprint="f")
        with connection.cursor() as cursor:
            cursor.execute(migration.REMOVE_SECRETS)
        old.refresh_from_db()
        assert json.loads(old.response_text) == {**kept, "secret": None, "secret_shown_once": True}
        assert IdempotencyRecord.objects.get(pk=other.pk).response_text == '["secret"]'
        assert IdempotencyRecord.objects.get(pk=claimed.pk).response_text == ""


def test_same_key_other_body_is_409(api_a: Api):
    headers = {"Idempotency-Key": "idem-create-key-2"}
    assert api_a.post("/v1/api_keys", {"name": "one"}, headers=headers).status_code == 201
    response = api_a.post("/v1/api_keys", {"name": "two"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_every_value_of_a_repeated_form_field_counts_in_its_fingerprint(api_a: Api):
    from urllib.parse import urlencode

    created = api_a.post(
        "/v1/webhook_endpoints", {"url": "https://93.184.215.14/form", "event_types": ["job.succeeded"]}
    ).json()
    path = f"/v1/webhook_endpoints/{created['id']}"
    headers = {"Idempotency-Key": "idem-form-repeated"}

    def update(*event_types: str):
        body = urlencode([("enabled", "true"), *(("event_types", kind) for kind in event_types)])
        return api_a.request(
            "PATCH", path, headers=headers, data=body, content_type="application/x-www-form-urlencoded"
        )

    first = update("job.succeeded", "job.failed")
    assert first.status_code == 200, first.content
    assert first.json()["event_types"] == ["job.succeeded", "job.failed"]
    assert update("job.succeeded", "job.failed")["Idempotent-Replayed"] == "true"
    other = update("job.failed")
    assert other.status_code == 409, other.content
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_are_per_tenant(api_a: Api, api_b: Api):
    headers = {"Idempotency-Key": "shared-key-across-tenants"}
    a = api_a.post("/v1/documents", {"text": "tenant a text"}, headers=headers)
    b = api_b.post("/v1/documents", {"text": "tenant b text"}, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_failed_validation_does_not_burn_the_key(api_a: Api):
    headers = {"Idempotency-Key": "idem-after-error"}
    assert api_a.post("/v1/api_keys", {"nme": "typo"}, headers=headers).status_code == 400
    assert api_a.post("/v1/api_keys", {"name": "fixed"}, headers=headers).status_code == 201


def test_every_file_of_an_upload_counts_in_its_fingerprint(api_a: Api):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import MULTIPART_CONTENT

    def upload(*texts: str):
        files = [
            SimpleUploadedFile(f"{n}.txt", t.encode(), content_type="text/plain") for n, t in enumerate(texts)
        ]
        return api_a.post(
            "/v1/documents",
            {"file": files},
            headers={"Idempotency-Key": "idem-multi-file-upload"},
            content_type=MULTIPART_CONTENT,
        )

    assert upload("first memo of two", "second memo of two").status_code == 201
    response = upload("another first memo", "second memo of two")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_a_files_folders_and_type_count_in_its_fingerprint(api_a: Api):
    import uuid

    boundary = "quire-boundary"
    content = f"A memo filed twice {uuid.uuid4().hex}.".encode()

    def upload(path: str, content_type: str = "text/plain"):
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return api_a.post(
            "/v1/documents",
            body,
            headers={"Idempotency-Key": f"idem-folders-{content[-34:-1].decode()}"},
            content_type=f"multipart/form-data; boundary={boundary}",
        )

    assert upload("deal/2023/memo.txt").status_code == 201
    assert upload("deal/2023/memo.txt")["Idempotent-Replayed"] == "true"
    for other in (upload("deal/2024/memo.txt"), upload("deal/2023/memo.txt", "text/csv")):
        assert other.status_code == 409, other.content
        assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_crash_between_the_write_and_its_record_leaves_nothing_and_the_retry_runs(api_a: Api, monkeypatch):
    import uuid

    from django.db import OperationalError

    from quire.api.models import IdempotencyRecord

    name = f"crash-{uuid.uuid4().hex[:8]}"
    headers = {"Idempotency-Key": f"idem-{name}"}
    save = IdempotencyRecord.save

    def lost_connection(self, *args, **kwargs):
        if kwargs.get("update_fields"):
            raise OperationalError("server closed the connection unexpectedly")
        return save(self, *args, **kwargs)

    monkeypatch.setattr(IdempotencyRecord, "save", lost_connection)
    assert api_a.post("/v1/api_keys", {"name": name}, headers=headers).status_code == 503
    monkeypatch.undo()
    names = [k["name"] for k in api_a.get("/v1/api_keys", limit=100).json()["data"]]
    assert name not in names, "the write went with the record"
    retried = api_a.post("/v1/api_keys", {"name": name}, headers=headers)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried
    names = [k["name"] for k in api_a.get("/v1/api_keys", limit=100).json()["data"]]
    assert names.count(name) == 1


def test_an_upload_whose_process_died_frees_its_key_at_once(api_a: Api, tenant_a):
    import os

    import psycopg
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import MULTIPART_CONTENT
    from django_tenants.utils import tenant_context

    from quire.api.idempotency import IDEMPOTENCY_LOCK_CLASS
    from quire.api.models import IdempotencyRecord

    key = "idem-upload-of-a-dead-process"

    def upload():
        memo = SimpleUploadedFile("memo.txt", b"A memo whose first upload died.", content_type="text/plain")
        return api_a.post(
            "/v1/documents", {"file": memo}, headers={"Idempotency-Key": key}, content_type=MULTIPART_CONTENT
        )

    with tenant_context(tenant_a.tenant):
        IdempotencyRecord.objects.create(key=key, fingerprint="of the request that runs or died")
    lock = [IDEMPOTENCY_LOCK_CLASS, f"{tenant_a.tenant.schema_name}:{key}"]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as running:
        running.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", lock)
        in_progress = upload()
        running.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", lock)
    assert in_progress.status_code == 409
    assert in_progress.json()["error"]["code"] == "idempotency_key_in_use"
    first = upload()
    assert first.status_code == 201, first.content
    replayed = upload()
    assert replayed.content == first.content and replayed["Idempotent-Replayed"] == "true"


def test_a_retried_cancel_or_delete_replays_its_first_answer(api_a: Api, tenant_a):
    import uuid

    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job

    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_x"], status="queued")
    document = api_a.post("/v1/documents", {"text": f"A memo to delete ({uuid.uuid4().hex})."}).json()["id"]
    key = api_a.post("/v1/api_keys", {"name": "to revoke"}).json()["id"]
    for path, method in (
        (f"/v1/jobs/{job.pk}/cancel", api_a.post),
        (f"/v1/documents/{document}", api_a.delete),
        (f"/v1/api_keys/{key}", api_a.delete),
    ):
        headers = {"Idempotency-Key": f"idem-retry-{uuid.uuid4().hex}"}
        first = method(path, headers=headers)
        retried = method(path, headers=headers)
        assert first.status_code == 200, (path, first.content)
        assert retried.status_code == 200 and retried.content == first.content, (path, retried.content)
        assert retried["Idempotent-Replayed"] == "true"
