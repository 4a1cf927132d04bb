"""Tone of management's language from our own small word lists (positive, negative, hedging, uncertainty).

The published financial lexicon and labelled sentence set do not allow commercial use (Loughran-McDonald's
word lists are free for academic research only, Financial PhraseBank is CC BY-NC-SA 3.0), so these lists are
written here (docs/connectors.md).
"""

from __future__ import annotations

import re

from connectors.base import Document
from connectors.spans import make_span
from connectors.text import split_sentences

MAX_EVIDENCE = 8
ANSWER_EVIDENCE = 3
WORDS = {
    "positive": (
        r"strong|stronger|strongest|strength|strengthen\w*|robust|record|records|improve|improved|improves|"
        r"improving|improvement|improvements|exceed|exceeded|exceeding|outperform\w*|beat|beats|gain|gains|"
        r"favorable|favourable|favorably|pleased|proud|excellent|great|solid|momentum|healthy|accelerat\w*|"
        r"success|successful|successfully|opportunity|opportunities|confident|confidence|tailwind|tailwinds|"
        r"resilient|resilience|upside|efficient|efficiency|encouraged|encouraging|benefit|benefits|benefited|"
        r"progress|outstanding|exceptional|attractive|expand\w*|win|wins|winning"
    ),
    "negative": (
        r"decline|declined|declines|declining|decrease|decreased|decreases|weak|weaker|weakness|weakening|loss|"
        r"losses|headwind|headwinds|pressure|pressures|pressured|challenging|challenge|challenges|challenged|"
        r"difficult|difficulty|difficulties|shortfall|impairment\w*|miss|missed|adverse|adversely|unfavorable|"
        r"unfavourable|disruption|disruptions|disrupted|shortage|shortages|slowdown|slower|slowing|downturn|"
        r"deteriorat\w*|negative|negatively|concern|concerns|concerned|delay|delays|delayed|constrain\w*|drag|"
        r"dilution|dilutive|litigation|restructuring|layoffs?|closures?|severance|soft|softness|softer|"
        r"inflationary|worse|worsen\w*|lost|fell|falling"
    ),
    "hedging": (
        r"may|might|could|possibly|possible|perhaps|probably|likely|unlikely|approximately|roughly|somewhat|"
        r"potentially|potential|assume|assuming|assumption|assumptions|hopefully|seem|seems|appears|"
        r"believe|anticipate|estimate|estimates|depending|depends|sort of|kind of|too early|hard to say"
    ),
    "uncertainty": (
        r"uncertain|uncertainty|uncertainties|unclear|unknown|unknowns|unpredictable|unpredictability|volatile|"
        r"volatility|risk|risks|risky|fluctuat\w*|variability|visibility|dynamic|contingent|speculative|doubt|"
        r"cautious|caution|fragile|unprecedented|fluid"
    ),
}
_TOKEN = re.compile(r"[A-Za-z]+(?:['\u2019][A-Za-z]+)?")
_NEGATORS = frozenset({"not", "no", "never", "neither", "nor", "without", "cannot"})


def _lexicon(words: str) -> tuple[frozenset[str], tuple[str, ...], re.Pattern[str] | None]:
    """Exact words, stems (entries ending in `\\w*`) and phrases of one category."""
    entries = words.split("|")
    phrases = [e for e in entries if " " in e]
    stems = tuple(e[: -len(r"\w*")] for e in entries if e.endswith(r"\w*"))
    exact = frozenset(e for e in entries if " " not in e and not e.endswith(r"\w*"))
    pattern = re.compile(rf"\b(?:{'|'.join(map(re.escape, phrases))})\b", re.IGNORECASE) if phrases else None
    return exact, stems, pattern


_LEXICON = {category: _lexicon(words) for category, words in WORDS.items()}


def _negated(tokens: list[re.Match[str]], index: int) -> bool:
    for token in tokens[max(0, index - 3) : index]:
        word = token.group(0).lower().replace("\u2019", "'")
        if word in _NEGATORS or word.endswith("n't"):
            return True
    return False


def sentence_terms(sentence: str) -> dict[str, list[str]]:
    """The lexicon's terms in a sentence by category; a positive word within three words after a negation
    (`not strong`, `isn't great`) counts negative."""
    found: dict[str, list[str]] = {category: [] for category in _LEXICON}
    tokens = list(_TOKEN.finditer(sentence))
    for index, token in enumerate(tokens):
        word = token.group(0).lower()
        for category, (exact, stems, _) in _LEXICON.items():
            if word in exact or (stems and word.startswith(stems)):
                negated = category == "positive" and _negated(tokens, index)
                found["negative" if negated else category].append(token.group(0))
    for category, (_, _, phrases) in _LEXICON.items():
        if phrases is not None:
            found[category].extend(match.group(0) for match in phrases.finditer(sentence))
    return found


def tone_of(document: Document, ranges: list[tuple[int, int]], max_evidence: int = MAX_EVIDENCE) -> dict:
    """Net tone (positive - negative) / (positive + negative) in [-1, 1] over the sentences of `ranges`,
    hedging and uncertainty as shares of the sentences, and the sentences that drive it as evidence."""
    counts = {category: 0 for category in _LEXICON}
    scored: list[tuple[float, dict]] = []
    sentences = 0
    for start, end in ranges:
        for sentence in split_sentences(document.text, start, end):
            sentences += 1
            terms = sentence_terms(sentence.text)
            for category, words in terms.items():
                counts[category] += len(words)
            weight = (
                len(terms["positive"])
                + len(terms["negative"])
                + 0.5 * (len(terms["hedging"]) + len(terms["uncertainty"]))
            )
            if weight:
                category = max(terms, key=lambda c: (len(terms[c]), c in ("positive", "negative")))
                span = make_span(document.document_id, document.text, sentence.start, sentence.end)
                scored.append(
                    (
                        weight,
                        {**span, "category": category, "terms": [w for ws in terms.values() for w in ws]},
                    )
                )
    polar = counts["positive"] + counts["negative"]
    evidence = [item for _, item in sorted(scored, key=lambda pair: -pair[0])[:max_evidence]]
    return {
        "score": round((counts["positive"] - counts["negative"]) / polar, 3) if polar else 0.0,
        "hedging": round(counts["hedging"] / sentences, 3) if sentences else 0.0,
        "uncertainty": round(counts["uncertainty"] / sentences, 3) if sentences else 0.0,
        "counts": counts,
        "sentences": sentences,
        "evidence": sorted(evidence, key=lambda item: item["start"]),
    }
