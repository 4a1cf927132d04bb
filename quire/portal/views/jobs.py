"""Jobs: start one, watch its progress live, read its result with every finding's span marked in the text,
download the result as JSON, cancel."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import replace

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from billing.services import usage_for_job
from common.refusals import Refusal
from quire.documents.models import Document
from quire.documents.selectors import page_map
from quire.jobs.models import TERMINAL, Job, JobResult, JobStatus
from quire.jobs.serializers import JobResultSerializer
from quire.jobs.services import job_cancel, job_create
from quire.portal.access import portal_page
from quire.portal.forms import JobForm
from quire.portal.highlight import findings_from_output, highlight_text, page_views, suggestions_from_output
from quire.portal.views.clause_types import clause_checks, clause_passages
from quire.portal.views.common import document_choices, listed, page, show_rejection
from tenants.audit import export_record

PAGE_SIZE = 100
CLAUSE_CHECKS_SHOWN = 50
DOCUMENTS_SHOWN = 20
# The result's warnings (the model's reply not read, a quote not placed) the job page lists; the JSON has all.
WARNINGS_SHOWN = 20


def _job_form(request: HttpRequest) -> JobForm:
    from connectors import CONNECTORS

    connectors = [(name, f"{name}: {c.description}") for name, c in sorted(CONNECTORS.items())]
    documents, asked = document_choices(request)
    data = request.POST if request.method == "POST" else None
    return JobForm(data, connectors=connectors, documents=documents, initial={"documents": asked})


@require_http_methods(["GET", "HEAD", "POST"])
@portal_page()
def job_list(request: HttpRequest) -> HttpResponse:
    form = _job_form(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = job_create(
                tenant=request.tenant,
                connector=data["connector"],
                document_ids=data["documents"],
                options=data["options"],
                mode=data["mode"],
            )
        except Refusal as exc:
            show_rejection(form, exc)
        else:
            return redirect("portal:job", job_id=job.id)
    return page(
        request, "portal/jobs.html", {"form": form, **_listing(request)}, status=400 if form.errors else 200
    )


def _listing(request: HttpRequest) -> dict:
    """A page of the workspace's jobs, newest first."""
    shown = listed(request, Job.objects.listed().order_by("-created_at", "-pk"), PAGE_SIZE)
    jobs = shown["listing"].object_list
    return {**shown, "jobs": jobs, "polling": any(job.status not in TERMINAL for job in jobs)}


@portal_page()
def job_table(request: HttpRequest) -> HttpResponse:
    return page(request, "portal/partials/job_list.html", _listing(request))


STRATEGY_WORDS = {
    "whole": "read whole",
    "rag": "read by retrieval",
    "map_reduce": "read in sections, then reduced",
    "analyzers": "read by the analyzers only, no model",
}
PERIOD_SOURCE_WORDS = {
    "stated": "as stated at upload",
    "document_id": "from its document id",
    "filename": "from its file name",
    "title": "from its title line",
    "text": "read from its text",
}
ALTERNATIVE_WORDS = {"whole": "reading it whole", "rag": "retrieval", "map_reduce": "map-reduce"}
METERED_WORDS = {
    "pages": "page",
    "job": "job",
    "review_cells": "review cell",
    "tokens_in": "input token",
    "tokens_cached_in": "cached input token",
    "tokens_out": "output token",
}


def metered_sentence(usage: dict[str, int]) -> str:
    """A job's metered units in words, in `METERED_WORDS`' order: "39 pages, 1 job, 48,210 input tokens"."""
    return ", ".join(
        f"{usage[kind]:,} {word}{pluralize(usage[kind])}"
        for kind, word in METERED_WORDS.items()
        if kind in usage
    )


def reading_sentence(entry: dict) -> str:
    """A document's context record in words: "read whole, block-sparse attention, 48,210 tokens, 41 questions,
    92 % served from cache, est. $0.031 (retrieval would have cost $0.044)"; the calls too where they are not
    one a question ("5 questions in 16 calls": a map-reduce reading asks each section, then reduces)."""
    words = [STRATEGY_WORDS.get(entry.get("strategy"), str(entry.get("strategy")))]
    if entry.get("strategy") == "analyzers":
        return words[0]
    if entry.get("attention"):
        words.append(f"{entry['attention'].replace('_', '-')} attention")
    tokens_in, calls = entry.get("tokens_in", 0), entry.get("calls", 0)
    questions = entry.get("questions", calls)
    words.append(f"{tokens_in:,} tokens")
    asked = f"{questions:,} question{pluralize(questions)}"
    if calls != questions:
        asked += f" in {calls:,} call{pluralize(calls)}"
    words.append(asked)
    shared = entry.get("shared_calls", 0)
    if shared:
        words.append(f"{shared:,} call{pluralize(shared)} shared with other documents")
    if tokens_in:
        words.append(f"{round(100 * entry.get('cached_tokens', 0) / tokens_in)} % served from cache")
    cost = entry.get("estimated_cost")
    if cost:
        sentence = f"est. {_money(cost)}"
        alternative = entry.get("alternative") or {}
        if alternative.get("estimated_cost"):
            name = ALTERNATIVE_WORDS.get(alternative.get("strategy"), str(alternative.get("strategy")))
            sentence += f" ({name} would have cost {_money(alternative['estimated_cost'])})"
        words.append(sentence)
    return ", ".join(words)


CITATION = re.compile(r"\[(doc_[A-Za-z0-9]+)\]")


def cited_by_name(label: str, names: dict[str, str]) -> str:
    """A label's bracketed document ids (a synthesis sentence's citations, "... [doc_x]") as file names."""
    return CITATION.sub(lambda m: f"[{names[m.group(1)]}]" if m.group(1) in names else m.group(0), label)


def grouped_readings(entries: list[dict], names: dict[str, str], *, shown: int = 5) -> list[dict]:
    """The documents' readings in words, documents read the same way on one line ("6 documents (a.txt, b.txt,
    ... and 1 more): read by the analyzers only, no model"), in the order they first appear."""
    groups: dict[str, list[str]] = {}
    for entry in entries:
        name = names.get(entry.get("document_id"), entry.get("document_id")) or ""
        groups.setdefault(reading_sentence(entry), []).append(name)
    readings = []
    for sentence, filenames in groups.items():
        if len(filenames) == 1:
            who = filenames[0]
        else:
            more = len(filenames) - shown
            named = ", ".join(filenames[:shown]) + (f" and {more} more" if more > 0 else "")
            who = f"{len(filenames)} documents ({named})"
        readings.append({"who": who, "sentence": sentence})
    return readings


def document_answers(output: dict, names: dict[str, str], shown: list[str]) -> list[dict]:
    """Each shown document's answers, with its file name, from a result over several documents that answers
    them one by one (a legal job's `answers_by_document`); none for a result that answers once."""
    by_document = output.get("answers_by_document")
    if not isinstance(by_document, dict) or len(by_document) < 2:
        return []
    return [
        {"filename": names.get(document_id, document_id), "answers": by_document[document_id]}
        for document_id in shown
        if isinstance(by_document.get(document_id), dict)
    ]


def _money(cost: dict) -> str:
    symbol = "$" if cost.get("currency", "usd") == "usd" else f"{cost.get('currency', '').upper()} "
    return f"{symbol}{cost.get('amount', 0):.3f}"


@portal_page()
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    """A job and its result. Each document with spans is shown with its text marked, `DOCUMENTS_SHOWN` of them
    a page (`?page=`), with the findings and suggestions in them; the counts are the whole result's."""
    job = get_object_or_404(Job, pk=job_id)
    context: dict = {"job": job, "terminal": job.status in TERMINAL}
    result = JobResult.objects.filter(job=job).first()
    known = {d.id: d for d in Document.objects.filter(pk__in=job.document_ids).only("id", "filename")}
    context["documents"] = [known[d] for d in job.document_ids if d in known]
    if result is not None:
        names = {d.id: d.filename for d in context["documents"]}
        findings = [
            replace(f, label=cited_by_name(f.label, names)) for f in findings_from_output(result.output)
        ]
        suggestions = suggestions_from_output(result.output, first=len(findings) + 1)
        marks: dict[str, list] = defaultdict(list)
        for finding in findings + suggestions:
            marks[finding.document_id].append(finding)
        marked = [d for d in job.document_ids if d in known and marks.get(d)]
        shown = Paginator(marked, DOCUMENTS_SHOWN).get_page(request.GET.get("page"))
        on_page = set(shown.object_list)
        read = {d.id: d for d in Document.objects.filter(pk__in=on_page)}
        context["result"] = result
        context["documents_page"] = shown
        context["findings_total"], context["suggestions_total"] = len(findings), len(suggestions)
        context["findings"] = [f for f in findings if f.document_id in on_page]
        context["suggestions"] = [f for f in suggestions if f.document_id in on_page]
        context["highlighted"] = [_highlighted(read[d], marks[d]) for d in shown.object_list if d in read]
        context["unmarked"] = [d for d in context["documents"] if not marks.get(d.id)]
        output = result.output if isinstance(result.output, dict) else {}
        page_of = {d: n // DOCUMENTS_SHOWN + 1 for n, d in enumerate(marked)}
        checks = sorted(
            clause_checks(output, findings, clause_passages(findings, list(known)), ran_at=job.created_at),
            key=lambda c: (bool(c["answer"]), c["finding"].number),
        )
        for check in checks:
            number = page_of.get(check["finding"].document_id, 1)
            check["href"] = (
                "" if number == shown.number else f"?page={number}"
            ) + f"#finding-{check['finding'].number}"
        context["clause_checks"], context["clause_checks_total"] = checks[:CLAUSE_CHECKS_SHOWN], len(checks)
        context["answers"] = output.get("answers")
        warnings = [w for w in output.get("warnings") or [] if isinstance(w, str)]
        context["warnings"], context["warnings_total"] = warnings[:WARNINGS_SHOWN], len(warnings)
        context["document_answers"] = document_answers(output, names, shown.object_list)
        context["comparison"] = output.get("comparison")
        context["readings"] = grouped_readings((result.context or {}).get("documents", []), names)
        context["metered"] = metered_sentence(usage_for_job(tenant=request.tenant, job_id=job.pk))
        context["call_periods"] = [
            {
                "document_id": entry.get("document_id") if entry.get("document_id") in names else None,
                "filename": names.get(entry.get("document_id"), entry.get("document_id")),
                "quarter": entry.get("quarter"),
                "source": PERIOD_SOURCE_WORDS.get(entry.get("source"), ""),
            }
            for entry in output.get("periods") or []
        ]
    return page(request, "portal/job.html", context)


def _highlighted(document: Document, marked: list) -> dict:
    """One document of the job page: its text with the findings' and suggestions' spans marked, and its PDF's
    (or scanned image's) pages with their boxes."""
    return {
        "document": document,
        "html": highlight_text(document.text, marked),
        "count": sum(1 for f in marked if not f.suggestion),
        "suggested": sum(1 for f in marked if f.suggestion),
        "pages": page_views(marked, page_map(document), (document.layout or {}).get("page_sizes", [])),
    }


@portal_page()
def job_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """The progress fragment htmx polls; once the job has finished the whole page reloads to show the result."""
    job = get_object_or_404(Job, pk=job_id)
    if job.status in TERMINAL and request.htmx:
        return HttpResponseClientRefresh()
    return page(
        request, "portal/partials/job_progress.html", {"job": job, "terminal": job.status in TERMINAL}
    )


@portal_page()
def job_result_json(request: HttpRequest, job_id: str) -> HttpResponse:
    result = JobResult.objects.filter(job_id=job_id, job__status=JobStatus.SUCCEEDED).first()
    if result is None:
        raise Http404("no result")
    body = json.dumps(JobResultSerializer(result).data, cls=DjangoJSONEncoder, indent=2)
    export_record(tenant=request.tenant, what="job_result", object_id=job_id, export_format="json")
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{job_id}-result.json"'
    return response


@require_POST
@portal_page()
def job_stop(request: HttpRequest, job_id: str) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        job_cancel(job=job)
    except Refusal as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Canceled {job.id}.")
    return redirect("portal:job", job_id=job.id)
