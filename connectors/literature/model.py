"""Model mode for literature: the model judges each claim on retrieved sentences; evidence quotes are checked."""

from __future__ import annotations

from typing import Any

import numpy

from connectors.base import RunContext
from connectors.literature.retrieval import CorpusIndex
from connectors.model import ask_json, grounded_span

VERDICTS = ("SUPPORT", "CONTRADICT", "NOT_ENOUGH_INFO")
DOCUMENTS_SHOWN = 3
SENTENCES_SHOWN = 4


def _passages(
    index: CorpusIndex, ranking: list[dict], query_vector: numpy.ndarray
) -> tuple[str, dict[str, str]]:
    by_id = {item.document.document_id: position for position, item in enumerate(index.items)}
    lines, texts = [], {}
    for entry in ranking[:DOCUMENTS_SHOWN]:
        position = by_id[entry["document_id"]]
        item = index.items[position]
        texts[item.document.document_id] = item.document.text
        order = (
            numpy.argsort(-(index.sentence_vectors(position) @ query_vector))[:SENTENCES_SHOWN]
            if item.sentences
            else []
        )
        for sentence_index in sorted(int(i) for i in order):
            lines.append(f"({item.document.document_id}) {item.sentences[sentence_index].text}")
    return "\n".join(lines), texts


_JUDGE = (
    "Does the evidence SUPPORT or CONTRADICT the claim, or is there NOT_ENOUGH_INFO? Quote the sentences "
    'you rely on. Reply as {"verdict": str, "evidence": [{"document_id": str, "quote": str}]}'
)
_SYNTHESISE = (
    "Write a short synthesis. Every sentence cites the paper ids it rests on and quotes one sentence of a "
    'cited paper. Reply as {"sentences": [{"text": str, "citations": [str], "quote": str}]}'
)


def _ask_over_passages(
    index: CorpusIndex,
    run: RunContext,
    task: str,
    heading: str,
    query: dict,
    vector: numpy.ndarray,
    request: str,
    max_tokens: int,
) -> tuple[Any, dict[str, str]]:
    """The model's JSON reply to `request` about `heading` over the best sentences of the query's top-ranked
    papers, and those papers' texts (the only ones its quotes may come from)."""
    passages, texts = _passages(index, query["ranking"], vector)
    prompt = f"{heading}\n\nSentences from papers (paper id in brackets):\n{passages}\n\n{request}"
    return ask_json(run, task, prompt, max_tokens=max_tokens), texts


def refine_with_model(
    index: CorpusIndex, claims: list[dict], synthesis: list[dict], run: RunContext
) -> tuple[list[dict], list[dict]]:
    vectors = run.embed([c["claim"] for c in claims] + [s["question"] for s in synthesis])
    refined_claims = []
    for claim, vector in zip(claims, vectors[: len(claims)], strict=True):
        task = f"literature claim {claim['claim_id']}"
        reply, texts = _ask_over_passages(
            index, run, task, f"Claim: {claim['claim']}", claim, vector, _JUDGE, 400
        )
        if not isinstance(reply, dict) or reply.get("verdict") not in VERDICTS:
            refined_claims.append(claim)
            continue
        evidence = []
        for item in reply.get("evidence") or []:
            doc_id = str(item.get("document_id")) if isinstance(item, dict) else ""
            if doc_id not in texts:
                run.warn(f"{task}: the model cited a paper it was not shown; dropped")
                continue
            span = grounded_span(run, task, doc_id, texts[doc_id], item.get("quote"))
            if span is not None:
                evidence.append(
                    {"document_id": doc_id, "label": reply["verdict"], "span": span, "source": "model"}
                )
        if reply["verdict"] != "NOT_ENOUGH_INFO" and not evidence:
            run.warn(f"{task}: the model's verdict had no grounded evidence; analyzers' verdict kept")
            refined_claims.append(claim)
            continue
        refined_claims.append({**claim, "verdict": reply["verdict"], "evidence": evidence, "source": "model"})
    refined_synthesis = []
    for entry, vector in zip(synthesis, vectors[len(claims) :], strict=True):
        task = f"literature question {entry['question_id']}"
        reply, texts = _ask_over_passages(
            index, run, task, f"Question: {entry['question']}", entry, vector, _SYNTHESISE, 600
        )
        sentences = []
        items = reply.get("sentences") if isinstance(reply, dict) else None
        for item in items if isinstance(items, list) else []:
            citations = [str(c) for c in item.get("citations") or []] if isinstance(item, dict) else []
            if (
                not citations
                or any(c not in texts for c in citations)
                or not isinstance(item.get("text"), str)
            ):
                run.warn(f"{task}: a synthesis sentence cited no shown paper; dropped")
                continue
            span = grounded_span(run, task, citations[0], texts[citations[0]], item.get("quote"))
            if span is not None:
                sentences.append(
                    {"text": item["text"], "citations": citations, "spans": [span], "source": "model"}
                )
        refined_synthesis.append({**entry, "sentences": sentences} if sentences else entry)
    return refined_claims, refined_synthesis
