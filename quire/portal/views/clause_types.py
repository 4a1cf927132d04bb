"""Custom clause types: create one by pasting example passages, watch it train, read its cross-validated
precision and recall, answer the passages to check (its near misses, or a legal job's findings of it), delete
it. Developers write; everyone reads."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from common.refusals import Refusal
from connectors.legal.custom import NEAR_MISSES, folded
from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.clauses.services import clause_type_create, clause_type_delete, clause_type_examples_add
from quire.documents.models import Document
from quire.documents.selectors import document_passages
from quire.jobs.clause_findings import (
    answers_held,
    finding_ref,
    finding_text,
    near_miss_ref,
    passages_to_check,
    types_that_ran,
    unanswered_findings,
)
from quire.jobs.models import Job, JobResult
from quire.portal.access import portal_page
from quire.portal.forms import CallPeriodForm, ClauseTypeForm
from quire.portal.highlight import Finding, findings_from_output
from quire.portal.views.common import listed, page, show_rejection
from quire.portal.views.documents import document_page

TRAINING = (ClauseTypeStatus.QUEUED, ClauseTypeStatus.TRAINING)
PAGE_SIZE = 100


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def clause_type_list(request: HttpRequest) -> HttpResponse:
    form = ClauseTypeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            clause_type = clause_type_create(tenant=request.tenant, **form.cleaned_data)
        except Refusal as exc:
            show_rejection(form, exc)
        else:
            messages.success(request, f"Training {clause_type.name} on {clause_type.example_count} examples.")
            return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    clause_types = ClauseType.objects.order_by("-created_at", "-pk").defer(
        "examples", "counter_examples", "head", "near_misses"
    )
    shown = listed(request, clause_types, PAGE_SIZE)
    return page(
        request,
        "portal/clause_types.html",
        {**shown, "form": form, "clause_types": shown["listing"].object_list},
        status=400 if form.errors else 200,
    )


@portal_page()
def clause_type_detail(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    context = {"clause_type": clause_type, "training": clause_type.status in TRAINING}
    if request.htmx:
        return page(request, "portal/partials/clause_type_status.html", context)
    due = unanswered_findings(clause_type)
    return page(
        request,
        "portal/clause_type.html",
        {
            **context,
            "passages_to_check": asked(clause_type, due),
            "jobs_to_answer": jobs_to_answer(due),
        },
    )


def asked(clause_type: ClauseType, due: list[dict]) -> list[dict]:
    """`passages_to_check` with each passage's form field and legend, numbered per source."""
    numbers = {"finding": 0, "near_miss": 0}
    shown = []
    for passage in passages_to_check(clause_type, due):
        numbers[passage["source"]] += 1
        number = numbers[passage["source"]]
        if passage["source"] == "finding":
            ref = finding_ref(passage)
            shown.append(
                {**passage, "ref": ref, "field": f"finding-{number - 1}", "legend": f"Finding {number}"}
            )
        else:
            shown.append({**passage, "field": f"passage-{passage['index']}", "legend": f"Near miss {number}"})
    return shown


def jobs_to_answer(due: list[dict]) -> list[dict]:
    """Each job of `unanswered_findings` with how many findings it leaves to answer."""
    return [
        {
            "job_id": job["job_id"],
            "connector": job["connector"],
            "created_at": job["created_at"],
            "unanswered": len(job["findings"]),
        }
        for job in due
    ]


@require_POST
@portal_page()
def clause_type_remove(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    clause_type_delete(tenant=request.tenant, clause_type=clause_type)
    messages.success(request, f"Deleted the clause type {clause_type.name}.")
    return redirect("portal:clause_types")


@require_POST
@portal_page()
def clause_type_label(request: HttpRequest, clause_type_id: str) -> HttpResponse:
    """The reviewer's answers on the passages to check: those marked as the clause become examples, those marked
    as not become counter-examples, and the clause type trains again."""
    clause_type = get_object_or_404(ClauseType, pk=clause_type_id)
    if request.POST.get("version") != str(clause_type.version):
        messages.error(
            request, "The clause type has trained again since that page was shown; answer its new passages."
        )
        return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    near_misses = {near_miss_ref(p): p["text"] for p in clause_type.near_misses}
    marked: dict[str, list[str]] = {"clause": [], "not": []}
    for ref, answer in _answers(request, "passage"):
        if ref in near_misses and answer in marked:
            marked[answer].append(near_misses[ref])
    for ref, answer in _answers(request, "finding"):
        text = finding_text(clause_type, ref)
        if text and answer in marked:
            marked[answer].append(text)
    if not marked["clause"] and not marked["not"]:
        messages.error(request, "Mark at least one passage as this clause or not.")
        return redirect("portal:clause_type", clause_type_id=clause_type.pk)
    _answer(request, clause_type, marked["clause"], marked["not"])
    return redirect("portal:clause_type", clause_type_id=clause_type.pk)


def _answers(request: HttpRequest, field: str) -> list[tuple[str, str]]:
    """The (ref, answer) pairs of the passages of one kind a clause type's page asked about: `<field>-N-ref` and
    `<field>-N` (`finding`: findings, `passage`: near misses)."""
    return [
        (ref, request.POST.get(f"{field}-{index}", ""))
        for index in range(NEAR_MISSES)
        if (ref := request.POST.get(f"{field}-{index}-ref"))
    ]


def _answer(request: HttpRequest, clause_type: ClauseType, examples: list[str], counter: list[str]) -> bool:
    """Store a reviewer's answers on a clause type and say what happens next: it trains again, or it already
    held them. False when the clause type refused them (the message says why)."""
    try:
        answered = clause_type_examples_add(
            tenant=request.tenant, clause_type=clause_type, examples=examples, counter_examples=counter
        )
    except Refusal as exc:
        messages.error(request, f"{clause_type.name}: {exc}")
        return False
    if answered.version == clause_type.version:
        messages.info(request, f"{clause_type.name} already holds these answers; nothing to train.")
        return True
    held = f"{answered.example_count} example{pluralize(answered.example_count)}"
    if answered.counter_example_count:
        count = answered.counter_example_count
        held += f" and {count} counter-example{pluralize(count)}"
    messages.success(request, f"Training {clause_type.name} again on {held}.")
    return True


def clause_passages(findings: list[Finding], document_ids: list[str]) -> dict[tuple[str, int, int], str]:
    """The text of each custom clause finding of the documents `document_ids`, by its span, cut from the
    documents by PostgreSQL rather than read whole."""
    among = set(document_ids)
    return document_passages(
        spans=(
            (f.document_id, f.start, f.end)
            for f in findings
            if f.section == "custom_clauses" and f.document_id in among
        )
    )


def clause_checks(
    output: dict, findings: list[Finding], passages: dict[tuple[str, int, int], str], *, ran_at: datetime
) -> list[dict]:
    """A job's custom clause findings (the job created at `ran_at`) whose passage `passages` holds (by span, as
    `clause_passages` gives them), each with its finding number, its clause type (None when deleted since, also
    when another was created under its key: `types_that_ran`) and how that type holds the passage now: `"clause"`
    (an example), `"not"` (a counter-example) or `""`. Two types that found one passage are two findings, each
    with its own number, paired in the output's order."""
    found = [f for f in output.get("custom_clauses") or [] if isinstance(f, dict)]
    types = types_that_ran((str(f.get("clause_type")) for f in found), ran_at)
    numbered: dict[tuple, list[Finding]] = {}
    for f in findings:
        if f.section == "custom_clauses":
            numbered.setdefault((f.document_id, f.start, f.end), []).append(f)
    held: dict[str, dict[str, str]] = {}
    checks = []
    for item in found:
        span = item.get("span") or {}
        at_span = numbered.get((str(span.get("document_id")), span.get("start"), span.get("end"))) or []
        finding = at_span.pop(0) if at_span else None
        passage = passages.get((finding.document_id, finding.start, finding.end)) if finding else None
        if finding is None or passage is None:
            continue
        clause_type = types.get(item.get("clause_type"))
        text = folded(passage)
        if clause_type is not None and clause_type.pk not in held:
            held[clause_type.pk] = answers_held(clause_type)
        answer = held[clause_type.pk].get(text, "") if clause_type is not None else ""
        checks.append(
            {
                "finding": finding,
                "clause_type": clause_type,
                "text": text,
                "answer": answer,
                "name": item.get("name"),
            }
        )
    return checks


@require_POST
@portal_page()
def job_clause_answers(request: HttpRequest, job_id: str) -> HttpResponse:
    """A reviewer's answers on a legal job's custom clause findings: those marked as the clause become
    examples of their clause type, those marked as not counter-examples, and each type answered trains again.
    An answer left as the page showed it (`shown-<n>`) is not sent again: another reviewer may have changed it
    since the page was drawn."""
    job = get_object_or_404(Job, pk=job_id)
    result = get_object_or_404(JobResult, job=job)
    output = result.output if isinstance(result.output, dict) else {}
    findings = findings_from_output(output)
    passages = clause_passages(findings, job.document_ids)
    by_type: dict[str, tuple[ClauseType, list[str], list[str]]] = {}
    for check in clause_checks(output, findings, passages, ran_at=job.created_at):
        number = check["finding"].number
        answer = request.POST.get(f"finding-{number}", "")
        if answer not in ("clause", "not") or check["clause_type"] is None:
            continue
        if answer == request.POST.get(f"shown-{number}"):
            continue
        clause_type = check["clause_type"]
        _, examples, counter = by_type.setdefault(clause_type.key, (clause_type, [], []))
        (examples if answer == "clause" else counter).append(check["text"])
    if not by_type:
        messages.error(request, "Mark at least one finding as its clause or not.")
    for clause_type, examples, counter in by_type.values():
        _answer(request, clause_type, examples, counter)
    return redirect(f"{reverse('portal:job', kwargs={'job_id': job.pk})}#clause-checks")


@require_POST
@portal_page()
def document_clause_example(request: HttpRequest, document_id: str) -> HttpResponse:
    """A passage of a document, selected by a reviewer, as an example (or counter-example) of a clause type: the
    clause a head missed. The passage must be text of the document."""
    document = get_object_or_404(Document, pk=document_id)
    clause_type = get_object_or_404(ClauseType, pk=request.POST.get("clause_type", ""))
    passage = folded(request.POST.get("passage", ""))
    answer = "not" if request.POST.get("answer") == "not" else "clause"
    if not passage or passage not in folded(document.text):
        messages.error(request, "The passage must be text of this document: select it in the text below.")
        stored = False
    else:
        stored = _answer(request, clause_type, *(([], [passage]) if answer == "not" else ([passage], [])))
    if not stored:
        teach = {"passage": request.POST.get("passage", ""), "clause_type": clause_type.pk, "answer": answer}
        period = CallPeriodForm(initial={"period": document.metadata.get("period", "")})
        return document_page(request, document, period, teach)
    return redirect(f"{reverse('portal:document', kwargs={'document_id': document.pk})}#teach-heading")
