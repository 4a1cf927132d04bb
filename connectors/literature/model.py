"""Model mode for literature: each candidate abstract is read whole and judged against the claims that rank
it (one shared prefix per abstract); a synthesis is written over the top abstracts. Quotes are grounded."""

from __future__ import annotations

from collections import Counter

from connectors.base import Document, RunContext
from connectors.literature.retrieval import CorpusIndex
from connectors.model import DocumentReading, Reply, ask_across, grounded_span, grounded_span_in_any, listed

VERDICTS = ("SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO")
DOCUMENTS_SHOWN = 3
_JUDGE = (
    "Claim: {claim}\nDoes this paper SUPPORT or CONTRADICT the claim, or is there NOT_ENOUGH_INFO? Give a short "
    'rationale and quote the sentences you rely on. Reply as {{"verdict": str, "rationale": str, "quotes": [str]}}'
)
_SYNTHESISE = (
    "Question: {question}\n\nPapers (id in brackets):\n{papers}\n\nWrite a short synthesis. Every sentence cites "
    "the paper ids it rests on and quotes one sentence of a cited paper. "
    'Reply as {{"sentences": [{{"text": str, "citations": [str], "quote": str}}]}}'
)


def _verdict(claim: dict, judged: list[tuple[Document, Reply]], run: RunContext) -> dict:
    task = f"literature claim {claim['claim_id']}"
    evidence, votes, rationale = [], Counter(), []
    for document, part in judged:
        reply = part.value
        verdict = reply.get("verdict")
        if verdict not in VERDICTS:
            continue
        if verdict == "NOT_ENOUGH_INFO":
            votes[verdict] += 1
            continue
        spans = [
            grounded_span(run, task, document.document_id, document.text, quote, part.shown)
            for quote in listed(reply.get("quotes"))
        ]
        spans = [span for span in spans if span is not None]
        if not spans:
            run.warn(
                f"{task}: the model's {verdict} on {document.document_id} had no grounded quote; dropped"
            )
            continue
        votes[verdict] += 1
        if isinstance(reply.get("rationale"), str):
            rationale.append({"document_id": document.document_id, "text": reply["rationale"]})
        evidence.extend(
            {"document_id": document.document_id, "label": verdict, "span": span, "source": "model"}
            for span in spans
        )
    decided = [v for v in ("SUPPORT", "CONTRADICT") if votes[v]]
    if not decided:
        if votes["NOT_ENOUGH_INFO"]:
            return {**claim, "verdict": "NOT_ENOUGH_INFO", "evidence": [], "source": "model"}
        return claim
    verdict = max(decided, key=lambda v: votes[v])
    return {
        **claim,
        "verdict": verdict,
        "evidence": [e for e in evidence if e["label"] == verdict],
        "rationale": rationale,
        "source": "model",
    }


def _synthesis(index: CorpusIndex, entry: dict, run: RunContext) -> dict:
    task = f"literature question {entry['question_id']}"
    by_id = {item.document.document_id: item.document for item in index.items}
    shown = [by_id[r["document_id"]] for r in entry["ranking"][:DOCUMENTS_SHOWN] if r["document_id"] in by_id]
    if not shown:
        return entry
    papers = "\n\n".join(f"[{d.document_id}] {d.text}" for d in shown)
    reply = ask_across(
        run,
        task,
        _SYNTHESISE.format(question=entry["question"], papers=papers),
        [(d, len(d.text)) for d in shown],
        max_tokens=600,
    )
    papers_shown = {d.document_id: d for d in shown}
    sentences = []
    items = reply.get("sentences") if isinstance(reply, dict) else None
    for item in items if isinstance(items, list) else []:
        citations = [str(c) for c in listed(item.get("citations"))] if isinstance(item, dict) else []
        if (
            not citations
            or any(c not in papers_shown for c in citations)
            or not isinstance(item.get("text"), str)
        ):
            run.warn(f"{task}: a synthesis sentence cited no shown paper; dropped")
            continue
        span = grounded_span_in_any(run, task, [papers_shown[c] for c in citations], item.get("quote"))
        if span is not None:
            sentences.append(
                {"text": item["text"], "citations": citations, "spans": [span], "source": "model"}
            )
    return {**entry, "sentences": sentences} if sentences else entry


def refine_with_model(
    index: CorpusIndex, claims: list[dict], synthesis: list[dict], run: RunContext
) -> tuple[list[dict], list[dict]]:
    """Claims judged paper by paper (every claim that ranks a paper in its top three asked of that paper over
    one prefix), then the syntheses."""
    by_id = {item.document.document_id: item.document for item in index.items}
    asked: dict[str, list[dict]] = {}
    for claim in claims:
        for entry in claim["ranking"][:DOCUMENTS_SHOWN]:
            if entry["document_id"] in by_id:
                asked.setdefault(entry["document_id"], []).append(claim)
    judged: dict[str, list[tuple[Document, Reply]]] = {claim["claim_id"]: [] for claim in claims}
    for document_id, its_claims in asked.items():
        document = by_id[document_id]
        replies = DocumentReading(run, document).ask_many(
            f"literature paper {document_id}",
            [_JUDGE.format(claim=claim["claim"]) for claim in its_claims],
            max_tokens=400,
        )
        for claim, parts in zip(its_claims, replies, strict=True):
            judged[claim["claim_id"]].extend(
                (document, part) for part in parts if isinstance(part.value, dict)
            )
    return (
        [_verdict(claim, judged[claim["claim_id"]], run) for claim in claims],
        [_synthesis(index, entry, run) for entry in synthesis],
    )
