"""Custom clause types through the API and a real worker: examples in, the head trained with
cross-validated metrics, a legal job and a review column find the clause by key with verified spans,
another tenant can neither see nor use it, and bad training input is a 400 naming the param."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from connectors.legal.custom import THRESHOLD
from tests.quire.jobs.test_jobs import assert_spans_hold
from tests.support import Api, ready_document, wait_job
from tests.support.clauses import clause_type_row
from tests.support.paths import DATA
from tests.support.polling import wait_for

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))
MORE = "Neither party is liable for failures caused by a pandemic, a cyber attack on a public network or a blockade."
BODY = {k: FIXTURE[k] for k in ("key", "name", "description", "examples", "counter_examples")}


def _refused(response, param: str) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"] == param, error
    return error


@pytest.mark.timeout(300)
def test_custom_clause_type_end_to_end(celery_worker, api_a: Api, api_b: Api):
    contract = ready_document(api_a, FIXTURE["contract"], "msa.txt")
    created = api_a.post("/v1/clause_types", BODY, headers={"Idempotency-Key": "clause-type-1"})
    assert created.status_code == 202, created.content
    clause_type = created.json()
    assert clause_type["id"].startswith("cla_") and clause_type["object"] == "clause_type"
    assert clause_type["status"] == "queued" and clause_type["example_count"] == 12
    _refused(api_a.post("/v1/clause_types", BODY), "key")

    ready = wait_for(
        lambda: (
            (body := api_a.get(f"/v1/clause_types/{clause_type['id']}").json())["status"]
            in ("ready", "failed")
            and body
        ),
        timeout=120,
        interval=0.3,
    )
    assert ready["status"] == "ready", ready
    assert ready["precision"] >= 0.9 and ready["recall"] >= 0.6 and ready["trained_at"]
    assert ready["negative_count"] >= len(BODY["counter_examples"]) and ready["advice"] == ""
    near = ready["near_misses"]
    top = near[0]
    source = api_a.get(f"/v1/documents/{top['document']}/text").json()["text"]
    assert source[top["start"] : top["end"]] == top["text"]
    assert "Unforeseeable Events" in top["text"], [(n["score"], n["text"][:60]) for n in near]
    assert [n["score"] for n in near] == sorted((n["score"] for n in near), reverse=True)
    listed = api_a.get("/v1/clause_types").json()["data"]
    assert [c["key"] for c in listed if c["id"] == clause_type["id"]] == ["force_majeure"]
    events = api_a.get("/v1/events", type="clause_type.ready").json()["data"]
    [announced] = [e for e in events if e["data"]["id"] == clause_type["id"]]
    assert announced["data"]["status"] == "ready"
    assert announced["data"]["near_misses"] == near and announced["data"]["precision"] == ready["precision"]

    column = {
        "key": "fm",
        "question": "Is performance excused?",
        "type": "clause",
        "clause_type": "force_majeure",
    }
    legal = api_a.post(
        "/v1/jobs",
        {"connector": "legal", "documents": [contract], "options": {"clause_types": ["force_majeure"]}},
    )
    review = api_a.post(
        "/v1/jobs", {"connector": "review", "documents": [contract], "options": {"columns": [column]}}
    )
    assert legal.status_code == review.status_code == 202, (legal.content, review.content)
    text = api_a.get(f"/v1/documents/{contract}/text").json()["text"]
    legal_job, review_job = wait_job(api_a, legal.json()["id"]), wait_job(api_a, review.json()["id"])
    assert legal_job["status"] == review_job["status"] == "succeeded", (
        legal_job["error"],
        review_job["error"],
    )

    found = api_a.get(f"/v1/jobs/{legal_job['id']}/result").json()["output"]["custom_clauses"]
    assert found and {f["clause_type"] for f in found} == {"force_majeure"}
    assert found[0]["name"] == "Force Majeure" and found[0]["confidence"] >= THRESHOLD, found
    assert found[0]["span"]["quote"].startswith("3. Unforeseeable Events.")
    assert assert_spans_hold(found, {contract: text}) == len(found)
    cell = api_a.get(f"/v1/jobs/{review_job['id']}/result").json()["output"]["rows"][0]["cells"]["fm"]
    assert cell["status"] == "answered" and cell["spans"][0]["quote"] == found[0]["span"]["quote"]
    assert_spans_hold(cell, {contract: text})
    checks = api_a.get(f"/v1/clause_types/{clause_type['id']}/passages_to_check").json()["data"]
    from_review = [p for p in checks if p["source"] == "finding" and p["job"] == review_job["id"]]
    assert [(p["start"], p["end"]) for p in from_review] == [
        (cell["spans"][0]["start"], cell["spans"][0]["end"])
    ]

    other = ready_document(api_b, FIXTURE["contract"], "msa.txt")
    assert api_b.get(f"/v1/clause_types/{clause_type['id']}").status_code == 404
    assert api_b.delete(f"/v1/clause_types/{clause_type['id']}").status_code == 404
    assert api_b.get("/v1/clause_types").json()["data"] == []
    _refused(
        api_b.post(
            "/v1/jobs",
            {"connector": "legal", "documents": [other], "options": {"clause_types": ["force_majeure"]}},
        ),
        "options.clause_types.0",
    )
    _refused(
        api_b.post(
            "/v1/jobs", {"connector": "review", "documents": [other], "options": {"columns": [column]}}
        ),
        "options.columns.0.clause_type",
    )

    _refused(api_a.post(f"/v1/clause_types/{clause_type['id']}/examples", {}), "examples")
    more = api_a.post(f"/v1/clause_types/{clause_type['id']}/examples", {"examples": [MORE]})
    assert more.status_code == 202, more.content
    assert (more.json()["version"], more.json()["example_count"], more.json()["status"]) == (2, 13, "queued")
    again = api_a.post(f"/v1/clause_types/{clause_type['id']}/examples", {"examples": [f"  {MORE} "]})
    assert again.status_code == 202 and (again.json()["version"], again.json()["example_count"]) == (2, 13)
    moved = api_a.post(f"/v1/clause_types/{clause_type['id']}/examples", {"counter_examples": [MORE]})
    assert moved.status_code == 202, moved.content
    assert (moved.json()["version"], moved.json()["example_count"]) == (3, 12)
    assert moved.json()["counter_example_count"] == len(BODY["counter_examples"]) + 1
    _refused(
        api_a.post(
            f"/v1/clause_types/{clause_type['id']}/examples",
            {"examples": [MORE], "counter_examples": ["Other text.", "Other text.", MORE]},
        ),
        "counter_examples.2",
    )
    too_few = _refused(
        api_a.post(
            f"/v1/clause_types/{clause_type['id']}/examples", {"counter_examples": BODY["examples"][:3]}
        ),
        "counter_examples",
    )
    assert "would leave 9" in too_few["message"]

    audited = api_a.get("/v1/audit_events", action="clause_type.create").json()["data"]
    assert [e["object_id"] for e in audited] == [clause_type["id"]]
    deleted = api_a.delete(f"/v1/clause_types/{clause_type['id']}")
    assert deleted.json() == {"id": clause_type["id"], "object": "clause_type", "deleted": True}
    assert api_a.get(f"/v1/clause_types/{clause_type['id']}").status_code == 404
    _refused(
        api_a.post(
            "/v1/jobs",
            {"connector": "legal", "documents": [contract], "options": {"clause_types": ["force_majeure"]}},
        ),
        "options.clause_types.0",
    )


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"examples": FIXTURE["examples"][:9]}, "examples"),
        ({"examples": [*FIXTURE["examples"][:10], " \n\t "]}, "examples.10"),
        ({"examples": ["", *FIXTURE["examples"]]}, "examples.0"),
        ({"counter_examples": ["   "]}, "counter_examples.0"),
        ({"key": "Force Majeure"}, "key"),
        ({"name": "   "}, "name"),
        ({"counter_examples": ["A clause.", f" {FIXTURE['examples'][3]}\n"]}, "counter_examples.1"),
        ({"examples": [FIXTURE["examples"][0], *[f" {FIXTURE['examples'][1]} "] * 9]}, "examples"),
        ({"examples": [f"{FIXTURE['examples'][0]} ({i})" for i in range(1, 11)]}, "examples"),
        (
            {
                "examples": [
                    *FIXTURE["examples"][:8],
                    FIXTURE["examples"][0].upper(),
                    f"(a) {FIXTURE['examples'][1].rstrip('.')}",
                ]
            },
            "examples",
        ),
    ],
    ids=[
        "too-few",
        "whitespace",
        "empty",
        "empty-counter",
        "bad-key",
        "blank-name",
        "both-ways",
        "repeated",
        "numbered",
        "capitals-and-enumerators",
    ],
)
def test_bad_training_input_is_a_400_naming_the_param(api_a: Api, changes: dict, param: str):
    _refused(api_a.post("/v1/clause_types", {**BODY, "key": "never_made", **changes}), param)
    assert api_a.get("/v1/clause_types", status="queued").json()["data"] == []


def test_an_untrained_clause_type_is_refused_and_a_superseded_training_changes_nothing(tenant_a, monkeypatch):
    from django_tenants.utils import tenant_context

    from connectors.legal import custom
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import ClauseTypeRejected, clause_heads_for, clause_type_train

    trained = custom.train_head

    def more_examples_arrive_meanwhile(positives, negatives, **options):
        ClauseType.objects.filter(key="not_trained_yet").update(version=2, status=ClauseTypeStatus.QUEUED)
        return trained(positives, negatives, **options)

    monkeypatch.setattr(custom, "train_head", more_examples_arrive_meanwhile)
    with tenant_context(tenant_a.tenant):
        queued = ClauseType.objects.create(
            key="not_trained_yet", name="Not trained", examples=BODY["examples"]
        )
        try:
            with pytest.raises(ClauseTypeRejected, match="no trained head yet") as refused:
                clause_heads_for([("not_trained_yet", "options.columns.1.clause_type")])
            assert (refused.value.status, refused.value.param) == (400, "options.columns.1.clause_type")
            assert clause_type_train(tenant=tenant_a.tenant, clause_type_id=queued.pk) is None
            superseded = ClauseType.objects.get(pk=queued.pk)
            assert (superseded.status, superseded.version, superseded.head) == (
                ClauseTypeStatus.QUEUED,
                2,
                None,
            )
            ClauseType.objects.filter(pk=queued.pk).update(status=ClauseTypeStatus.READY)
            assert clause_type_train(tenant=tenant_a.tenant, clause_type_id=queued.pk) is None
        finally:
            queued.delete()


def test_a_training_the_broker_could_not_take_is_queued_by_the_sweep(tenant_a, monkeypatch):
    from types import SimpleNamespace

    from django_tenants.utils import tenant_context
    from kombu.exceptions import OperationalError

    from quire import queueing
    from quire.clauses.models import ClauseType
    from quire.clauses.services import CLAUSE_TYPE_TRAIN_TASK, clause_type_create, clause_types_requeue

    def broker_down(name, args, **options):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    monkeypatch.setattr(queueing, "current_app", SimpleNamespace(send_task=broker_down))
    with tenant_context(tenant_a.tenant):
        created = clause_type_create(
            tenant=tenant_a.tenant, key="unqueued_training", name="Unqueued", examples=BODY["examples"]
        )
        try:
            assert ClauseType.objects.get(pk=created.pk).train_unqueued
            sent = []
            monkeypatch.setattr(
                queueing,
                "current_app",
                SimpleNamespace(send_task=lambda name, args, **o: sent.append((name, args))),
            )
            assert clause_types_requeue() == 1 and clause_types_requeue() == 0
            assert sent == [(CLAUSE_TYPE_TRAIN_TASK, [created.pk])]
            assert not ClauseType.objects.get(pk=created.pk).train_unqueued
        finally:
            ClauseType.objects.filter(pk=created.pk).delete()


def test_a_queued_training_no_worker_has_seen_for_hours_is_sent_again_once(make_tenant, monkeypatch):
    from datetime import timedelta
    from types import SimpleNamespace

    from django.conf import settings
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from quire import queueing
    from quire.clauses.models import ClauseType
    from quire.clauses.services import CLAUSE_TYPE_TRAIN_TASK, clause_types_requeue

    sent = []
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **o: sent.append((name, args)))
    )
    tenant = make_tenant("lost-trainings").tenant
    hours_ago = timezone.now() - timedelta(seconds=settings.QUIRE_JOB_QUEUED_LOST_SECONDS + 60)
    with tenant_context(tenant):
        lost, seen, _fresh = (
            ClauseType.objects.create(key=f"{name}_type", name=name, examples=BODY["examples"])
            for name in ("lost", "seen", "fresh")
        )
        ClauseType.objects.filter(pk__in=[lost.pk, seen.pk]).update(created_at=hours_ago)
        ClauseType.objects.filter(pk=seen.pk).update(queued_seen_at=timezone.now())
        assert clause_types_requeue() == 1 and clause_types_requeue() == 0
    assert sent == [(CLAUSE_TYPE_TRAIN_TASK, [lost.pk])]


def test_a_heads_own_negatives_are_the_passages_of_the_tenants_recent_documents(tenant_a):
    import hashlib

    import numpy
    from django_tenants.utils import tenant_context

    from inference.embeddings import embed_texts
    from quire.clauses.services import _own_passages
    from quire.documents.models import Document

    text = "The Supplier shall deliver the Goods to the Buyer's warehouse in Rotterdam every second Tuesday."
    with tenant_context(tenant_a.tenant):
        document = Document.objects.create(
            filename="negatives.txt",
            content_type="text/plain",
            sha256=hashlib.sha256(b"own negatives test").hexdigest(),
            size_bytes=len(text),
            text=text,
            status="ready",
        )
        try:
            own, places = _own_passages()
            document_id = document.pk
        finally:
            document.delete()
    full = embed_texts([text])[0]
    assert places[0] == {"document": document_id, "start": 0, "end": len(text), "text": text}
    assert own.texts[0] == text and float(numpy.dot(own.vectors[0], full)) > 0.98


def test_a_training_that_fails_publishes_clause_type_failed(tenant_a):
    from django_tenants.utils import tenant_context

    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_fail_unexpectedly
    from quire.webhooks.models import Event

    with tenant_context(tenant_a.tenant):
        training = ClauseType.objects.create(
            key="fails_training", name="Fails", examples=BODY["examples"], status=ClauseTypeStatus.TRAINING
        )
        queued = ClauseType.objects.create(key="queued_meanwhile", name="Queued", examples=BODY["examples"])
        try:
            clause_type_fail_unexpectedly(clause_type_id=training.pk, exc=MemoryError())
            clause_type_fail_unexpectedly(clause_type_id=queued.pk, exc=MemoryError())
            training.refresh_from_db()
            assert training.failure_reason == "internal error while training: MemoryError"
            assert ClauseType.objects.get(pk=queued.pk).status == ClauseTypeStatus.QUEUED
            events = Event.objects.filter(type="clause_type.failed", data__id__in=[training.pk, queued.pk])
            assert [(e.data["id"], e.data["status"], e.data["failure_reason"]) for e in events] == [
                (training.pk, "failed", "internal error while training: MemoryError")
            ]
        finally:
            ClauseType.objects.filter(pk__in=[training.pk, queued.pk]).delete()


def test_a_clause_type_list_leaves_out_near_misses_from_version_2026_12_05(tenant_a, api_a: Api):
    near = [{"document": "doc_x", "start": 0, "end": 9, "text": "A passage", "score": 0.8}]
    passages = {"examples": BODY["examples"], "counter_examples": BODY["counter_examples"]}
    with clause_type_row(tenant_a.tenant, "listed_type", near_misses=near, **passages) as created:

        def listed(**params) -> dict:
            response = api_a.get("/v1/clause_types", limit=100, **params)
            return next(c for c in response.json()["data"] if c["id"] == created.pk)

        with CaptureQueriesContext(connection) as queries:
            current = api_a.get("/v1/clause_types")
        assert current["Quire-Version"] >= "2026-12-05"
        read = " ".join(q["sql"] for q in queries.captured_queries if "clauses_clausetype" in q["sql"])
        assert "jsonb_array_length" in read
        assert not re.search(
            r'(?<!jsonb_array_length\()"clauses_clausetype"\."(examples|counter_examples|head)"', read
        )
        plain = listed()
        assert "near_misses" not in plain and plain["example_count"] == len(BODY["examples"])
        assert plain["counter_example_count"] == len(BODY["counter_examples"])
        assert listed(**{"expand[]": "near_misses"})["near_misses"] == near
        old = next(
            c
            for c in api_a.get("/v1/clause_types", headers={"Quire-Version": "2026-12-01"}).json()["data"]
            if c["id"] == created.pk
        )
        assert old["near_misses"] == near and {*old} - {*plain} == {"near_misses"}
        assert api_a.get(f"/v1/clause_types/{created.pk}").json()["near_misses"] == near
        _refused(api_a.get("/v1/clause_types", **{"expand[]": "head"}), "expand")


def test_a_clause_type_expands_its_examples_to_be_created_again_elsewhere(tenant_a, api_a: Api):
    passages = {"examples": BODY["examples"], "counter_examples": BODY["counter_examples"]}
    with clause_type_row(tenant_a.tenant, "exported_type", **passages) as created:
        plain = api_a.get(f"/v1/clause_types/{created.pk}").json()
        assert "examples" not in plain and plain["example_count"] == len(BODY["examples"])
        expanded = api_a.get(f"/v1/clause_types/{created.pk}", **{"expand[]": "examples"}).json()
        assert expanded["examples"] == BODY["examples"]
        assert expanded["counter_examples"] == BODY["counter_examples"]
        _refused(api_a.get(f"/v1/clause_types/{created.pk}", **{"expand[]": "head"}), "expand")


def test_a_training_that_crashes_fails_its_own_version_not_the_one_queued_after_it(tenant_a, monkeypatch):
    from django_tenants.utils import tenant_context

    from connectors.legal import custom
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.tasks import clause_type_train_task
    from quire.webhooks.models import Event

    def newer_training_starts_then_this_one_crashes(positives, negatives, **options):
        ClauseType.objects.filter(key="crashes_superseded").update(
            version=2, status=ClauseTypeStatus.TRAINING
        )
        raise RuntimeError("lost the database connection")

    monkeypatch.setattr(custom, "train_head", newer_training_starts_then_this_one_crashes)
    with tenant_context(tenant_a.tenant):
        training = ClauseType.objects.create(
            key="crashes_superseded", name="Crashes", examples=BODY["examples"]
        )
        try:
            assert clause_type_train_task.run(training.pk) == "superseded"
            assert ClauseType.objects.get(pk=training.pk).status == ClauseTypeStatus.TRAINING
            assert not Event.objects.filter(type="clause_type.failed", data__id=training.pk).exists()
        finally:
            training.delete()


def test_a_deleted_documents_passages_leave_the_near_misses(tenant_a):
    import hashlib

    from django_tenants.utils import tenant_context

    from quire.clauses.models import ClauseType
    from quire.documents.models import Document
    from quire.documents.services import document_delete

    text = "Neither party is liable for delay caused by storms over the Quillfeather Marsh."
    with tenant_context(tenant_a.tenant):
        document = Document.objects.create(
            filename="m.txt",
            content_type="text/plain",
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            size_bytes=len(text),
            text=text,
            status="ready",
        )
        kept = {"document": "doc_other", "start": 0, "end": 5, "text": "Other", "score": 0.4}
        missed = {"document": document.pk, "start": 0, "end": len(text), "text": text, "score": 0.5}
        with (
            clause_type_row(tenant_a.tenant, "near_misses_forget", near_misses=[missed, kept]) as clause_type,
            tenant_context(tenant_a.tenant),
        ):
            document_delete(document=document)
            assert ClauseType.objects.get(pk=clause_type.pk).near_misses == [kept]


def test_adding_examples_to_a_type_deleted_meanwhile_is_a_404(api_a: Api, monkeypatch):
    from quire.clauses import views
    from quire.clauses.models import ClauseType

    created = api_a.post("/v1/clause_types", {**BODY, "key": "deleted_meanwhile"}).json()
    found = views._clause_type

    def found_then_deleted_by_another_request(clause_type_id: str) -> ClauseType:
        clause_type = found(clause_type_id)
        ClauseType.objects.filter(pk=clause_type_id).delete()
        return clause_type

    monkeypatch.setattr(views, "_clause_type", found_then_deleted_by_another_request)
    response = api_a.post(f"/v1/clause_types/{created['id']}/examples", {"examples": [MORE]})
    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "resource_missing"
    assert response.json()["error"]["param"] == "clause_type_id"


def test_two_deletes_at_once_answer_deleted_and_record_one_delete(api_a: Api, monkeypatch):
    import threading

    from quire.clauses import views
    from tenants.models import AuditEvent
    from tests.support.concurrency import Side

    created = api_a.post("/v1/clause_types", {**BODY, "key": "deleted_twice"}).json()
    found, both_found = views._clause_type, threading.Barrier(2)

    def found_by_both(clause_type_id: str):
        clause_type = found(clause_type_id)
        both_found.wait(10)
        return clause_type

    monkeypatch.setattr(views, "_clause_type", found_by_both)
    deletes = [Side(lambda: Api(api_a.secret).delete(f"/v1/clause_types/{created['id']}")) for _ in range(2)]
    assert [d.result().status_code for d in deletes] == [200, 200]
    assert AuditEvent.objects.filter(object_id=created["id"], action="clause_type.delete").count() == 1


def test_posting_a_failed_types_examples_again_trains_it_again(tenant_a, api_a: Api):
    from django_tenants.utils import tenant_context

    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_fail_unexpectedly

    created = api_a.post("/v1/clause_types", {**BODY, "key": "failed_once"}).json()
    with tenant_context(tenant_a.tenant):
        ClauseType.objects.filter(pk=created["id"]).update(status=ClauseTypeStatus.TRAINING)
        clause_type_fail_unexpectedly(clause_type_id=created["id"], exc=MemoryError())
    again = api_a.post(f"/v1/clause_types/{created['id']}/examples", {"examples": BODY["examples"][:2]})
    assert again.status_code == 202, again.content
    body = again.json()
    assert (body["status"], body["version"], body["failure_reason"]) == ("queued", 2, "")
    assert body["example_count"] == len(BODY["examples"])
    unchanged = api_a.post(f"/v1/clause_types/{created['id']}/examples", {"examples": BODY["examples"][:2]})
    assert unchanged.json()["version"] == 2
    api_a.delete(f"/v1/clause_types/{created['id']}")


def test_a_training_another_worker_is_running_is_left_to_it(tenant_a, monkeypatch):
    from django_tenants.utils import tenant_context

    from connectors.legal import custom
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_train
    from quire.webhooks.models import Event

    trained, calls, second = custom.train_head, [], []

    def second_message_taken_meanwhile(positives, negatives, **options):
        calls.append(1)
        if len(calls) == 1:
            second.append(clause_type_train(tenant=tenant_a.tenant, clause_type_id=row.pk))
        return trained(positives, negatives, **options)

    monkeypatch.setattr(custom, "train_head", second_message_taken_meanwhile)
    with tenant_context(tenant_a.tenant):
        row = ClauseType.objects.create(key="trained_once", name="Once", examples=BODY["examples"])
        try:
            first = clause_type_train(tenant=tenant_a.tenant, clause_type_id=row.pk)
            assert first.status == ClauseTypeStatus.READY and second == [None] and len(calls) == 1
            assert Event.objects.filter(type="clause_type.ready", data__id=row.pk).count() == 1
            assert ClauseType.objects.get(pk=row.pk).train_attempts == 1
        finally:
            ClauseType.objects.filter(pk=row.pk).delete()


def test_a_training_whose_worker_died_is_trained_again_then_fails_past_its_attempts(tenant_a, monkeypatch):
    from datetime import timedelta
    from types import SimpleNamespace

    from django.conf import settings
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from quire import queueing
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import CLAUSE_TYPE_TRAIN_TASK, clause_type_train, clause_types_requeue

    sent = []
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **o: sent.append((name, args)))
    )
    stopped = timezone.now() - timedelta(seconds=settings.QUIRE_JOB_LEASE_SECONDS + 30)
    training = {
        "examples": BODY["examples"],
        "status": ClauseTypeStatus.TRAINING,
        "train_owner": "elsewhere:1:2:3",
    }
    with tenant_context(tenant_a.tenant):
        dead = ClauseType.objects.create(
            key="dead_worker", name="Dead", train_heartbeat_at=stopped, **training
        )
        alive = ClauseType.objects.create(
            key="live_worker", name="Alive", train_heartbeat_at=timezone.now(), **training
        )
        try:
            assert clause_types_requeue() == 1 and sent == [(CLAUSE_TYPE_TRAIN_TASK, [dead.pk])]
            assert ClauseType.objects.get(pk=dead.pk).status == ClauseTypeStatus.QUEUED
            assert ClauseType.objects.get(pk=alive.pk).status == ClauseTypeStatus.TRAINING
            ClauseType.objects.filter(pk=dead.pk).update(train_attempts=settings.QUIRE_JOB_MAX_ATTEMPTS)
            assert clause_type_train(tenant=tenant_a.tenant, clause_type_id=dead.pk) is None
            failed = ClauseType.objects.get(pk=dead.pk)
            assert failed.status == ClauseTypeStatus.FAILED
            assert failed.failure_reason.startswith(
                f"training did not finish in {settings.QUIRE_JOB_MAX_ATTEMPTS} attempts"
            )
        finally:
            ClauseType.objects.filter(pk__in=[dead.pk, alive.pk]).delete()


def test_a_training_past_its_time_limit_fails_the_type_with_the_reason(tenant_a):
    import time

    from django_tenants.utils import tenant_context

    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_train

    with tenant_context(tenant_a.tenant):
        row = ClauseType.objects.create(key="trains_too_long", name="Slow", examples=BODY["examples"])
        try:
            clause_type_train(tenant=tenant_a.tenant, clause_type_id=row.pk, deadline=time.monotonic())
            failed = ClauseType.objects.get(pk=row.pk)
            assert failed.status == ClauseTypeStatus.FAILED and failed.head is None
            assert "QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT" in failed.failure_reason, failed.failure_reason
        finally:
            ClauseType.objects.filter(pk=row.pk).delete()


def test_a_generic_paragraph_that_is_an_example_is_not_also_a_negative(tenant_a, monkeypatch):
    from django_tenants.utils import tenant_context

    from connectors.legal import custom
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_train

    governing_law = custom.GENERIC_PARAGRAPHS[0]
    examples = [
        governing_law,
        "This Agreement is governed by the laws of England and Wales.",
        "The laws of the State of Delaware govern this Agreement, without giving effect to conflict of laws rules.",
        "This Agreement and any dispute arising from it shall be governed by German law.",
        "Governing Law. This Agreement shall be construed under the laws of the State of California.",
        "The validity and interpretation of this Agreement are governed by the laws of Ontario.",
        "This contract is subject to the laws of Switzerland, excluding the Vienna Convention.",
        "All matters arising out of this Agreement are governed by the substantive law of the State of Texas.",
        "This Agreement shall be interpreted in accordance with the laws of the Commonwealth of Massachusetts.",
        "The parties agree that the laws of Singapore govern this Agreement.",
    ]
    trained, negatives = custom.train_head, []

    def negatives_seen(positives, given, **options):
        negatives.extend(given.texts)
        return trained(positives, given, **options)

    monkeypatch.setattr(custom, "train_head", negatives_seen)
    with tenant_context(tenant_a.tenant):
        row = ClauseType.objects.create(key="governing_law", name="Governing Law", examples=examples)
        try:
            done = clause_type_train(tenant=tenant_a.tenant, clause_type_id=row.pk)
            assert done.status == ClauseTypeStatus.READY
            assert governing_law not in negatives
            assert custom.GENERIC_PARAGRAPHS[7] in negatives
        finally:
            ClauseType.objects.filter(pk=row.pk).delete()


def test_a_training_running_when_its_tenant_enters_maintenance_stops_and_is_retried_after_it(
    make_tenant, monkeypatch
):
    """A restore about to swap the schema puts its tenant in maintenance: the training stores nothing, the type
    waits `queued` as before its claim (the attempt not counted), and the task is retried after
    QUIRE_MAINTENANCE_RETRY_SECONDS; the next run trains it."""
    from celery.exceptions import Retry
    from django.test import override_settings
    from django_tenants.utils import tenant_context

    from connectors.legal import custom
    from quire.clauses import tasks
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.clauses.services import clause_type_train
    from tenants.services import tenant_maintenance_begin, tenant_maintenance_end

    tenant = make_tenant("training-maintenance").tenant
    trained, began, retried = custom.train_head, [], []

    def trained_while_maintenance_begins(positives, negatives, **options):
        if not began:
            began.append(tenant_maintenance_begin(tenant=tenant))
            wait_for(lambda: ClauseType.objects.get(pk=row.pk).status == ClauseTypeStatus.QUEUED, timeout=30)
        return trained(positives, negatives, **options)

    def retry(**options):
        retried.append(options)
        raise Retry()

    monkeypatch.setattr(custom, "train_head", trained_while_maintenance_begins)
    monkeypatch.setattr(tasks.clause_type_train_task, "retry", retry)
    with tenant_context(tenant), override_settings(QUIRE_MAINTENANCE_RETRY_SECONDS=7):
        row = ClauseType.objects.create(key="put_off", name="Put off", examples=BODY["examples"])
        tasks.clause_type_train_task.apply(args=[row.pk])
        assert [options["countdown"] for options in retried] == [7]
        put_off = ClauseType.objects.get(pk=row.pk)
        assert (put_off.status, put_off.train_owner, put_off.train_attempts, put_off.head) == (
            ClauseTypeStatus.QUEUED,
            "",
            0,
            None,
        )
        tenant_maintenance_end(tenant=tenant)
        done = clause_type_train(tenant=tenant, clause_type_id=row.pk)
        assert (done.status, done.train_attempts) == (ClauseTypeStatus.READY, 1), done.failure_reason


def test_a_restore_waits_for_a_training_while_its_heartbeat_is_fresh(make_tenant):
    """The restore's drain names a training that still holds its claim, until its heartbeat goes stale."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from common.processes import process_identity
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from tenants.backups import _in_flight

    def trainings() -> list[str]:
        return [line for line in _in_flight(tenant) if line.startswith("training")]

    tenant = make_tenant("training-drain").tenant
    with tenant_context(tenant):
        row = ClauseType.objects.create(
            key="in_training", name="In training", examples=BODY["examples"], status=ClauseTypeStatus.TRAINING
        )
        ClauseType.objects.filter(pk=row.pk).update(
            train_owner=process_identity(), train_heartbeat_at=timezone.now()
        )
    assert len(trainings()) == 1 and row.pk in trainings()[0]
    with tenant_context(tenant):
        stale = timezone.now() - timedelta(seconds=settings.QUIRE_JOB_LEASE_SECONDS + 30)
        ClauseType.objects.filter(pk=row.pk).update(train_heartbeat_at=stale)
    assert trainings() == []


def test_a_workspace_at_its_clause_type_limit_is_refused_a_new_one_until_it_deletes_one(
    make_tenant, monkeypatch
):
    from types import SimpleNamespace

    from django_tenants.utils import tenant_context

    from quire import queueing
    from quire.clauses import services
    from tests.quire.api.test_api_errors import assert_error

    monkeypatch.setattr(services, "MAX_CLAUSE_TYPES", 2)
    monkeypatch.setattr(
        queueing, "current_app", SimpleNamespace(send_task=lambda name, args, **options: None)
    )
    provisioned = make_tenant("clause-type-limit")
    api = Api(provisioned.issued_key.secret)
    made = [api.post("/v1/clause_types", {**BODY, "key": f"limited_{i}"}) for i in range(2)]
    assert [response.status_code for response in made] == [202, 202]
    refused = assert_error(api.post("/v1/clause_types", {**BODY, "key": "limited_2"}), 409, "limit_reached")
    assert refused["message"] == "A workspace has at most 2 clause types; delete one to add another."
    with tenant_context(provisioned.tenant):
        assert sorted(services.ClauseType.objects.values_list("key", flat=True)) == ["limited_0", "limited_1"]
    assert api.delete(f"/v1/clause_types/{made[0].json()['id']}").status_code == 200
    assert api.post("/v1/clause_types", {**BODY, "key": "limited_2"}).status_code == 202
