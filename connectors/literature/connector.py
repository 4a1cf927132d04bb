"""The `literature` connector: ranked papers, verdicts and rationale spans per claim; cited synthesis per question."""

from __future__ import annotations

import re

import numpy

from connectors.base import Connector, Document, OptionError, RunContext
from connectors.literature.learned import (
    VERDICT_PAPERS,
    VERDICTS,
    LiteratureModel,
    load_model,
    paper_stances,
    provenance,
    rationale_picks,
    verdict_features,
)
from connectors.literature.retrieval import CorpusIndex, content_words
from connectors.literature.verdict import label_for
from connectors.spans import make_span

RELEVANCE_THRESHOLD = 0.6
RATIONALE_MARGIN = 0.05
EVIDENCE_RELEVANCE_MARGIN = 0.05
VERDICT_DOCUMENTS = VERDICT_PAPERS
RANK_WEIGHTS = (1.0, 0.6, 0.4)
SYNTHESIS_DOCUMENTS = 4
SYNTHESIS_THRESHOLD = 0.3
NO_EVIDENCE_CONFIDENCE = 0.6
_BACKGROUND = re.compile(
    r"^(?:BACKGROUND|OBJECTIVES?|AIMS?|PURPOSE|INTRODUCTION|CONTEXT)\b|\blittle is known\b|\b(?:we|this study) "
    r"(?:aimed|sought|set out)\b|\bto (?:investigate|explore|determine|assess|examine|evaluate)\b",
    re.IGNORECASE,
)
_RESULT = re.compile(
    r"\b(?:we (?:found|show|showed|demonstrate|observed|report)|results?|conclusions?|significantly|associated with|"
    r"was (?:higher|lower|increased|decreased|reduced)|these (?:findings|data|results))\b",
    re.IGNORECASE,
)


def _lexical_overlap(claim: str, sentence: str) -> float:
    claim_words = set(content_words(claim))
    if not claim_words:
        return 0.0
    return len(claim_words & set(content_words(sentence))) / len(claim_words)


def _section_bias(sentence: str) -> float:
    if _BACKGROUND.search(sentence):
        return -0.15
    return 0.03 if _RESULT.search(sentence) else 0.0


def verify_claim(
    index: CorpusIndex,
    claim_id: str,
    claim: str,
    claim_vector: numpy.ndarray,
    top_k: int,
    model: LiteratureModel | None = None,
) -> dict:
    """Ranked papers, a verdict and the rationale sentences. Without `model`, the verdict comes from the top
    papers' most relevant sentences and their contrast cues; with it, from the verdict model over the top papers'
    sentence stances (the rules' where the weights carry no verdict model), and the stance model picks the
    rationale sentences."""
    ranking = index.rank(claim, claim_vector, top_k=top_k)
    verdict, confidence, evidence = _rules_verdict(index, claim, claim_vector, ranking)
    if model is not None:
        verdict, confidence, evidence = _learned_verdict(
            index, claim, claim_vector, ranking, (verdict, confidence, evidence), model
        )
    return {
        "claim_id": claim_id,
        "claim": claim,
        "ranking": [
            {"document_id": index.items[i].document.document_id, "score": s} for i, s in ranking[:top_k]
        ],
        "verdict": verdict,
        "confidence": confidence,
        "evidence": evidence,
        **({"source": "learned"} if model is not None else {}),
    }


def _rules_verdict(
    index: CorpusIndex, claim: str, claim_vector: numpy.ndarray, ranking: list[tuple[int, float]]
) -> tuple[str, float, list[dict]]:
    evidence: list[dict] = []
    votes: dict[str, float] = {}
    for rank, (position, _score) in enumerate(ranking[:VERDICT_DOCUMENTS]):
        item = index.items[position]
        if not item.sentences:
            continue
        similarities = index.sentence_vectors(position) @ claim_vector
        adjusted = similarities + numpy.array(
            [_section_bias(s.text) for s in item.sentences], dtype=numpy.float32
        )
        best = int(numpy.argmax(adjusted))
        if float(similarities.max()) < RELEVANCE_THRESHOLD:
            continue
        relevance = float(similarities.max()) + 0.15 * _lexical_overlap(claim, item.sentences[best].text)
        chosen = [i for i in numpy.argsort(-adjusted)[:2] if adjusted[i] >= adjusted[best] - RATIONALE_MARGIN]
        label, confidence = label_for(claim, item.sentences[best].text, item.document.text)
        votes[label] = votes.get(label, 0.0) + relevance * confidence * RANK_WEIGHTS[rank]
        for sentence_index in sorted(int(i) for i in chosen):
            sentence = item.sentences[sentence_index]
            evidence.append(
                {
                    "document_id": item.document.document_id,
                    "label": label,
                    "score": round(float(similarities[sentence_index]), 4),
                    "relevance": round(relevance, 4),
                    "span": make_span(
                        item.document.document_id, item.document.text, sentence.start, sentence.end
                    ),
                }
            )
    if not votes:
        return "NOT_ENOUGH_INFO", NO_EVIDENCE_CONFIDENCE, []
    verdict = max(votes, key=lambda key: votes[key])
    confidence = round(min(0.95, votes[verdict] / (sum(votes.values()) + 0.5) + 0.3), 3)
    evidence = [e for e in evidence if e["label"] == verdict]
    strongest = max(e["relevance"] for e in evidence)
    return (
        verdict,
        confidence,
        [e for e in evidence if e["relevance"] >= strongest - EVIDENCE_RELEVANCE_MARGIN],
    )


def _learned_verdict(
    index: CorpusIndex,
    claim: str,
    claim_vector: numpy.ndarray,
    ranking: list[tuple[int, float]],
    ruled: tuple[str, float, list[dict]],
    model: LiteratureModel,
) -> tuple[str, float, list[dict]]:
    """The verdict model's verdict (the rules' where there is none) and each rationale paper's sentences as the
    stance model picks them, strongest first. The rationale papers are those the rules' evidence rests on, or
    else the top paper with the strongest sentence evidence."""
    verdict, confidence, evidence = ruled
    top = [position for position, _ in ranking[:VERDICT_DOCUMENTS]]
    stances = {position: paper_stances(model, index, position, claim, claim_vector) for position in top}
    if model.verdict is not None:
        features = verdict_features([score for _, score in ranking], [stances[p] for p in top])
        probabilities = model.verdict.probabilities(features)[0]
        verdict, confidence = VERDICTS[int(probabilities.argmax())], round(float(probabilities.max()), 3)
        if verdict == "NOT_ENOUGH_INFO":
            return verdict, confidence, []
    positions = {index.items[p].document.document_id: p for p in top}
    ruled_sentences: dict[int, list[int]] = {}
    for entry in evidence:
        position = positions[entry["document_id"]]
        starts = [sentence.start for sentence in index.items[position].sentences]
        ruled_sentences.setdefault(position, []).append(starts.index(entry["span"]["start"]))
    probabilities_of = {position: stances[position][1] for position in top}
    picked: list[dict] = []
    for position, chosen in rationale_picks(top, probabilities_of, ruled_sentences, model.thresholds).items():
        item = index.items[position]
        probabilities = probabilities_of[position]
        for sentence_index in sorted(chosen, key=lambda i: probabilities[i, 2]):
            sentence = item.sentences[sentence_index]
            picked.append(
                {
                    "document_id": item.document.document_id,
                    "label": verdict,
                    "score": round(float(1 - probabilities[sentence_index, 2]), 4),
                    "span": make_span(
                        item.document.document_id, item.document.text, sentence.start, sentence.end
                    ),
                }
            )
    return verdict, confidence, picked


def synthesise(index: CorpusIndex, question_id: str, question: str, question_vector: numpy.ndarray) -> dict:
    ranking = index.rank(question, question_vector, top_k=SYNTHESIS_DOCUMENTS)
    sentences: list[dict] = []
    for position, _ in ranking:
        item = index.items[position]
        if not item.sentences:
            continue
        similarities = index.sentence_vectors(position) @ question_vector
        best = int(numpy.argmax(similarities))
        if similarities[best] < SYNTHESIS_THRESHOLD:
            continue
        sentence = item.sentences[best]
        document_id = item.document.document_id
        sentences.append(
            {
                "text": f"{sentence.text} [{document_id}]",
                "citations": [document_id],
                "spans": [make_span(document_id, item.document.text, sentence.start, sentence.end)],
            }
        )
    return {
        "question_id": question_id,
        "question": question,
        "ranking": [{"document_id": index.items[i].document.document_id, "score": s} for i, s in ranking],
        "sentences": sentences,
    }


class LiteratureConnector(Connector):
    name = "literature"
    description = "Claim verification and cited synthesis over a corpus of papers"
    sections = ("claims", "synthesis")

    def validate_options(self, options: dict) -> dict:
        self.reject_unknown_options(options, {"claims", "top_k"})
        claims = options.get("claims")
        if not isinstance(claims, list) or not claims:
            raise OptionError(
                'literature needs options["claims"]: a non-empty list of {claim_id, claim|question}',
                "options.claims",
            )
        checked = []
        seen = set()
        for position, item in enumerate(claims):
            if not isinstance(item, dict):
                raise OptionError(f"claims[{position}] must be an object", f"options.claims.{position}")
            claim_id = str(item.get("claim_id", item.get("id", position)))
            if claim_id in seen:
                raise OptionError(
                    f"claims[{position}]: claim_id {claim_id!r} appears twice",
                    f"options.claims.{position}.claim_id",
                )
            seen.add(claim_id)
            if "claim" in item and "question" in item:
                raise OptionError(
                    f'claims[{position}] has both a "claim" and a "question"; give one',
                    f"options.claims.{position}",
                )
            text = item.get("claim", item.get("question"))
            if not isinstance(text, str) or not text.strip():
                raise OptionError(
                    f'claims[{position}] needs a non-empty "claim" or "question" string',
                    f"options.claims.{position}",
                )
            checked.append({"claim_id": claim_id, "text": text.strip(), "is_question": "claim" not in item})
        top_k = options.get("top_k", 10)
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 100:
            raise OptionError("top_k must be an integer from 1 to 100", "options.top_k")
        return {"claims": checked, "top_k": top_k}

    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        if not documents:
            raise ValueError("the literature connector needs a corpus of at least one paper")
        empty = [d.document_id for d in documents if not d.text.strip()]
        if empty:
            run.warn(f"{len(empty)} paper(s) have no text: {', '.join(empty[:5])}")
        run.progress(0.05, "embedding corpus")
        index = CorpusIndex(documents, run.embed)
        queries = options["claims"]
        query_vectors = run.embed([q["text"] for q in queries])
        run.progress(0.4, "verifying claims")
        claims: list[dict] = []
        synthesis: list[dict] = []
        judged = any(not query["is_question"] for query in queries)
        model = load_model() if judged and run.use_model(provenance()) else None
        for position, (query, vector) in enumerate(zip(queries, query_vectors, strict=True)):
            if query["is_question"]:
                synthesis.append(synthesise(index, query["claim_id"], query["text"], vector))
            else:
                claims.append(
                    verify_claim(index, query["claim_id"], query["text"], vector, options["top_k"], model)
                )
            run.progress(0.4 + 0.6 * (position + 1) / len(queries), f"claim {query['claim_id']}")
        if run.mode == "model" and run.client is not None:
            from connectors.literature.model import refine_with_model

            claims, synthesis = refine_with_model(index, claims, synthesis, run)
        return {"claims": claims, "synthesis": synthesis}

    def settle(self, output: dict) -> dict:
        """A claim judged SUPPORT or CONTRADICT whose evidence spans were all lost is judged NOT_ENOUGH_INFO, at
        the confidence the rules give a claim with no evidence; what it was judged is kept as `unverified`."""
        unverified = 0
        for claim in output.get("claims") or []:
            if claim.get("verdict") in ("SUPPORT", "CONTRADICT") and not claim.get("evidence"):
                claim["unverified"] = {"verdict": claim["verdict"], "confidence": claim.get("confidence")}
                claim["verdict"] = "NOT_ENOUGH_INFO"
                claim["confidence"] = NO_EVIDENCE_CONFIDENCE
                claim.pop("rationale", None)
                unverified += 1
        if unverified:
            output["warnings"] = [
                *(output.get("warnings") or []),
                f"{unverified} claim verdict(s) set to NOT_ENOUGH_INFO: their evidence quotes were not found in "
                "the document text",
            ]
        return output
