"""One review cell in analyzers mode: CUAD categories through the legal analyzers, earnings KPIs through the
earnings figure reader, every other column by its type from the best retrieved passages."""

from __future__ import annotations

import re
from functools import cached_property

from connectors.base import Document, RunContext
from connectors.earnings.comparison import headline_rank
from connectors.earnings.connector import analyse_call
from connectors.earnings.extraction import is_guidance
from connectors.earnings.periods import is_after, period_of_heading
from connectors.earnings.table_figures import CellValue, cell_values
from connectors.earnings.tables import CURRENCY_UNITS, METRICS, is_per_share
from connectors.grids import Grid, find_grids, grid_at
from connectors.legal.analyzers import ContractAnalysis, analyse_contract, find_parties
from connectors.legal.categories import YES_NO_CATEGORIES
from connectors.legal.custom import find_clauses, heads_named
from connectors.legal.learned import run_model
from connectors.review.retrieval import DocumentIndex, Passage, query_terms, stems
from connectors.review.templates import BUILT_IN_TYPES, CUAD_KEYS, EARNINGS_METRICS
from connectors.review.values import FINDERS, choose, find_yes_no
from connectors.spans import make_span
from connectors.text import split_sentences

PASSAGES = 8
RANK_DISCOUNT = 0.04
# An earnings KPI column the earnings analyzers found no figure for is answered from the passages that name its
# metric, at this share of the passage's confidence, so below the default floor: on 900 ECTSum training calls
# 109 of 1,170 such answers held the reference summary's figure of the metric, against 1,219 of 4,001 of the
# analyzers' figures.
KPI_FALLBACK_WEIGHT = 0.3
_FIGURE_TYPES = ("money", "number", "percent")
_METRIC_NAMES = dict(METRICS)


def cell(value, normalised, spans: list[dict], confidence: float, floor: float) -> dict:
    """A cell; answered only with a value, a span and a confidence at or above the floor."""
    confidence = round(max(0.0, min(1.0, confidence)), 3)
    return {
        "value": value,
        "normalised": normalised,
        "spans": spans,
        "confidence": confidence,
        "status": _status(value, spans, confidence, floor),
    }


def under_floor(found: dict, floor: float) -> dict:
    """An earlier review's cell with its status decided again under `floor`, as `cell` decides it; a
    `not_found` cell stays so."""
    if found["status"] == "not_found":
        return found
    return {**found, "status": _status(found["value"], found["spans"], found["confidence"], floor)}


def _status(value, spans: list[dict], confidence: float, floor: float) -> str:
    return "answered" if value is not None and spans and confidence >= floor else "needs_review"


def not_found() -> dict:
    return {"value": None, "normalised": None, "spans": [], "confidence": 0.0, "status": "not_found"}


class DocumentReader:
    """What the cells of one document share, each part built on first use."""

    def __init__(self, document: Document, run: RunContext):
        self.document = document
        self.text = document.text
        self.run = run

    @cached_property
    def index(self) -> DocumentIndex:
        metadata = self.document.metadata
        return DocumentIndex(self.text, metadata.get("chunks"), metadata.get("vectors"))

    @cached_property
    def grids(self) -> list[Grid]:
        return find_grids(self.text, self.document.metadata.get("tables"))

    @cached_property
    def table_values(self) -> list[CellValue]:
        return cell_values(self.text, self.grids)

    @cached_property
    def call(self) -> dict:
        return analyse_call(self.document, self.run)

    @cached_property
    def contract(self) -> ContractAnalysis:
        return analyse_contract(self.document.document_id, self.text, run_model(self.run))

    def span(self, start: int, end: int) -> dict:
        return make_span(self.document.document_id, self.text, start, end)

    def passages(self, question: str, vector, limit: int = PASSAGES) -> list[Passage]:
        return self.index.rank(query_terms(question), vector, limit=limit)

    @cached_property
    def custom_clauses(self) -> dict[str, list[dict]]:
        """What every custom clause type the review names finds in the document (passages embedded once)."""
        heads = heads_named(self.run.clause_heads, sorted(self.run.clause_heads))
        return find_clauses(self.document.document_id, self.text, heads, self.run.embed)


def custom_clause_cell(column: dict, reader: DocumentReader, floor: float) -> dict:
    """A clause column answered by the tenant's custom clause type: its most confident passage, and up to
    two more as further spans."""
    found = reader.custom_clauses.get(column["clause_type"]) or []
    if not found:
        return not_found()
    quote = found[0]["span"]["quote"]
    return cell(quote, " ".join(quote.split()), [f["span"] for f in found[:3]], found[0]["confidence"], floor)


def analyzer_cell(column: dict, reader: DocumentReader, vector, floor: float) -> dict:
    if column.get("clause_type"):
        return custom_clause_cell(column, reader, floor)
    built_in = column["type"] in (BUILT_IN_TYPES.get(column["key"]), "text")
    category = CUAD_KEYS.get(column["key"]) if built_in else None
    if category is not None:
        return _cuad_cell(category, column, reader, floor)
    if column["type"] == "party":
        return _party_cell(reader, floor)
    passages = reader.passages(column["question"], vector)
    metrics = EARNINGS_METRICS.get(column["key"]) if built_in else None
    if passages and metrics is not None and column["type"] in _FIGURE_TYPES:
        found = _earnings_cell(column, metrics, reader, floor)
        if found is not None:
            return found
    if column["type"] in _FIGURE_TYPES and reader.grids:
        found = table_cell(column, reader, floor) if metrics is None else None
        if found is not None:
            return found
        passages = [p for p in passages if grid_at(reader.grids, p.start) is None]
    if not passages:
        return not_found()
    if metrics is not None and column["type"] in _FIGURE_TYPES:
        # A passage that names the metric and looks ahead as the column does: an actual's column never takes a
        # guided figure ("we now expect adjusted EPS of $2.40 to $2.50"), nor a guidance column a reported one.
        ahead = column["key"].startswith("guidance")
        naming = [
            p
            for p in passages
            if _names_metric(reader.text[p.start : p.end], metrics)
            and is_guidance(reader.text[p.start : p.end]) == ahead
        ]
        return (
            typed_cell(column, reader, naming, floor, weight=KPI_FALLBACK_WEIGHT) if naming else not_found()
        )
    return typed_cell(column, reader, passages, floor)


def table_cell(column: dict, reader: DocumentReader, floor: float) -> dict | None:
    """The table cell of the column's type whose row label (with its column heading and the table's caption)
    carries most of the question's terms; the row label must carry one. Its span is the cell."""
    terms = query_terms(column["question"])
    weights = {term: reader.index.idf.get(term, reader.index.unseen_idf) for term in terms}
    total = sum(weights.values())
    if not total:
        return None
    best, best_score = None, 0.0
    for value in reader.table_values:
        if not _fits(column["type"], value.unit):
            continue
        label = set(stems(value.label))
        if not label & set(terms):
            continue
        around = label | set(stems(value.heading)) | set(stems(value.caption))
        score = sum(weight for term, weight in weights.items() if term in around) / total
        if score > best_score:
            best, best_score = value, score
    if best is None:
        return None
    normalised = {
        "value": best.value,
        "unit": best.unit,
        "scale": best.scale,
        "period": period_of_heading(best.heading, None),
        "row": best.label,
        "column": best.heading,
    }
    quote = reader.text[best.start : best.end]
    return cell(quote, normalised, [reader.span(best.start, best.end)], best_score, floor)


HEADING_SKIP = 3
_SECTION_NUMBER = re.compile(
    r"^(?:(?:article|section|clause|schedule)\s+)?(?:\d+(?:\.\d+)*[.)]?|[ivxlc]+[.)]|[a-z][.)])\s+", re.I
)
_MINOR_WORDS = {"of", "and", "or", "the", "a", "an", "to", "for", "in", "on", "by", "with", "&"}


def is_heading(passage: str) -> bool:
    """Whether a passage is a section's heading: at most eight words after its number, each capitalised but the
    minor ones ("6. Limitation of Liability.", "ARTICLE 12 INDEMNIFICATION", "Governing Law")."""
    words = _SECTION_NUMBER.sub("", passage.strip(), count=1).rstrip(".:").split()
    if not words or len(words) > 8:
        return False
    return all(word[:1].isupper() or not word[:1].isalpha() or word.lower() in _MINOR_WORDS for word in words)


def typed_cell(
    column: dict, reader: DocumentReader, passages: list[Passage], floor: float, weight: float = 1.0
) -> dict:
    kind, text = column["type"], reader.text
    finder = FINDERS.get(kind)
    if finder is not None:
        for rank, passage in enumerate(passages):
            found = finder(text, passage.start, passage.end)
            if found is not None:
                value, normalised, _, _ = found
                confidence = (passage.score - RANK_DISCOUNT * rank) * weight
                return cell(value, normalised, [reader.span(passage.start, passage.end)], confidence, floor)
        return not_found()
    top = passages[0]
    if kind == "yes_no":
        found = find_yes_no(text, top.start, top.end, query_terms(column["question"]), column["question"])
        value, normalised, start, end = found
        return cell(value, normalised, [reader.span(start, end)], top.score, floor)
    if kind == "enum":
        considered = passages[:5]
        chosen = choose(column["choices"], [(text[p.start : p.end], p.score) for p in considered])
        if chosen is None:
            return not_found()
        choice, share = chosen
        # The span is the best passage that carries the choice's words, not the top passage, which may not.
        terms = set(stems(choice))
        citing = max(
            (p for p in considered if terms & set(stems(text[p.start : p.end]))),
            key=lambda p: (len(terms & set(stems(text[p.start : p.end]))), p.score),
        )
        return cell(
            choice, choice.lower(), [reader.span(citing.start, citing.end)], citing.score * share, floor
        )
    # A section's heading ("6. Limitation of Liability.") names what the question asks about and answers nothing:
    # the best passage among the first few that is not one.
    top = next((p for p in passages[:HEADING_SKIP] if not is_heading(text[p.start : p.end])), top)
    quote = text[top.start : top.end]
    return cell(quote, " ".join(quote.split()), [reader.span(top.start, top.end)], top.score, floor)


def _cuad_cell(category: str, column: dict, reader: DocumentReader, floor: float) -> dict:
    clauses, answers, _ = reader.contract
    found = [clause for clause in clauses if clause["category"] == category]
    spans = [clause["span"] for clause in found]
    confidence = max((clause["confidence"] for clause in found), default=0.0)
    answer = answers.get(category) or None
    if category in YES_NO_CATEGORIES:
        value = normalised = "Yes" if found else None
    elif column["type"] == "party" or answer is not None:
        value = normalised = answer
    else:
        value = spans[0]["quote"] if spans else None
        normalised = None if column["type"] in ("date", "duration") else value
    if value is None and not spans:
        return not_found()
    if column["type"] == "yes_no" and isinstance(value, str):
        normalised = value.lower()
    return cell(value, normalised, spans, confidence, floor)


def _party_cell(reader: DocumentReader, floor: float) -> dict:
    clauses, names = find_parties(reader.text, split_sentences(reader.text[:20_000]))
    if not names:
        return not_found()
    spans = [reader.span(c.start, c.end) for c in clauses if reader.text[c.start : c.end] in names]
    confidence = max((c.confidence for c in clauses), default=0.0)
    return cell(
        names,
        [n.lower() for n in names],
        spans or [reader.span(c.start, c.end) for c in clauses],
        confidence,
        floor,
    )


def _earnings_cell(
    column: dict, metrics: tuple[str, ...], reader: DocumentReader, floor: float
) -> dict | None:
    """The earnings analyzers' figure of one of `metrics` (guidance for a guidance column, else an actual) of
    the period the question names, else of a period after the call's own for guidance and of the call's own for
    an actual; among those, of the first of `metrics` found, the headline (`comparison.headline_rank`: the
    prepared remarks', the most salient). A growth column takes the figure's percentage change. A figure from
    a table cell cites the cell."""
    call = reader.call
    quarter, year = call["period"]["quarter"], call["period"]["fiscal_year"]
    named = period_of_heading(column["question"], year)
    wanted_kind = "guidance" if column["key"].startswith("guidance") else "actual"
    growth = column["key"].endswith("_growth")
    candidates = []
    for figure in call["metrics"]:
        if figure["metric"] not in metrics or figure["kind"] != wanted_kind:
            continue
        if growth:
            change = figure.get("change") or {}
            if not _fits(column["type"], change.get("unit")) or "span" not in change:
                continue
            value = change["span"]["quote"]
            normalised = {"value": change["value"], "unit": "percent", "scale": 1.0}
        elif not _fits(column["type"], figure["unit"]):
            continue
        else:
            value = figure["span"]["quote"]
            normalised = {"value": figure["value"], "unit": figure["unit"], "scale": figure["scale"]}
        normalised["period"] = figure["period"]
        cited = figure["span"] if "table" in figure and not growth else figure["sentence"]
        if named:
            other_period = figure["period"] != named
        elif wanted_kind == "guidance":
            other_period = not is_after(figure["period"] or "", quarter, year)
        else:
            other_period = figure["period"] != quarter
        rank = (other_period, metrics.index(figure["metric"]), *headline_rank(figure, call["qa_start"]))
        candidates.append((rank, value, normalised, cited))
    if not candidates:
        return None
    rank, value, normalised, sentence = min(candidates, key=lambda c: c[0])
    other_period = rank[0]
    return cell(value, normalised, [sentence], 0.5 if other_period else 0.75, floor)


def _names_metric(text: str, metrics: tuple[str, ...]) -> bool:
    return any(_METRIC_NAMES[metric].search(text) for metric in metrics if metric in _METRIC_NAMES)


def _fits(kind: str, unit: str) -> bool:
    if kind == "percent":
        return unit == "percent"
    if kind == "money":
        return unit in CURRENCY_UNITS or is_per_share(unit)
    return unit == "count"
