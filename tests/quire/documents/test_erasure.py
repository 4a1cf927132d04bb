"""Deletion that deletes: a deleted document's sentence is nowhere in PostgreSQL (every schema, every text
and JSON column) nor in storage, while the job's finding stays, marked redacted; the retention sweep;
erasing a tenant."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from tests.support import Api, wait_for
from tests.support.concurrency import Side, blocked_on_a_lock, pause, waiting_on_a_lock
from tests.support.documents import CONTRACT
from tests.support.jobs import wait_job

TEXT_TYPES = ("text", "character varying", "json", "jsonb")


def _tables_holding(needle: str) -> list[str]:
    """`schema.table.column` of every row, in every schema, whose text or JSON column contains `needle`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "JOIN information_schema.tables USING (table_schema, table_name) "
            "WHERE data_type = ANY(%s) AND table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            [list(TEXT_TYPES)],
        )
        columns = cursor.fetchall()
        found = []
        for schema, table, column in columns:
            cursor.execute(
                f'SELECT 1 FROM "{schema}"."{table}" WHERE strpos("{column}"::text, %s) > 0 LIMIT 1', [needle]
            )
            if cursor.fetchone():
                found.append(f"{schema}.{table}.{column}")
    return found


def _files_holding(needle: str) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


def _model_job_quoting(tenant_a, document_id: str, monkeypatch, quote: str) -> str:
    """A legal job in model mode over the document, run here against a scripted server whose Governing Law
    quote is not in the text: the result's `warnings` and its `job.succeeded` event keep the quote."""
    from quire.jobs.models import Job
    from quire.jobs.services import job_run
    from tests.connectors.conftest import ScriptedServer

    server = ScriptedServer()
    server.responder = lambda messages: (
        json.dumps({"clauses": [{"quote": quote, "confidence": 0.9}]})
        if "CUAD category: Governing Law." in messages[-1]["content"]
        else "{}"
    )
    monkeypatch.setenv("QUIRE_INFERENCE_URL", server.url)
    monkeypatch.setenv("QUIRE_INFERENCE_MODEL", "scripted")
    try:
        with tenant_context(tenant_a.tenant):
            job = Job.objects.create(connector="legal", mode="model", document_ids=[document_id])
            assert job_run(tenant=tenant_a.tenant, job_id=job.pk).status == "succeeded"
    finally:
        server.close()
    return job.pk


def test_deleted_document_leaves_no_trace(api_a: Api, tenant_a, celery_worker, monkeypatch):
    unique = uuid.uuid4().hex[:12]
    marker = f"Tribunal of Quillfeather Marsh {unique}"
    text = CONTRACT.replace(
        "without regard to its conflict of laws principles", f"and every dispute goes before the {marker}"
    )
    document_id = api_a.post(
        "/v1/documents",
        {"text": text, "filename": f"erasable-{unique}.txt"},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    ).json()["id"]
    wait_for(lambda: api_a.get(f"/v1/documents/{document_id}").json()["status"] == "ready", timeout=120)
    job = api_a.post("/v1/jobs", {"connector": "legal", "documents": [document_id]}).json()
    assert wait_job(api_a, job["id"])["status"] == "succeeded"
    columns = [{"key": "forum", "question": "Where are disputes heard?", "type": "text"}]
    review = api_a.post(
        "/v1/jobs", {"connector": "review", "documents": [document_id], "options": {"columns": columns}}
    ).json()
    assert wait_job(api_a, review["id"])["status"] == "succeeded"
    corrected = api_a.post(
        f"/v1/jobs/{review['id']}/cells",
        {"document": document_id, "key": "forum", "corrected_value": f"Disputes go before the {marker}."},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert corrected.status_code == 200, corrected.content
    model_job = _model_job_quoting(
        tenant_a, document_id, monkeypatch, f"every dispute goes before the {marker}, sitting in Toronto."
    )
    warned = api_a.get(f"/v1/jobs/{model_job}/result").json()["output"]["warnings"]
    assert any(unique in warning for warning in warned), warned
    assert _tables_holding(marker) and _files_holding(marker)
    holding = str(_tables_holding(unique))
    for column in ("api_idempotencyrecord.response_text", "jobs_cellcorrection.corrected_value"):
        assert column in holding

    assert api_a.delete(f"/v1/documents/{document_id}").status_code == 200
    assert _tables_holding(unique) == []
    assert _files_holding(unique) == []
    result = api_a.get(f"/v1/jobs/{job['id']}/result").json()
    redacted = [f for f in result["output"]["clauses"] if f.get("redacted")]
    assert redacted and all(f["span"]["quote"] == "" and f["span"]["redacted"] for f in redacted)
    assert redacted[0]["span"]["document_id"] == document_id
    events = api_a.get("/v1/events", type="job.succeeded", limit=3).json()["data"]
    [event] = [e for e in events if e["data"]["id"] == job["id"]]
    assert any(f.get("redacted") for f in event["data"]["result"]["output"]["clauses"])
    cell = api_a.get(f"/v1/jobs/{review['id']}/result").json()["output"]["rows"][0]["cells"]["forum"]
    assert "correction" not in cell
    warned = api_a.get(f"/v1/jobs/{model_job}/result").json()["output"]["warnings"]
    assert [w for w in warned if document_id in w] == [
        f"{document_id!r} was deleted: a warning about it is redacted"
    ]


def test_retention_and_tenant_erase(make_tenant, monkeypatch):
    from billing.models import BillingAccount
    from quire.documents.models import Document
    from quire.documents.services import document_create
    from quire.jobs.services import retention_apply
    from quire.webhooks.models import Event
    from quire.webhooks.services import event_publish
    from tenants.models import ApiKey, AuditEvent, Member, Tenant
    from tenants.services import tenant_settings_update

    provisioned = make_tenant("erasure-co")
    tenant = provisioned.tenant
    with tenant_context(tenant):
        old, kept = (
            document_create(
                tenant=tenant, content=text.encode(), filename=f"{i}.txt", declared_type=None, max_bytes=10**6
            ).document
            for i, text in enumerate(("An old memo to purge.", "A recent memo to keep."))
        )
        Document.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
        rendered = Path(
            default_storage.path(
                default_storage.save(f"page-images/{tenant.schema_name}/{old.pk}/1.png", ContentFile(b"p"))
            )
        )
        event_publish(event_type="webhook.test", data={"object": "webhook_test"})
        Event.objects.update(created_at=timezone.now() - timedelta(days=40))
        assert retention_apply(tenant=tenant) == {}
        tenant_settings_update(tenant=tenant, retention_days=30)
        assert retention_apply(tenant=tenant) == {"jobs": 0, "documents": 1, "events": 1}
        assert list(Document.objects.values_list("pk", flat=True)) == [kept.pk]
        assert not rendered.parent.exists() and rendered.parent.parent.exists()
        stored = Path(Document.objects.get(pk=kept.pk).file.path)
        default_storage.save(f"page-images/{tenant.schema_name}/{kept.pk}/1.png", ContentFile(b"p"))
    assert AuditEvent.objects.filter(tenant=tenant, action="workspace.retention_change").exists()

    connection.set_schema_to_public()
    late = default_storage.save(
        f"documents/{tenant.schema_name}/doc_uploaded_while_erasing", ContentFile(b"x")
    )
    from quire.jobs import services as jobs_services

    active_while_erasing = []
    billing_erase = jobs_services.billing_erase

    def erase_billing(*, tenant):
        active_while_erasing.append(Tenant.objects.get(pk=tenant.pk).is_active)
        return billing_erase(tenant=tenant)

    monkeypatch.setattr(jobs_services, "billing_erase", erase_billing)
    call_command("tenant_erase", "erasure-co", "--yes", stdout=io.StringIO())
    assert active_while_erasing == [False]
    assert not stored.exists()
    assert not default_storage.exists(late)
    assert not stored.parent.exists() and not rendered.parent.parent.exists()
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    for model in (ApiKey, Member, BillingAccount):
        assert not model.objects.filter(tenant_id=tenant.pk).exists()
    [erased] = AuditEvent.objects.filter(tenant_id=tenant.pk)
    assert erased.action == "workspace.erase" and erased.details["documents"] == 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [tenant.schema_name]
        )
        assert cursor.fetchone() is None


def test_jobs_finishing_while_their_tenant_is_erased_record_nothing_and_the_erase_completes(
    make_tenant, monkeypatch
):
    """A job queued before the erase is canceled by it; one that runs and finishes meanwhile (created after
    the erase canceled the others) records no usage for the tenant going: the erase does not stop halfway."""
    from billing.models import UsageEvent
    from quire.jobs import services as jobs_services
    from quire.jobs.models import Job
    from tenants.models import Tenant
    from tests.support.portal import stored_document

    provisioned = make_tenant("erase-race")
    tenant = provisioned.tenant
    document = stored_document(provisioned, "c.txt", "This Agreement is governed by the laws of Delaware.")
    with tenant_context(tenant):
        queued = Job.objects.create(connector="legal", document_ids=[document.pk])
    finished = {}
    stripe_customer_erase = jobs_services.stripe_customer_erase

    def jobs_finish_meanwhile(*, tenant):
        with tenant_context(tenant):
            late = Job.objects.create(connector="legal", document_ids=[document.pk])
            for job in (queued, late):
                finished[job.pk] = jobs_services.job_run(tenant=tenant, job_id=job.pk)
            finished["usage"] = UsageEvent.objects.filter(tenant_id=tenant.pk).count()
        return stripe_customer_erase(tenant=tenant)

    monkeypatch.setattr(jobs_services, "stripe_customer_erase", jobs_finish_meanwhile)
    jobs_services.workspace_erase(tenant=tenant)
    assert not Tenant.objects.filter(pk=tenant.pk).exists()
    late = next(job for key, job in finished.items() if key not in (queued.pk, "usage"))
    assert finished[queued.pk].status == "canceled" and finished[queued.pk].stage == "canceled"
    assert (late.status, late.error["code"]) == ("failed", "workspace_inactive")
    assert finished["usage"] == 0


def test_an_erase_run_again_after_stopping_midway_records_what_it_erased_in_all(make_tenant, monkeypatch):
    """The workspace.erase event counts the documents and usage rows the erasure removed, whichever run
    removed them: a run stopped by Stripe, or killed before its last step, leaves the counts to the next."""
    import stripe

    from billing.models import UsageEvent
    from quire.jobs import services as jobs_services
    from tenants.models import AuditEvent, Tenant
    from tests.support.portal import stored_document

    provisioned = make_tenant("erase-again")
    tenant = provisioned.tenant
    for name in ("a.txt", "b.txt"):
        stored_document(provisioned, name, "This Agreement is governed by the laws of Delaware.")
    UsageEvent.objects.bulk_create(
        UsageEvent(
            tenant=tenant, kind="pages", quantity=3, idempotency_key=f"erase-again-{i}", occurred_at=now
        )
        for i, now in enumerate([timezone.now()] * 3)
    )
    usage = UsageEvent.objects.filter(tenant_id=tenant.pk).count()
    stripe_customer_erase, tenant_erase = jobs_services.stripe_customer_erase, jobs_services.tenant_erase

    def stripe_down(*, tenant):
        raise stripe.APIConnectionError("Stripe did not answer")

    def killed(*, tenant, erased):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs_services, "stripe_customer_erase", stripe_down)
    with pytest.raises(stripe.APIConnectionError):
        jobs_services.workspace_erase(tenant=tenant)
    monkeypatch.setattr(jobs_services, "stripe_customer_erase", stripe_customer_erase)
    monkeypatch.setattr(jobs_services, "tenant_erase", killed)
    with pytest.raises(KeyboardInterrupt):
        jobs_services.workspace_erase(tenant=Tenant.objects.get(pk=tenant.pk))
    monkeypatch.setattr(jobs_services, "tenant_erase", tenant_erase)
    jobs_services.workspace_erase(tenant=Tenant.objects.get(pk=tenant.pk))

    [erased] = AuditEvent.objects.filter(tenant_id=tenant.pk)
    # Whether a Stripe customer was deleted depends on whether earlier tests left Stripe configured.
    assert {key: erased.details[key] for key in ("documents", "usage_events")} == {
        "documents": 2,
        "usage_events": usage,
    }
    assert not UsageEvent.objects.filter(tenant_id=tenant.pk).exists()


def test_redactor_keeps_the_finding_and_empties_the_documents_words():
    from quire.documents.redaction import Redactor

    text = "Revenue rose 12% to $1.2 billion in the third quarter. Margins held at 40%."
    other = {"document_id": "doc_b", "start": 0, "end": 5, "quote": "Other"}
    output = {
        "summary": [
            {
                "text": "Revenue rose 12% to $1.2 billion in the third quarter.",
                "spans": [{"document_id": "doc_a", "start": 0, "end": 54, "quote": text[:54]}, other],
            }
        ],
        "answers": {"Revenue": "$1.2 billion"},
        "findings": [{"label": "other document", "span": other}],
    }
    redactor = Redactor(document_id="doc_a", text=text)
    redacted = redactor(output)
    finding = redacted["summary"][0]
    assert finding["redacted"] and finding["text"] == ""
    assert finding["spans"] == [
        {"document_id": "doc_a", "start": 0, "end": 54, "quote": "", "redacted": True},
        other,
    ]
    assert redacted["answers"] == output["answers"] and redacted["findings"] == output["findings"]
    assert redactor.count == 1 and output["summary"][0]["spans"][0]["quote"] == text[:54]
    email = {
        "object": "document",
        "id": "doc_m",
        "attachments": [{"document_id": "doc_a", "filename": "q3.pdf"}],
    }
    assert redactor(email)["attachments"] == [{"document_id": "doc_a", "filename": "", "redacted": True}]
    warnings = ["quote not found in 'doc_a', dropped: 'Revenue rose 12%'", "about 'doc_b'"]
    assert redactor({"warnings": warnings})["warnings"] == [
        "'doc_a' was deleted: a warning about it is redacted",
        "about 'doc_b'",
    ]
    correction = {"object": "cell_correction", "document": "doc_a", "key": "k", "corrected_value": "Revenue"}
    assert redactor(correction) == {**correction, "corrected_value": None, "redacted": True}


def test_a_document_deleted_while_a_job_reads_it_leaves_no_quote_in_the_result(tenant_a, monkeypatch):
    """The job read the text before the delete: the result it stores afterwards is redacted as the delete
    would have redacted it, findings kept."""
    import connectors
    from quire.documents.models import Document
    from quire.documents.services import document_create, document_delete
    from quire.jobs.models import Job, JobResult
    from quire.jobs.services import job_run

    unique = uuid.uuid4().hex[:12]
    marker = f"Tribunal of Quillfeather Marsh {unique}"
    text = CONTRACT.replace(
        "without regard to its conflict of laws principles", f"and every dispute goes before the {marker}"
    )
    real = connectors.run_connector

    def read_then_deleted(*args, **kwargs):
        output = real(*args, **kwargs)
        document_delete(document=Document.objects.get(pk=document.pk))
        return output

    with tenant_context(tenant_a.tenant):
        document = document_create(
            tenant=tenant_a.tenant,
            content=text.encode(),
            filename="c.txt",
            declared_type=None,
            max_bytes=10**6,
        ).document
        Document.objects.filter(pk=document.pk).update(status="ready", text=text, page_starts=[0])
        job = Job.objects.create(connector="legal", document_ids=[document.pk])
        monkeypatch.setattr(connectors, "run_connector", read_then_deleted)
        assert job_run(tenant=tenant_a.tenant, job_id=job.pk).status == "succeeded"
        output = JobResult.objects.get(job_id=job.pk).output
    assert unique not in str(output)
    redacted = [f for f in output["clauses"] if f.get("redacted")]
    assert redacted and all(
        f["span"]["quote"] == "" and f["span"]["document_id"] == document.pk for f in redacted
    )


def test_a_page_image_rendered_while_its_document_is_deleted_is_not_kept(tenant_a, monkeypatch):
    from quire.documents import pages
    from quire.documents.models import Document
    from quire.documents.services import document_create, document_delete
    from tests.support.documents import make_pdf

    with tenant_context(tenant_a.tenant):
        document = document_create(
            tenant=tenant_a.tenant,
            content=make_pdf([f"A page rendered while it goes {uuid.uuid4().hex}."]),
            filename="render.pdf",
            declared_type=None,
            max_bytes=10**6,
        ).document
        Document.objects.filter(pk=document.pk).update(page_starts=[0])
        document = Document.objects.get(pk=document.pk)
        checked = pages.check_ocr_pixels

        def deleted_meanwhile(*args, **kwargs):
            document_delete(document=Document.objects.get(pk=document.pk))
            return checked(*args, **kwargs)

        monkeypatch.setattr(pages, "check_ocr_pixels", deleted_meanwhile)
        pages.page_image(document, 1)
    folder = Path(settings.MEDIA_ROOT) / "page-images" / tenant_a.tenant.schema_name / document.pk
    assert not folder.exists() or not any(folder.iterdir())


def test_page_images_are_kept_under_the_schema_and_go_with_the_document_and_the_tenant(make_tenant):
    from quire.documents import pages
    from quire.documents.models import Document
    from quire.documents.services import document_create, document_delete
    from tests.support.documents import make_pdf

    tenant = make_tenant("page-images").tenant
    media = Path(settings.MEDIA_ROOT) / "page-images"
    with tenant_context(tenant):
        kept, deleted = (
            document_create(
                tenant=tenant,
                content=make_pdf([f"Page {name} {uuid.uuid4().hex}."]),
                filename=f"{name}.pdf",
                declared_type=None,
                max_bytes=10**6,
            ).document
            for name in ("kept", "deleted")
        )
        Document.objects.filter(pk__in=[kept.pk, deleted.pk]).update(page_starts=[0])
        for document in Document.objects.filter(pk__in=[kept.pk, deleted.pk]):
            pages.page_image(document, 1)
        assert (media / tenant.schema_name / kept.pk / "1.png").is_file()
        old_path = default_storage.save(f"page-images/{deleted.pk}/2.png", ContentFile(b"rendered before"))
        document_delete(document=Document.objects.get(pk=deleted.pk))
    assert not (media / tenant.schema_name / deleted.pk / "1.png").exists()
    assert not default_storage.exists(old_path)

    call_command("tenant_erase", "page-images", "--yes", stdout=io.StringIO())
    assert not (media / tenant.schema_name / kept.pk / "1.png").exists()


def test_a_restore_names_documents_whose_file_is_gone_and_the_sweep_deletes_files_no_row_names(
    make_tenant, tmp_path
):
    from quire.documents.models import Document
    from quire.documents.services import document_create, document_delete, documents_orphans_delete

    tenant = make_tenant("restored-files").tenant
    archive = tmp_path / "restored-files.dump"

    def upload(name: str) -> Document:
        return document_create(
            tenant=tenant,
            content=f"The {name} memo {uuid.uuid4().hex}.".encode(),
            filename=f"{name}.txt",
            declared_type=None,
            max_bytes=10**6,
        ).document

    with tenant_context(tenant):
        kept, gone = upload("kept"), upload("gone")
    call_command("tenant_dump", "restored-files", str(archive))
    with tenant_context(tenant):
        document_delete(document=gone)
        later = upload("later")
    assert default_storage.exists(later.file.name) and not default_storage.exists(gone.file.name)

    out = io.StringIO()
    call_command("tenant_restore", "restored-files", str(archive), "--replace", stdout=out)
    report = out.getvalue()
    assert "1 restored document(s) name a stored file that is gone" in report
    assert gone.pk in report and kept.pk not in report

    with tenant_context(tenant):
        assert not Document.objects.filter(pk=later.pk).exists()
        assert documents_orphans_delete(min_age=timedelta(0)) >= 1
    assert not default_storage.exists(later.file.name) and default_storage.exists(kept.file.name)
    with tenant_context(tenant):
        for document in Document.objects.all():
            document_delete(document=document)


def test_a_deleted_documents_near_miss_leaves_no_text_in_clause_type_events(tenant_a):
    import json

    from quire.clauses.events import clause_type_trained
    from quire.clauses.models import ClauseType, ClauseTypeStatus
    from quire.documents.services import document_delete
    from tests.support.paths import DATA
    from tests.support.portal import stored_document

    examples = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))[
        "examples"
    ]
    secret = (
        f"The Purchaser shall keep the {uuid.uuid4().hex} pricing schedule strictly confidential forever."
    )
    document = stored_document(tenant_a, f"near-miss-{uuid.uuid4().hex[:8]}.txt", secret)
    with tenant_context(tenant_a.tenant):
        clause_type = ClauseType.objects.create(
            key=f"nm_{uuid.uuid4().hex[:8]}",
            name="Force Majeure",
            status=ClauseTypeStatus.READY,
            examples=examples,
            near_misses=[
                {"document": document.pk, "start": 0, "end": len(secret), "text": secret, "score": 0.8}
            ],
        )
        event = clause_type_trained(clause_type=clause_type)
        assert secret in json.dumps(event.data)
        document_delete(document=document)
        event.refresh_from_db()
        assert secret not in json.dumps(event.data)
        [near_miss] = event.data["near_misses"]
        assert near_miss["redacted"] and near_miss["text"] == "" and near_miss["start"] == 0
        assert event.data["example_count"] == len(examples)


def test_a_deleted_contracts_answers_are_emptied_and_the_others_kept(tenant_a):
    """Party names are the contract's words too: deleting a contract empties its answers in a one-contract job
    and its entry (and `answers`, where it is that entry) in a multi-contract job; another contract's stay."""
    from quire.documents.models import Document
    from quire.documents.services import document_create, document_delete
    from quire.jobs.models import Job, JobResult
    from quire.jobs.services import job_run

    party = f"Quillfeather{uuid.uuid4().hex[:8]} Holdings LLC"
    deleted_text = CONTRACT.replace("Beta LLC", party)
    with tenant_context(tenant_a.tenant):
        documents = []
        for name, text in (("deleted.txt", deleted_text), ("kept.txt", CONTRACT)):
            document = document_create(
                tenant=tenant_a.tenant,
                content=text.encode(),
                filename=name,
                declared_type=None,
                max_bytes=10**6,
            ).document
            Document.objects.filter(pk=document.pk).update(status="ready", text=text, page_starts=[0])
            documents.append(document)
        gone, kept = (d.pk for d in documents)
        single = Job.objects.create(connector="legal", document_ids=[gone])
        both = Job.objects.create(connector="legal", document_ids=[gone, kept])
        for job in (single, both):
            assert job_run(tenant=tenant_a.tenant, job_id=job.pk).status == "succeeded"
        before = JobResult.objects.get(job_id=both.pk).output
        assert (
            party in before["answers"]["Parties"] and party in before["answers_by_document"][gone]["Parties"]
        )

        document_delete(document=Document.objects.get(pk=gone))
        one = JobResult.objects.get(job_id=single.pk).output["answers"]
        after = JobResult.objects.get(job_id=both.pk).output
    assert one["Parties"] == [] and one["Governing Law"] is None and set(one) == set(before["answers"])
    assert after["answers"] == after["answers_by_document"][gone]
    assert after["answers"]["Parties"] == [] and after["answers"]["Document Name"] is None
    assert after["answers_by_document"][kept] == before["answers_by_document"][kept]
    assert "Beta LLC" in after["answers_by_document"][kept]["Parties"]
    assert _tables_holding(party) == []


def _mail_with(tenant, *attachments_of: int) -> list:
    """Ready documents: one attachment (first) and `len(attachments_of)` e-mails listing it."""
    from quire.documents.models import Attachment, Document

    def made(**fields):
        return Document.objects.create(
            filename="m.txt",
            sha256=uuid.uuid4().hex,
            size_bytes=1,
            text="Mailed text.",
            status="ready",
            **{"content_type": "text/plain", **fields},
        )

    with tenant_context(tenant):
        attachment = made(arrived_as_attachment=True)
        mails = [made(content_type="message/rfc822") for _ in attachments_of]
        for mail in mails:
            Attachment.objects.create(email=mail, document=attachment, position=0, filename="a.txt")
    return [attachment, *mails]


def test_an_email_and_its_attachment_deleted_at_once_both_go_without_a_deadlock(
    api_a: Api, tenant_a, monkeypatch
):
    from quire.documents import services
    from quire.documents.models import Document

    attachment, mail = _mail_with(tenant_a.tenant, 1)
    deleting = pause(
        monkeypatch, services, "events_rewrite", when=lambda **k: attachment.pk in k["containing"]
    )
    first = Side(lambda: Api(api_a.secret).delete(f"/v1/documents/{attachment.pk}"))
    assert deleting.entered.wait(10)
    second = Side(lambda: Api(api_a.secret).delete(f"/v1/documents/{mail.pk}"))
    blocked_on_a_lock()
    deleting.release()
    assert [first.result().status_code, second.result().status_code] == [200, 200], second.result().content
    with tenant_context(tenant_a.tenant):
        assert not Document.objects.filter(pk__in=[attachment.pk, mail.pk]).exists()


def test_two_emails_sharing_an_attachment_deleted_at_once_take_it_along(api_a: Api, tenant_a, monkeypatch):
    from quire.documents import services
    from quire.documents.models import Document

    attachment, *mails = _mail_with(tenant_a.tenant, 1, 2)
    unlinked = pause(
        monkeypatch,
        services,
        "events_rewrite",
        when=lambda **k: bool({m.pk for m in mails} & set(k["containing"])),
    )
    deletes = [Side(lambda pk=mail.pk: Api(api_a.secret).delete(f"/v1/documents/{pk}")) for mail in mails]
    wait_for(lambda: unlinked.count == 2 or (unlinked.count == 1 and waiting_on_a_lock()), timeout=10)
    unlinked.release()
    assert [d.result().status_code for d in deletes] == [200, 200]
    with tenant_context(tenant_a.tenant):
        assert not Document.objects.filter(pk__in=[attachment.pk, *(m.pk for m in mails)]).exists()


def test_a_deletion_finds_the_events_and_responses_naming_a_document_by_the_documents_each_names(tenant_a):
    from quire.api.idempotency import idempotency_records_rewrite
    from quire.api.models import IdempotencyRecord
    from quire.webhooks.models import Event
    from quire.webhooks.services import event_publish, events_rewrite

    named, other = f"doc_{uuid.uuid4().hex[:20]}", f"doc_{uuid.uuid4().hex[:20]}"
    data = {
        "object": "webhook_test",
        "url": f"/v1/documents/{named}/file",
        "others": [other],
        "quote": "secret",
    }

    def emptied(body, *, among):
        assert among == [named]
        return {**body, "quote": ""}

    with tenant_context(tenant_a.tenant):
        indexed, older, unnamed = (event_publish(event_type="webhook.test", data=data) for _ in range(3))
        assert indexed.document_ids == sorted([named, other])
        Event.objects.filter(pk=older.pk).update(document_ids=None)
        Event.objects.filter(pk=unnamed.pk).update(document_ids=[other])
        responses = [
            IdempotencyRecord.objects.create(
                key=uuid.uuid4().hex,
                fingerprint="f",
                status_code=201,
                content_type="application/json",
                response_text=json.dumps(data),
                document_ids=document_ids,
            )
            for document_ids in ([named], None, [other])
        ]
        assert events_rewrite(containing=[named], rewrite=emptied) == {named: 2}
        assert idempotency_records_rewrite(containing=[named], rewrite=emptied) == 2
        found = Event.objects.in_bulk([indexed.pk, older.pk, unnamed.pk])
        assert [found[e.pk].data["quote"] for e in (indexed, older, unnamed)] == ["", "", "secret"]
        assert found[older.pk].document_ids == sorted([named, other])
        quotes = [
            json.loads(IdempotencyRecord.objects.get(pk=r.pk).response_text)["quote"] for r in responses
        ]
        assert quotes == ["", "", "secret"]


def test_the_migrations_adding_the_named_documents_fill_them_for_what_was_stored_before(tenant_a):
    from quire.api.models import IdempotencyRecord
    from quire.webhooks.models import Event
    from quire.webhooks.services import event_publish

    named = f"doc_{uuid.uuid4().hex[:20]}"
    with tenant_context(tenant_a.tenant):
        event = event_publish(event_type="webhook.test", data={"object": "webhook_test", "document": named})
        stored, writing = (
            IdempotencyRecord.objects.create(
                key=uuid.uuid4().hex,
                fingerprint="f",
                status_code=status,
                content_type="application/json",
                response_text=json.dumps({"id": named}),
            )
            for status in (201, None)
        )
    schema = tenant_a.tenant.schema_name
    for app, before in (("webhooks", "0005_retired_secrets"), ("api", "0003_idempotency_secrets_removed")):
        call_command("migrate_schemas", app, before, schema_name=schema, interactive=False, verbosity=0)
        call_command("migrate_schemas", app, schema_name=schema, interactive=False, verbosity=0)
    with tenant_context(tenant_a.tenant):
        assert Event.objects.get(pk=event.pk).document_ids == [named]
        assert IdempotencyRecord.objects.get(pk=stored.pk).document_ids == [named]
        assert IdempotencyRecord.objects.get(pk=writing.pk).document_ids is None
