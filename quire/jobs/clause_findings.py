"""What to ask a reviewer about a custom clause type: its findings in legal jobs and in reviews' clause columns that no
one has answered yet, and its near misses, mixed by `to_ask`. The clause type's portal page ("Passages to check")
and `GET /v1/clause_types/{id}/passages_to_check` read the same list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Func, JSONField, Q, TextField, Value
from django.db.models.functions import Cast

from connectors.legal.custom import NEAR_MISSES, folded, to_ask
from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.documents.models import Document
from quire.jobs.models import CellCorrection, JobResult, JobStatus, JsonPathArray

JOBS_LOOKED_AT = 20


def _columns_of(key: str) -> Func:
    """The keys of a review's columns that the clause type `key` answers, read from the job's options."""
    return JsonPathArray(
        F("job__options"),
        Value("$.columns[*] ? (@.clause_type == $key).key"),
        Value({"key": key}, output_field=JSONField()),
    )


def _cells_of(key: str) -> Func:
    """A review result's cells in the columns the clause type `key` answers, every document's, each
    `{"key": column, "value": cell}`, read in PostgreSQL so that the rest of the grid stays there."""
    return JsonPathArray(
        F("output"),
        Value("$.rows[*].cells.keyvalue() ? (@.key == $keys[*])"),
        Func(Cast(Value("keys"), TextField()), _columns_of(key), function="jsonb_build_object"),
    )


def _ran(clause_type: ClauseType) -> Q:
    """Jobs that ran the clause type: legal jobs naming its key, and reviews with a column it answers, created
    since it was (as `types_that_ran` says)."""
    key = clause_type.key
    named = Q(job__connector="legal", job__options__clause_types__contains=[key]) | Q(
        job__connector="review", job__options__columns__contains=[{"clause_type": key}]
    )
    return named & Q(job__created_at__gte=clause_type.created_at)


def types_that_ran(keys: Iterable[str], created_at: datetime) -> dict[str, ClauseType]:
    """The clause types a job created at `created_at` ran of those its `keys` name, by key: those created before
    it. A type deleted since and created again under its key did not run in the job: its findings are the
    deleted type's. Only what answering a finding reads: the type's names, version and passages."""
    ran = ClauseType.objects.filter(key__in=set(keys), created_at__lte=created_at)
    return {c.key: c for c in ran.only("id", "key", "name", "version", "examples", "counter_examples")}


def answers_held(clause_type: ClauseType) -> dict[str, str]:
    """How the clause type holds each passage it was given, by its folded text: `"clause"` or `"not"`."""
    held = {folded(p): "clause" for p in clause_type.examples}
    return held | {folded(p): "not" for p in clause_type.counter_examples}


def unanswered_findings(clause_type: ClauseType, *, recent: int = JOBS_LOOKED_AT) -> list[dict]:
    """The latest succeeded legal jobs and reviews that ran this clause type (of the last `recent`, newest first),
    each `{"job_id", "connector", "created_at", "findings"}` with its findings of the type that are neither an
    example nor a counter-example yet (each `{"job_id", "connector", "document_id", "start", "end", "text",
    "confidence", "correction"}`, the text folded, most confident first, one per passage); jobs with none are left
    out. A legal job's findings are its result's `custom_clauses` of the type; a review's are the passages its
    clause columns answered with (each cell's value, at the cell's confidence), with the reviewer's word on the
    cell in the grid as `correction` (`CellCorrection.as_dict`; None where there is none, and for legal jobs)."""
    answered = answers_held(clause_type)
    results = list(
        JobResult.objects.filter(_ran(clause_type), job__status=JobStatus.SUCCEEDED)
        .annotate(cells=_cells_of(clause_type.key))
        .order_by("-job__created_at")
        .values_list("job_id", "job__connector", "job__created_at", "output__custom_clauses", "cells")[
            :recent
        ]
    )
    reviews = [job_id for job_id, connector, *_ in results if connector == "review"]
    corrections = {
        (c.job_id, c.document_id, c.key): c.as_dict()
        for c in CellCorrection.objects.filter(job_id__in=reviews)
    }
    due = []
    for job_id, connector, created_at, custom_clauses, cells in results:
        if connector == "legal":
            spans = [
                (item.get("span") or {}, item.get("confidence"), None)
                for item in custom_clauses or []
                if isinstance(item, dict) and item.get("clause_type") == clause_type.key
            ]
        else:
            spans = [
                (cell["value"]["spans"][0], cell["value"].get("confidence"), cell["key"])
                for cell in cells or []
                if isinstance(cell.get("value"), dict) and cell["value"].get("spans")
            ]
        findings: dict[str, dict] = {}
        for span, confidence, column in spans:
            text = folded(str(span.get("quote", "")))
            if text and text not in answered and text not in findings:
                document_id = str(span.get("document_id"))
                findings[text] = {
                    "job_id": job_id,
                    "connector": connector,
                    "document_id": document_id,
                    "start": span.get("start"),
                    "end": span.get("end"),
                    "text": text,
                    "confidence": confidence or 0.0,
                    "correction": corrections.get((job_id, document_id, column)),
                }
        if findings:
            ranked = sorted(findings.values(), key=lambda f: -f["confidence"])
            due.append(
                {"job_id": job_id, "connector": connector, "created_at": created_at, "findings": ranked}
            )
    return due


def findings_to_check(due: list[dict], *, limit: int = NEAR_MISSES) -> list[dict]:
    """The findings to ask about beside the near misses: the newest jobs' first, at most `limit`, no passage
    twice."""
    chosen: dict[str, dict] = {}
    for job in due:
        for finding in job["findings"]:
            chosen.setdefault(finding["text"], finding)
    return list(chosen.values())[:limit]


def passages_to_check(clause_type: ClauseType, due: list[dict]) -> list[dict]:
    """`findings_to_check(due)` then the type's near misses, ten in all as `to_ask` mixes them (near misses only
    once it is ready: until then they are its previous head's, and findings do not depend on the head):
    each `{"source": "finding" | "near_miss", "job_id", "connector", "correction" and "suggested" (None for a
    near miss), "document_id", "start", "end", "text", "score"}` (a finding's score is its confidence in its
    job; a near miss also has its `index` in `near_misses` and its `near_ref`, `near_miss_ref`); a near miss a finding already asks about is left
    out."""
    findings = findings_to_check(due)
    asked = {f["text"] for f in findings}
    ready = clause_type.status == ClauseTypeStatus.READY
    near_misses = clause_type.near_misses if ready else []
    unasked = [(i, p) for i, p in enumerate(near_misses) if folded(p["text"]) not in asked]
    found, near = to_ask(findings, unasked)
    places = ("job_id", "connector", "document_id", "start", "end", "text", "correction")
    return [
        *(
            {
                "source": "finding",
                **{k: f[k] for k in places},
                "score": f["confidence"],
                "suggested": suggested(f),
            }
            for f in found
        ),
        *(
            {
                "source": "near_miss",
                "index": index,
                "near_ref": near_miss_ref(p),
                "job_id": None,
                "connector": None,
                "correction": None,
                "suggested": None,
                "document_id": p["document"],
                "start": p["start"],
                "end": p["end"],
                "text": p["text"],
                "score": p["score"],
            }
            for index, p in near
        ),
    ]


def suggested(finding: dict) -> str | None:
    """The answer a review's grid already gives about a finding: `"clause"` where the reviewer verified its cell
    as it stands (or corrected it to the same passage), `"not"` where they corrected it to something else, None
    where no one has said (and for a legal job's findings)."""
    correction = finding.get("correction")
    if correction is None:
        return None
    if not correction["corrected"]:
        return "clause"
    value = correction["corrected_value"]
    return "clause" if value is not None and folded(str(value)) == finding["text"] else "not"


def near_miss_ref(near_miss: dict) -> str:
    """How a form names one of a clause type's near misses: "document:start:end", which stays true when another
    near miss is forgotten (its document deleted) while the page is open."""
    return f"{near_miss['document']}:{near_miss['start']}:{near_miss['end']}"


def finding_ref(finding: dict) -> str:
    """How a form names a finding of `unanswered_findings`: "job:document:start:end"."""
    return f"{finding['job_id']}:{finding['document_id']}:{finding['start']}:{finding['end']}"


def finding_text(clause_type: ClauseType, ref: str) -> str:
    """The folded text of the finding `ref` names (`finding_ref`), read from its document, when that job's result
    holds a finding of this clause type at that span (a legal job's custom clause, or a span of a review's cell in
    a column the type answers) and the job ran this type, not an earlier one of its key; else `""`, so a forged
    ref teaches nothing."""
    job_id, _, place = ref.partition(":")
    document_id, _, bounds = place.partition(":")
    start, _, end = bounds.partition(":")
    if not (start.isdecimal() and end.isdecimal()):
        return ""
    span = {"document_id": document_id, "start": int(start), "end": int(end)}
    at_span = Q(
        job__connector="legal",
        output__custom_clauses__contains=[{"clause_type": clause_type.key, "span": span}],
    ) | Q(job__connector="review", cells__contains=[{"value": {"spans": [span]}}])
    held = (
        JobResult.objects.filter(
            job_id=job_id,
            job__document_ids__contains=[document_id],
            job__created_at__gte=clause_type.created_at,
        )
        .annotate(cells=_cells_of(clause_type.key))
        .filter(at_span)
        .exists()
    )
    document = Document.objects.filter(pk=document_id).only("text").first() if held else None
    return folded(document.text[span["start"] : span["end"]]) if document else ""
