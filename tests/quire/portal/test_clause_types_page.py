"""The clause types page: pasting examples creates a clause type and queues its training, bad input is shown
on its field, the detail page shows status and cross-validated metrics, and another workspace sees none."""

from __future__ import annotations

import json

from django_tenants.utils import tenant_context

from quire.clauses.models import ClauseType, ClauseTypeStatus
from tests.support.paths import DATA
from tests.support.portal import signed_in

FIXTURE = json.loads((DATA / "custom_clauses" / "force_majeure.json").read_text(encoding="utf-8"))


def _form(**changes) -> dict:
    return {
        "key": "portal_force_majeure",
        "name": "Force Majeure",
        "description": "",
        "examples": "\n\n".join(FIXTURE["examples"]),
        "counter_examples": "\n\n".join(FIXTURE["counter_examples"]),
        **changes,
    }


def test_clause_types_page(workspace, other_workspace):
    developer = signed_in(workspace, "developer")
    few = developer.post("/clause-types", _form(examples="\n\n".join(FIXTURE["examples"][:9])))
    assert few.status_code == 400 and b"Give at least 10 different example passages" in few.content
    assert signed_in(workspace, "viewer").post("/clause-types", _form()).status_code == 403

    created = developer.post("/clause-types", _form())
    assert created.status_code == 302, created.content
    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.get(key="portal_force_majeure")
        assert clause_type.examples == FIXTURE["examples"] and clause_type.status == ClauseTypeStatus.QUEUED
        ClauseType.objects.filter(pk=clause_type.pk).update(
            status=ClauseTypeStatus.READY, precision=0.9167, recall=1.0, negative_count=35
        )
    assert created["Location"] == f"/clause-types/{clause_type.pk}"
    assert developer.post("/clause-types", _form()).status_code == 400

    listing = developer.get("/clause-types")
    assert (
        b"portal_force_majeure" in listing.content and b'aria-current="page">Clause types' in listing.content
    )
    detail = developer.get(f"/clause-types/{clause_type.pk}")
    assert b'data-status="ready"' in detail.content and b'data-metric="precision">0.9167' in detail.content
    assert b"hx-trigger" not in detail.content and b"data-advice" not in detail.content
    with tenant_context(workspace.tenant):
        ClauseType.objects.filter(pk=clause_type.pk).update(precision=1.0, recall=0.4167)
    weak = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert "The head found 42% of its held-out examples" in weak and "add examples worded" in weak
    assert signed_in(other_workspace, "owner").get(f"/clause-types/{clause_type.pk}").status_code == 404

    assert developer.post(f"/clause-types/{clause_type.pk}/delete").status_code == 302
    with tenant_context(workspace.tenant):
        assert not ClauseType.objects.filter(pk=clause_type.pk).exists()


def test_a_review_column_of_type_clause_names_a_clause_type():
    from quire.portal.forms import ReviewForm

    form = ReviewForm(
        {
            "all_documents": True,
            "columns": "fm | Is performance excused? | clause | force_majeure",
            "mode": "analyzers",
        },
        documents=[],
        templates=[],
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["columns"] == [
        {"key": "fm", "question": "Is performance excused?", "type": "clause", "clause_type": "force_majeure"}
    ]


def test_the_passages_to_check_are_answered_and_train_the_head_again(workspace, trainings_queued):
    developer = signed_in(workspace, "developer")
    assert developer.post("/clause-types", _form(key="checked_force_majeure")).status_code == 302
    near = [
        {
            "document": "doc_a",
            "start": 0,
            "end": 40,
            "text": "Neither party is liable for acts of God.",
            "score": 0.91,
        },
        {
            "document": "doc_a",
            "start": 50,
            "end": 90,
            "text": "Invoices are due within thirty days.",
            "score": 0.72,
        },
        {
            "document": "doc_b",
            "start": 0,
            "end": 30,
            "text": "The Supplier warrants the goods.",
            "score": 0.66,
        },
    ]
    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.get(key="checked_force_majeure")
        ClauseType.objects.filter(pk=clause_type.pk).update(
            status=ClauseTypeStatus.READY, precision=0.9, recall=0.8, near_misses=near
        )
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert "Passages to check" in page and page.count('type="radio"') == 9
    assert "Invoices are due within thirty days." in page and 'href="/documents/doc_b"' in page
    assert (
        "Passages to check"
        not in signed_in(workspace, "viewer").get(f"/clause-types/{clause_type.pk}").content.decode()
    )
    assert signed_in(workspace, "viewer").post(f"/clause-types/{clause_type.pk}/label", {}).status_code == 403

    stale = developer.post(
        f"/clause-types/{clause_type.pk}/label", {"version": "7", "passage-0": "clause"}, follow=True
    )
    assert "trained again since" in stale.content.decode()
    nothing = developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {"version": "1", "passage-0": "", "passage-1": "", "passage-0-ref": "doc_a:0:40"},
        follow=True,
    )
    assert "Mark at least one passage" in nothing.content.decode()
    answered = developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {
            "version": "1",
            **{f"passage-{n}-ref": f"{p['document']}:{p['start']}:{p['end']}" for n, p in enumerate(near)},
            "passage-0": "clause",
            "passage-1": "not",
            "passage-2": "",
        },
    )
    assert answered.status_code == 302
    shown = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert "again on 13 examples and 4 counter-examples." in shown
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == "Neither party is liable for acts of God."
    assert clause_type.counter_examples[-1] == "Invoices are due within thirty days."
    assert len(clause_type.counter_examples) == len(FIXTURE["counter_examples"]) + 1
    assert (clause_type.version, clause_type.status) == (2, ClauseTypeStatus.QUEUED)
    assert trainings_queued == [clause_type.pk, clause_type.pk]


def test_a_near_miss_answer_stays_with_its_passage_when_another_is_forgotten(workspace, trainings_queued):
    from django.db import transaction

    from quire.clauses.services import clause_types_forget

    developer = signed_in(workspace, "developer")
    assert developer.post("/clause-types", _form(key="shifting_force_majeure")).status_code == 302
    near = [
        {
            "document": "doc_a",
            "start": 0,
            "end": 30,
            "text": "Invoices are due in thirty days.",
            "score": 0.7,
        },
        {
            "document": "doc_b",
            "start": 0,
            "end": 40,
            "text": "Neither party is liable for acts of God.",
            "score": 0.6,
        },
        {
            "document": "doc_c",
            "start": 0,
            "end": 30,
            "text": "The Supplier warrants the goods.",
            "score": 0.5,
        },
    ]
    with tenant_context(workspace.tenant):
        clause_type = ClauseType.objects.get(key="shifting_force_majeure")
        ClauseType.objects.filter(pk=clause_type.pk).update(status=ClauseTypeStatus.READY, near_misses=near)
    page = developer.get(f"/clause-types/{clause_type.pk}").content.decode()
    assert 'name="passage-1-ref" value="doc_b:0:40"' in page
    with tenant_context(workspace.tenant), transaction.atomic():
        clause_types_forget(document_ids=["doc_a"])
    developer.post(
        f"/clause-types/{clause_type.pk}/label",
        {"version": "1", "passage-1": "clause", "passage-1-ref": "doc_b:0:40"},
    )
    with tenant_context(workspace.tenant):
        clause_type.refresh_from_db()
    assert clause_type.examples[-1] == "Neither party is liable for acts of God."
    assert "The Supplier warrants the goods." not in clause_type.examples
