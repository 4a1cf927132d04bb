"""The conveniences integrators expect from a Stripe-style API: writable `metadata` on documents and jobs,
list filters (`metadata[key]`, `status`, `connector`, `created[...]`) over the cursor pagination, and
`expand[]=result` and `expand[]=usage` on a job."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test.client import MULTIPART_CONTENT
from django_tenants.utils import tenant_context

from quire.documents import services as document_services
from quire.documents.models import Document, DocumentStatus
from quire.jobs.models import Job, JobStatus
from tests.support import Api, ready_document, wait_job
from tests.support.concurrency import Side, blocked_on_a_lock, pause
from tests.support.documents import CONTRACT

BASE = datetime(2031, 5, 1, tzinfo=UTC)


def _tag() -> str:
    return uuid.uuid4().hex[:12]


def _error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]


def _upload(api: Api, content: bytes, **fields):
    return api.post(
        "/v1/documents",
        {"file": SimpleUploadedFile("note.txt", content, "text/plain"), **fields},
        content_type=MULTIPART_CONTENT,
    )


def _all_pages(api: Api, path: str, **params) -> list[str]:
    """Every id the list gives for `params`, following `next_cursor` two at a time."""
    ids, cursor = [], None
    while True:
        response = api.get(path, limit=2, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        page = response.json()
        assert len(page["data"]) <= 2
        ids += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return ids
        cursor = page["next_cursor"]


def test_document_metadata_round_trips_on_create_and_update(api_a: Api):
    text = f"A memo about metadata {_tag()}."
    created = api_a.post("/v1/documents", {"text": text, "metadata": {"customer": "acme", "ref": "42"}})
    assert created.status_code == 201, created.content
    document = created.json()
    assert document["metadata"] == {"customer": "acme", "ref": "42"}
    path = f"/v1/documents/{document['id']}"

    updated = api_a.post(path, {"metadata": {"ref": "43", "region": "eu", "customer": ""}})
    assert updated.status_code == 200, updated.content
    assert updated.json()["metadata"] == {"ref": "43", "region": "eu"}
    assert api_a.get(path).json()["metadata"] == {"ref": "43", "region": "eu"}
    assert api_a.post(path, {}).json()["metadata"] == {"ref": "43", "region": "eu"}
    assert api_a.post(path, {"metadata": {"absent": ""}}).json()["metadata"] == {"ref": "43", "region": "eu"}

    again = api_a.post("/v1/documents", {"text": text, "metadata": {"customer": "other"}})
    assert again.status_code == 200 and again.json()["id"] == document["id"]
    assert again.json()["metadata"] == {"ref": "43", "region": "eu"}, "a duplicate leaves metadata alone"
    bad_duplicate = api_a.post("/v1/documents", {"text": text, "metadata": {"ref": 43}})
    assert _error(bad_duplicate)["param"] == "metadata.ref"


def test_a_nul_character_in_metadata_is_400_naming_the_key(api_a: Api):
    for metadata, param in (({"ref": "4\x002"}, "metadata.ref"), ({"r\x00f": "42"}, "metadata.r\x00f")):
        response = api_a.post("/v1/documents", {"text": f"A memo {_tag()}.", "metadata": metadata})
        assert _error(response)["param"] == param


def test_multipart_upload_takes_bracketed_metadata(api_a: Api):
    content = f"An uploaded note {_tag()}.".encode()
    created = _upload(api_a, content, **{"metadata[customer]": "acme", "metadata[batch]": "7"})
    assert created.status_code == 201, created.content
    assert created.json()["metadata"] == {"customer": "acme", "batch": "7"}
    too_long = _upload(api_a, b"Another note " + content, **{"metadata[k]": "v" * 501})
    assert _error(too_long)["param"] == "metadata.k"
    nested = _upload(api_a, b"A third note " + content, **{"metadata[a][b]": "v"})
    assert _error(nested)["param"] == "metadata[a][b]"


@pytest.mark.parametrize(
    ("metadata", "param"),
    [
        ({f"k{i}": "v" for i in range(51)}, "metadata"),
        ({"k" * 41: "v"}, "metadata." + "k" * 41),
        ({"note": "v" * 501}, "metadata.note"),
        ({"count": 3}, "metadata.count"),
        ({"nested": {"a": "b"}}, "metadata.nested"),
        ({"a[b]": "v"}, "metadata.a[b]"),
        (["not", "an", "object"], "metadata"),
        ("text", "metadata"),
    ],
)
def test_metadata_limits_are_refused_naming_the_key(api_a: Api, metadata, param):
    created = api_a.post("/v1/documents", {"text": f"Refused {_tag()}.", "metadata": metadata})
    error = _error(created)
    assert (error["code"], error["param"]) == ("invalid_parameter", param), error


def test_updates_that_break_the_limits_are_refused_and_change_nothing(api_a: Api, tenant_a):
    full = {f"k{i}": "v" for i in range(50)}
    document = api_a.post("/v1/documents", {"text": f"Full {_tag()}.", "metadata": full}).json()
    path = f"/v1/documents/{document['id']}"
    assert _error(api_a.post(path, {"metadata": {"one_more": "v"}}))["param"] == "metadata"
    assert api_a.post(path, {"metadata": {"k0": "", "one_more": "v"}}).status_code == 200
    assert _error(api_a.post(path, {"metadata": {"k1": "x" * 501}}))["param"] == "metadata.k1"
    assert _error(api_a.post(path, {"colour": "red"}))["param"] == "colour"
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=[document["id"]], metadata={"a": "1"})
    assert _error(api_a.post(f"/v1/jobs/{job.id}", {"metadata": {"b": 2}}))["param"] == "metadata.b"
    assert api_a.post(f"/v1/jobs/{job.id}", {"metadata": {"b": "2", "a": ""}}).json()["metadata"] == {
        "b": "2"
    }
    assert api_a.get(f"/v1/documents/{document['id']}").json()["metadata"]["one_more"] == "v"


def test_another_tenants_objects_cannot_be_updated(api_a: Api, api_b: Api):
    document = api_b.post("/v1/documents", {"text": f"Beta's {_tag()}.", "metadata": {"a": "1"}}).json()
    refused = api_a.post(f"/v1/documents/{document['id']}", {"metadata": {"a": "2"}})
    assert _error(refused, 404)["code"] == "resource_missing"
    assert api_b.get(f"/v1/documents/{document['id']}").json()["metadata"] == {"a": "1"}


def test_a_metadata_update_racing_the_delete_of_its_document_is_a_404(api_a: Api, monkeypatch):
    path = f"/v1/documents/{api_a.post('/v1/documents', {'text': f'Racing {_tag()}.'}).json()['id']}"
    deleting = pause(monkeypatch, document_services, "events_rewrite")
    delete = Side(lambda: Api(api_a.secret).delete(path))
    assert deleting.entered.wait(10)
    update = Side(lambda: Api(api_a.secret).post(path, {"metadata": {"a": "b"}}))
    blocked_on_a_lock()
    deleting.release()
    assert delete.result().status_code == 200
    assert _error(update.result(), 404)["code"] == "resource_missing"


@pytest.mark.parametrize("verb", ["update", "cancel"])
def test_a_job_write_racing_its_purge_is_a_404(api_a: Api, tenant_a, verb):
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_gone"])
    locked, purge_now = threading.Event(), threading.Event()

    def purge() -> None:
        with tenant_context(tenant_a.tenant), transaction.atomic():
            Job.objects.select_for_update().get(pk=job.pk)
            locked.set()
            purge_now.wait(10)
            Job.objects.filter(pk=job.pk).delete()

    purging = Side(purge)
    assert locked.wait(10)
    path, body = (f"/v1/jobs/{job.pk}", {"metadata": {"a": "b"}})
    if verb == "cancel":
        path, body = f"{path}/cancel", None
    write = Side(lambda: Api(api_a.secret).post(path, body))
    blocked_on_a_lock()
    purge_now.set()
    purging.result()
    assert _error(write.result(), 404)["code"] == "resource_missing"


def _documents(tenant, tag: str, count: int) -> list[Document]:
    """`count` documents (no ingestion queued) one hour apart from BASE, statuses cycling ready/failed/
    pending, metadata `{"run": tag, "kind": a|b|c}`."""
    statuses = [DocumentStatus.READY, DocumentStatus.FAILED, DocumentStatus.PENDING]
    made = []
    with tenant_context(tenant):
        for i in range(count):
            document = Document.objects.create(
                filename=f"{i}.txt",
                content_type="text/plain",
                sha256=f"{tag}{i:04d}".ljust(64, "0"),
                size_bytes=1,
                file="none",
                status=statuses[i % 3],
                metadata={"run": tag, "kind": "abc"[i % 3] if i % 2 else "a"},
            )
            Document.objects.filter(pk=document.pk).update(created_at=BASE + timedelta(hours=i))
            made.append(Document.objects.get(pk=document.pk))
    return made


def _newest_first(objects) -> list[str]:
    return [o.id for o in sorted(objects, key=lambda o: (o.created_at, o.id), reverse=True)]


def test_document_filters_cross_pages_exactly(api_a: Api, api_b: Api, tenant_a, tenant_b):
    tag = _tag()
    documents = _documents(tenant_a.tenant, tag, 9)
    foreign = _documents(tenant_b.tenant, tag, 3)
    run = {"metadata[run]": tag}

    assert _all_pages(api_a, "/v1/documents", **run) == _newest_first(documents)
    kind_a = _all_pages(api_a, "/v1/documents", **run, **{"metadata[kind]": "a"})
    assert kind_a == _newest_first([d for d in documents if d.metadata["kind"] == "a"])
    ready = _all_pages(api_a, "/v1/documents", **run, status="ready")
    assert ready == _newest_first([d for d in documents if d.status == "ready"])
    start, end = BASE + timedelta(hours=2), BASE + timedelta(hours=6)
    window = _all_pages(
        api_a,
        "/v1/documents",
        **run,
        **{"created[gte]": start.isoformat(), "created[lte]": str(int(end.timestamp()))},
    )
    assert window == _newest_first([d for d in documents if start <= d.created_at <= end])
    strict = _all_pages(
        api_a,
        "/v1/documents",
        **run,
        **{"created[gt]": start.isoformat(), "created[lt]": "2031-05-01T06:00Z"},
    )
    assert strict == _newest_first([d for d in documents if start < d.created_at < end])
    combined = _all_pages(
        api_a,
        "/v1/documents",
        **run,
        status="failed",
        **{"created[gte]": "2031-05-01", "metadata[kind]": "b"},
    )
    assert combined == _newest_first(
        [d for d in documents if d.status == "failed" and d.metadata["kind"] == "b"]
    )
    assert combined, "the combined filter selects something"

    foreign_ids = {d.id for d in foreign}
    assert not foreign_ids & set(_all_pages(api_a, "/v1/documents", **run))
    assert set(_all_pages(api_b, "/v1/documents", **run)) == foreign_ids
    assert _all_pages(api_a, "/v1/documents", **{"metadata[run]": tag, "metadata[kind]": "z"}) == []


def test_job_filters_cross_pages_exactly(api_a: Api, api_b: Api, tenant_a, tenant_b):
    tag = _tag()
    connectors = ["legal", "earnings", "literature"]
    statuses = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.QUEUED, JobStatus.CANCELED]
    jobs = []
    with tenant_context(tenant_a.tenant):
        for i in range(10):
            job = Job.objects.create(
                connector=connectors[i % 3],
                document_ids=["doc_x"],
                status=statuses[i % 4],
                metadata={"run": tag, "half": str(i % 2)},
            )
            Job.objects.filter(pk=job.pk).update(created_at=BASE + timedelta(minutes=i))
            jobs.append(Job.objects.get(pk=job.pk))
    with tenant_context(tenant_b.tenant):
        foreign = Job.objects.create(connector="legal", document_ids=["doc_x"], metadata={"run": tag})
    run = {"metadata[run]": tag}

    assert _all_pages(api_a, "/v1/jobs", **run) == _newest_first(jobs)
    legal = _all_pages(api_a, "/v1/jobs", **run, connector="legal")
    assert legal == _newest_first([j for j in jobs if j.connector == "legal"])
    succeeded = _all_pages(api_a, "/v1/jobs", **run, status="succeeded", **{"metadata[half]": "0"})
    assert succeeded == _newest_first(
        [j for j in jobs if j.status == "succeeded" and j.metadata["half"] == "0"]
    )
    since = BASE + timedelta(minutes=4)
    recent = _all_pages(
        api_a, "/v1/jobs", **run, connector="earnings", **{"created[gte]": int(since.timestamp())}
    )
    assert recent == _newest_first([j for j in jobs if j.connector == "earnings" and j.created_at >= since])
    assert foreign.id not in _all_pages(api_a, "/v1/jobs", **run)
    assert _all_pages(api_b, "/v1/jobs", **run) == [foreign.id]


def test_a_utc_offset_postgresql_cannot_store_is_read_in_utc(api_a: Api):
    listed = api_a.get("/v1/jobs", **{"created[lt]": "0126-11-25T22:15:24+21:10"})
    assert listed.status_code == 200 and listed.json()["data"] == []


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/v1/documents", {"status": "done"}, "status"),
        ("/v1/jobs", {"status": "ready"}, "status"),
        ("/v1/jobs", {"connector": "astrology"}, "connector"),
        ("/v1/documents", {"created[gte]": "yesterday"}, "created[gte]"),
        ("/v1/jobs", {"created[lte]": "2031-13-01"}, "created[lte]"),
        ("/v1/jobs", {"created[lte]": "99999999999999999"}, "created[lte]"),
        ("/v1/jobs", {"created[lt]": "0001-01-01T00:30:00+21:10"}, "created[lt]"),
        ("/v1/documents", {"created[after]": "2031-01-01"}, "created[after]"),
        ("/v1/documents", {"created": "2031-01-01"}, "created"),
        ("/v1/documents", {"metadata[k]": ""}, "metadata[k]"),
        ("/v1/documents", {"metadata[]": "v"}, "metadata[]"),
        ("/v1/jobs", {"metadata[" + "k" * 41 + "]": "v"}, "metadata[" + "k" * 41 + "]"),
        ("/v1/jobs", {"metadata": "k:v"}, "metadata"),
        ("/v1/documents", {"metadata[tag][x]": "v"}, "metadata[tag][x]"),
        ("/v1/documents", {"Metadata[tag]": "v"}, "Metadata[tag]"),
        ("/v1/jobs", {"metadata.tag": "v"}, "metadata.tag"),
    ],
)
def test_bad_filter_values_are_400_naming_the_parameter(api_a: Api, path, params, param):
    error = _error(api_a.get(path, **params))
    assert (error["code"], error["param"]) == ("invalid_parameter", param), error


def test_expand_result_inlines_the_result_once_the_job_succeeded(celery_worker, api_a: Api, tenant_a):
    doc_id = ready_document(api_a, "\n\n".join([CONTRACT] * 3) + f"\nExpand {_tag()}.", "nda.txt")
    with tenant_context(tenant_a.tenant):
        queued = Job.objects.create(connector="legal", document_ids=[doc_id])
    plain = api_a.get(f"/v1/jobs/{queued.id}").json()
    assert "result" not in plain
    for params in ({"expand[]": "result"}, {"expand": "result"}, {"expand[0]": "result"}):
        expanded = api_a.get(f"/v1/jobs/{queued.id}", **params)
        assert expanded.status_code == 200 and expanded.json()["result"] is None, expanded.content
        assert "usage" not in expanded.json()
    assert api_a.get(f"/v1/jobs/{queued.id}", **{"expand[]": "usage"}).json()["usage"] == {}

    created = api_a.post(
        "/v1/jobs",
        {"connector": "legal", "documents": [doc_id], "metadata": {"order": "po-17", "team": "legal"}},
    )
    assert created.status_code == 202, created.content
    job = created.json()
    assert job["metadata"] == {"order": "po-17", "team": "legal"}
    updated = api_a.post(f"/v1/jobs/{job['id']}", {"metadata": {"team": "", "stage": "review"}})
    assert updated.json()["metadata"] == {"order": "po-17", "stage": "review"}
    done = wait_job(api_a, job["id"])
    assert done["status"] == "succeeded", done
    assert done["metadata"] == {"order": "po-17", "stage": "review"}, "the run kept the metadata"

    expanded = api_a.get(f"/v1/jobs/{job['id']}", **{"expand[]": "result"}).json()
    result = api_a.get(f"/v1/jobs/{job['id']}/result").json()
    assert expanded["result"] == result and expanded["result"]["output"]["connector"] == "legal"
    assert {k: v for k, v in expanded.items() if k != "result"} == api_a.get(f"/v1/jobs/{job['id']}").json()

    from billing.models import UsageEvent

    ledger = dict(UsageEvent.objects.filter(job_id=job["id"]).values_list("kind", "quantity"))
    chars = api_a.get(f"/v1/documents/{doc_id}").json()["char_count"]
    assert ledger["job"] == 1 and ledger["pages"] == -(-chars // 3000) == 2, (ledger, chars)
    usage = api_a.get(f"/v1/jobs/{job['id']}", **{"expand[]": "usage"}).json()
    assert usage["usage"] == {"pages": ledger["pages"], "job": 1} and "result" not in usage
    both = api_a.get(f"/v1/jobs/{job['id']}", **{"expand[]": ["result", "usage"]}).json()
    assert both["result"] == result and both["usage"] == usage["usage"]

    from quire.webhooks.models import Event

    with tenant_context(tenant_a.tenant):
        event = Event.objects.get(type="job.succeeded", data__id=job["id"])
    assert event.data["metadata"] == {"order": "po-17", "stage": "review"}


def test_unknown_expand_is_400(api_a: Api, tenant_a):
    with tenant_context(tenant_a.tenant):
        job = Job.objects.create(connector="legal", document_ids=["doc_x"])
    for params in ({"expand[]": "documents"}, {"expand[]": ["result", "owner"]}, {"expand": "data.result"}):
        error = _error(api_a.get(f"/v1/jobs/{job.id}", **params))
        assert (error["code"], error["param"]) == ("invalid_parameter", "expand"), error
    document = api_a.post("/v1/documents", {"text": f"Nothing to expand {_tag()}."}).json()
    for path in (f"/v1/documents/{document['id']}", "/v1/documents", "/v1/jobs"):
        error = _error(api_a.get(path, **{"expand[]": "nonsense"}))
        assert (error["code"], error["param"]) == ("invalid_parameter", "expand"), (path, error)


def test_document_webhook_payload_carries_metadata(celery_worker, api_a: Api, tenant_a):
    text = f"A document whose ready event carries metadata {_tag()}."
    document = api_a.post("/v1/documents", {"text": text, "metadata": {"source": "crm"}}).json()
    from quire.webhooks.models import Event
    from tests.support import wait_for

    def ready_event():
        with tenant_context(tenant_a.tenant):
            return Event.objects.filter(type="document.ready", data__id=document["id"]).first()

    assert wait_for(ready_event, timeout=120, interval=0.2).data["metadata"] == {"source": "crm"}


def test_schema_lists_the_filters_expand_and_metadata(anonymous: Api):
    schema = anonymous.get("/v1/openapi.json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]

    def parameters(path: str, method: str = "get") -> dict[str, dict]:
        return {p["name"]: p for p in paths[path][method].get("parameters", [])}

    documents, jobs = parameters("/v1/documents"), parameters("/v1/jobs")
    assert {"status", "created", "metadata", "cursor", "limit"} <= set(documents)
    assert {"status", "connector", "created", "metadata", "cursor", "limit"} <= set(jobs)
    assert set(jobs["created"]["schema"]["properties"]) == {"gt", "gte", "lt", "lte"}
    assert jobs["metadata"]["style"] == "deepObject" and jobs["created"]["style"] == "deepObject"
    assert "succeeded" in jobs["status"]["schema"]["enum"] and "legal" in jobs["connector"]["schema"]["enum"]
    assert "ready" in documents["status"]["schema"]["enum"]
    expand = parameters("/v1/jobs/{job_id}")["expand[]"]
    assert expand["schema"]["items"]["enum"] == ["result", "usage"]

    for name in ("Document", "Job"):
        metadata = components[name]["properties"]["metadata"]
        assert metadata["type"] == "object" and metadata["maxProperties"] == 50
        assert metadata["additionalProperties"] == {"type": "string", "maxLength": 500}
    for name in (
        "DocumentTextCreateRequest",
        "DocumentUploadRequest",
        "JobCreateRequest",
        "MetadataUpdateRequest",
    ):
        assert "metadata" in components[name]["properties"], name
    expanded = components["ExpandedJob"]
    assert expanded["properties"]["result"]["nullable"] is True and "result" not in expanded["required"]
    assert expanded["properties"]["usage"]["additionalProperties"]["type"] == "integer"
    assert "usage" not in expanded["required"]
    for path, ref in (("/v1/documents/{document_id}", "Document"), ("/v1/jobs/{job_id}", "Job")):
        update = paths[path]["post"]
        assert update["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "MetadataUpdateRequest"
        )
        assert update["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(f"/{ref}")
    assert "multipart/form-data" in paths["/v1/documents"]["post"]["requestBody"]["content"]


@pytest.mark.parametrize(("model", "index"), [(Document, "document_metadata_gin"), (Job, "job_metadata_gin")])
def test_metadata_filters_can_use_the_gin_index(tenant_a, model, index):
    from django.db import connection, transaction

    with tenant_context(tenant_a.tenant), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = model.objects.filter(metadata__contains={"run": "x", "kind": "a"}).explain()
    assert index in plan, plan


def test_a_cursor_skips_no_row_sharing_the_shown_rows_moment_when_a_shown_row_is_deleted(
    api_a: Api, tenant_a
):
    from datetime import timedelta

    from quire.documents.models import Document

    tag = _tag()
    ids = [
        api_a.post("/v1/documents", {"text": f"Cursor {i} {tag}.", "metadata": {"tag": tag}}).json()["id"]
        for i in range(4)
    ]
    with tenant_context(tenant_a.tenant):
        moment = Document.objects.get(pk=ids[0]).created_at
        Document.objects.filter(pk=ids[0]).update(created_at=moment - timedelta(seconds=1))
        Document.objects.filter(pk__in=ids[1:3]).update(created_at=moment)
        Document.objects.filter(pk=ids[3]).update(created_at=moment + timedelta(seconds=1))
    everything = _all_pages(api_a, "/v1/documents", **{"metadata[tag]": tag})
    assert sorted(everything) == sorted(ids)
    first = api_a.get("/v1/documents", **{"metadata[tag]": tag, "limit": 2}).json()
    shown = [d["id"] for d in first["data"]]
    assert api_a.delete(f"/v1/documents/{shown[1]}").status_code == 200
    following = api_a.get(
        "/v1/documents", **{"metadata[tag]": tag, "limit": 2, "cursor": first["next_cursor"]}
    )
    assert shown + [d["id"] for d in following.json()["data"]] == everything
    assert following.json()["has_more"] is False and following.json()["next_cursor"] is None


def test_a_job_created_while_its_document_is_deleted_waits_and_is_refused_as_missing(
    api_a: Api, tenant_a, monkeypatch
):
    from tests.support.portal import stored_document

    document = stored_document(
        tenant_a, f"racing-{_tag()}.txt", f"The Supplier delivers within {_tag()} days."
    )
    deleting = pause(monkeypatch, document_services, "events_rewrite")
    delete = Side(lambda: Api(api_a.secret).delete(f"/v1/documents/{document.pk}"))
    assert deleting.entered.wait(10)
    create = Side(
        lambda: Api(api_a.secret).post("/v1/jobs", {"connector": "legal", "documents": [document.pk]})
    )
    blocked_on_a_lock()
    deleting.release()
    assert delete.result().status_code == 200
    refused = _error(create.result(), 404)
    assert (refused["code"], refused["param"]) == ("resource_missing", "documents.0")
    with tenant_context(tenant_a.tenant):
        assert not Job.objects.filter(document_ids__contains=[document.pk]).exists()


def test_a_job_is_created_while_a_finishing_job_holds_its_document(api_a: Api, tenant_a):
    """A finishing job holds its documents (`documents_held`) and then takes billing's locks; a job created
    meanwhile over the same document takes the tenant's lock first, so it must not wait on that hold (the two
    deadlocked when it did)."""
    from quire.documents.services import documents_held
    from tests.support.portal import stored_document

    document = stored_document(tenant_a, f"held-{_tag()}.txt", f"The Supplier delivers within {_tag()} days.")
    holding, finish = threading.Event(), threading.Event()

    def finishing() -> None:
        with tenant_context(tenant_a.tenant), transaction.atomic():
            assert documents_held(ids=[document.pk]) == {document.pk}
            holding.set()
            finish.wait(20)

    held = Side(finishing)
    assert holding.wait(10)
    try:
        create = Side(
            lambda: Api(api_a.secret).post("/v1/jobs", {"connector": "legal", "documents": [document.pk]})
        )
        created = create.result(timeout=10)
    finally:
        finish.set()
        held.result()
    assert created.status_code == 202, created.content
