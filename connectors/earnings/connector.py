"""The `earnings` connector: speakers, metrics, guidance moves, Q&A pairs and a summary with spans."""

from __future__ import annotations

import re
from collections.abc import Callable

from connectors.base import Connector, Document, OptionError, RunContext
from connectors.earnings.comparison import compare_calls
from connectors.earnings.extraction import extract_figures, is_guidance
from connectors.earnings.learned import available as learned_model_available
from connectors.earnings.learned import metric_features, period_from_relation, score_figures
from connectors.earnings.learned import provenance as learned_provenance
from connectors.earnings.periods import call_period, carried_mention, is_after, period_mention, period_of
from connectors.earnings.qa import is_substantive, pair_questions
from connectors.earnings.table_figures import CellFigure, table_figures
from connectors.earnings.tables import SIGNS, UNSEEN_BY_CLASSIFIER, fits_unit, is_per_share
from connectors.earnings.tone import tone_of
from connectors.earnings.transcript import PREPARED, QA, Turn, parse_call
from connectors.grids import find_grids, grid_at
from connectors.spans import make_span
from connectors.text import Segment, split_sentences

GUIDANCE_MOVES = (
    (
        "raised",
        re.compile(r"\b(?:rais\w*|increas\w*|lift\w*|boost\w*|upgrad\w*|improv\w*|higher)\b", re.IGNORECASE),
    ),
    (
        "lowered",
        re.compile(
            r"\b(?:lower\w*|reduc\w*|cut\w*|decreas\w*|downgrad\w*|trimm\w*|revis\w* down\w*)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "maintained",
        re.compile(
            r"\b(?:reaffirm\w*|maintain\w*|reiterat\w*|confirm\w*|unchanged|remain\w* (?:unchanged|the same)|on track)\b",
            re.IGNORECASE,
        ),
    ),
    ("withdrawn", re.compile(r"\b(?:withdr[ae]w\w*|suspend\w*|pull\w*)\b", re.IGNORECASE)),
    (
        "introduced",
        re.compile(
            r"\b(?:introduc\w*|initiat\w*|establish\w*|provid\w* (?:initial|our first))\b", re.IGNORECASE
        ),
    ),
)
_GUIDANCE_NOUN = re.compile(
    r"\b(?:guidance|outlook|forecast|(?:our|full[- ]year|annual) (?:\w+ )?(?:expectations?|targets?))\b",
    re.IGNORECASE,
)
METRIC_LABELS = {
    "revenue": "revenue",
    "eps": "earnings per share",
    "adjusted_eps": "adjusted earnings per share",
    "gross_margin": "gross margin",
    "operating_margin": "operating margin",
    "ebitda": "EBITDA",
    "adjusted_ebitda": "adjusted EBITDA",
    "free_cash_flow": "free cash flow",
    "net_income": "net income",
    "operating_income": "operating income",
    "same_store_sales": "same-store sales",
    "g_and_a": "G&A",
    "sga": "SG&A",
}
MIN_SUMMARY_BULLETS = 3
SUMMARY_PRIORITY = (
    "revenue",
    "adjusted_eps",
    "eps",
    "adjusted_ebitda",
    "net_income",
    "gross_margin",
    "operating_margin",
    "free_cash_flow",
    "ebitda",
    "operating_income",
    "same_store_sales",
)


def _figure_dict(
    document: Document, figure, sentence: Segment, speaker: str | None, period: str | None, guidance: bool
) -> dict:
    text = document.text
    change = None
    if figure.change and "start" in figure.change:
        change = {key: figure.change[key] for key in ("value", "unit", "versus")}
        change["span"] = make_span(document.document_id, text, figure.change["start"], figure.change["end"])
    elif figure.change:
        change = {
            "low": figure.change["low"],
            "high": figure.change["high"],
            "unit": figure.change["unit"],
            "versus": "year_ago",
        }
    return {
        "metric": figure.metric,
        "value": figure.value,
        "unit": figure.unit,
        "scale": figure.scale,
        "period": period,
        "kind": "guidance" if guidance else "actual",
        "low": figure.low,
        "high": figure.high,
        "change": change,
        "speaker": speaker,
        "span": make_span(document.document_id, text, figure.start, figure.end),
        "sentence": make_span(document.document_id, text, sentence.start, sentence.end),
    }


def _cell_figure_dict(document: Document, figure: CellFigure, speaker: str | None) -> dict:
    cell = figure.cell
    guidance = is_guidance(f"{cell.label} {cell.heading}")
    return {
        "metric": figure.metric,
        "value": cell.value,
        "unit": cell.unit,
        "scale": cell.scale,
        "period": figure.period,
        "kind": "guidance" if guidance else "actual",
        "low": None,
        "high": None,
        "change": None,
        "speaker": speaker,
        "span": make_span(document.document_id, document.text, cell.start, cell.end),
        "sentence": make_span(document.document_id, document.text, *cell.row),
        "table": {"label": cell.label, "heading": cell.heading},
    }


def _speaker_at(turns: list[Turn], position: int) -> Turn | None:
    for turn in turns:
        if turn.start <= position < turn.end:
            return turn
    return None


_STATED_MOVE = re.compile(
    r"\s+(?:is|was|are|were|has been|have been|remains?|being)\s+(\w+(?:\s+\w+)?)", re.IGNORECASE
)


def _guidance_direction(sentence: str) -> str | None:
    """The move a sentence reports on guidance: a direction word just before or after a guidance noun."""
    for noun in _GUIDANCE_NOUN.finditer(sentence):
        before = sentence[max(0, noun.start() - 50) : noun.start()]
        after = _STATED_MOVE.match(sentence, noun.end())
        for name, pattern in GUIDANCE_MOVES:
            if pattern.search(before) or (after and pattern.search(after.group(1))):
                return name
    return None


def _guidance_moves(
    document: Document, sentences: list[Segment], figures_by_sentence: dict[int, list[dict]]
) -> list[dict]:
    moves: list[dict] = []
    for index, sentence in enumerate(sentences):
        direction = _guidance_direction(sentence.text)
        if direction is None:
            continue
        metrics = [f["metric"] for f in figures_by_sentence.get(index, [])]
        metric = (
            metrics[0]
            if metrics
            else next(
                (
                    name
                    for name in SUMMARY_PRIORITY
                    if re.search(
                        METRIC_LABELS.get(name, name).replace("_", " "), sentence.text, re.IGNORECASE
                    )
                ),
                "overall",
            )
        )
        moves.append(
            {
                "metric": metric,
                "direction": direction,
                "span": make_span(document.document_id, document.text, sentence.start, sentence.end),
            }
        )
    return moves


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_PERIOD_LABEL = re.compile(r"\b(?:Q[1-4]|H[12]|FY\s?\d{2,4}|(?:19|20)\d\d)\b", re.IGNORECASE)


def stated_numbers(text: str) -> set[float | str]:
    """Figures in `text` by their value ("0.80" and "0.8" alike; one that is no number, "1.2.3", as written);
    period labels (Q3, FY2021, 2021) are not figures."""
    return {_number_value(n.replace(",", "")) for n in _NUMBER.findall(_PERIOD_LABEL.sub(" ", text))}


def _number_value(number: str) -> float | str:
    try:
        return float(number)
    except ValueError:
        return number


def _format_value(metric: dict) -> str:
    return metric["span"]["quote"]


def build_summary(metrics: list[dict], guidance: list[dict], limit: int = 6) -> list[dict]:
    """3-6 bullets composed from figures; every number in a bullet is copied from one of its spans."""
    bullets: list[dict] = []
    used: set[tuple[str, str]] = set()
    for kind in ("actual", "guidance"):
        for name in SUMMARY_PRIORITY:
            candidates = [m for m in metrics if m["metric"] == name and m["kind"] == kind]
            if not candidates:
                continue
            best = max(
                candidates,
                key=lambda m: (m["change"] is not None, m["period"] is not None, -m["span"]["start"]),
            )
            key = (name, kind)
            if key in used:
                continue
            used.add(key)
            label = METRIC_LABELS.get(name, name.replace("_", " "))
            period = best["period"] or ""
            spans = [best["span"]]
            if kind == "guidance":
                text = f"Sees {period} {label} of {_format_value(best)}".replace("  ", " ")
            elif best["change"] and "span" in best["change"]:
                verb = "rose" if best["change"]["value"] >= 0 else "fell"
                text = f"{period} {label} {verb} {best['change']['span']['quote']} to {_format_value(best)}".strip()
                spans.append(best["change"]["span"])
            else:
                text = f"{period} {label} was {_format_value(best)}".strip()
            bullets.append({"text": text[0].upper() + text[1:] + ".", "spans": spans})
            if len(bullets) >= limit:
                return bullets
    for move in guidance:
        if len(bullets) >= limit:
            break
        label = METRIC_LABELS.get(move["metric"], move["metric"].replace("_", " "))
        bullets.append({"text": f"Guidance for {label} {move['direction']}.", "spans": [move["span"]]})
    return _fill(bullets, metrics)


def _fill(bullets: list[dict], metrics: list[dict]) -> list[dict]:
    """Fill a summary to three bullets with sentences of figures it does not quote yet."""
    quoted = {span["start"] for bullet in bullets for span in bullet["spans"]}
    quoted |= {m["sentence"]["start"] for m in metrics if m["span"]["start"] in quoted}
    for metric in metrics:
        if len(bullets) >= MIN_SUMMARY_BULLETS:
            break
        sentence = metric["sentence"]
        if sentence["start"] in quoted or metric["span"]["start"] in quoted:
            continue
        quoted.add(sentence["start"])
        bullets.append({"text": sentence["quote"], "spans": [sentence]})
    return bullets


# The metrics a bullet may state; not operating margin, which Reuters bullets seldom give (26 of ECTSum's 6,907
# train reference lines).
_REUTERS_LABELS = {
    "revenue": "revenue",
    "eps": "earnings per share",
    "adjusted_eps": "adjusted earnings per share",
    "gross_margin": "gross margin",
    "ebitda": "ebitda",
    "adjusted_ebitda": "adjusted ebitda",
    "free_cash_flow": "free cash flow",
    "net_income": "net income",
    "operating_income": "operating income",
    "same_store_sales": "same store sales",
    "ffo": "ffo per share",
    "adjusted_net_income": "adjusted net income",
    "adjusted_operating_income": "adjusted operating income",
    "net_interest_income": "net interest income",
    "operating_cash_flow": "operating cash flow",
    "capex": "capital expenditures",
    "dividend": "dividend",
    "backlog": "backlog",
    "bookings": "orders",
    "subscribers": "subscribers",
    "gross_profit": "gross profit",
}
SALIENCE_FLOOR = 0.1
METRIC_OVERRIDE = 0.9
PERIOD_OVERRIDE = 0.95
OVERRIDE_SALIENCE = 0.5


_PER_SHARE = re.compile(r"\s+(?:per|a)\s+(?:(?:fully\s+)?diluted\s+)?(?:common\s+)?share$", re.IGNORECASE)


_RANGE_AFTER = re.compile(
    r"\s*(?:to|-)\s*\$?\d[\d,]*(?:\.\d+)?(?:\s?(?:thousand|million|billion|%|percent)\b)?", re.IGNORECASE
)


_RANGE_BEFORE = re.compile(r"\$?\d[\d,]*(?:\.\d+)?\s*(?:to|-)\s*$", re.IGNORECASE)


def _range_span(metric: dict) -> dict:
    """The figure's span, stretched over the range it is an end of ("$0.60" of "$0.60 to $0.65 per share")."""
    span, sentence = metric["span"], metric["sentence"]
    if metric.get("low") is not None:
        return span
    start, end = span["start"] - sentence["start"], span["end"] - sentence["start"]
    after = _RANGE_AFTER.match(sentence["quote"], end)
    before = _RANGE_BEFORE.search(sentence["quote"][:start])
    if after is not None and not _PER_SHARE.search(span["quote"]):
        end = after.end()
    elif before is not None:
        start = before.start()
    else:
        return span
    return {
        **span,
        "start": sentence["start"] + start,
        "end": sentence["start"] + end,
        "quote": sentence["quote"][start:end],
    }


def _period_word(period: str | None, kind: str) -> str:
    """How a bullet names a period: "q3", "h1", "fy", "fy 2022" for a year's guidance, "qtrly" when unknown."""
    if period and period.startswith("FY"):
        return f"fy {period[2:]}" if kind == "guidance" and period[2:].isdigit() else "fy"
    if period and period.startswith(("Q", "H")):
        return period.split()[0].lower()
    return "fy" if kind == "guidance" else "qtrly"


def _percent(quote: str) -> str:
    return re.sub(r"\s?%", " percent", quote)


_LOSS_LABELS = {
    "eps": ("earnings per share", "loss per share"),
    "adjusted_eps": ("earnings per share", "loss per share"),
    "net_income": ("net income", "net loss"),
}
_NEGATIVE_WORDS = re.compile(r"^(?:negative|minus)\s+|^-", re.IGNORECASE)
# Accounting's brackets around a loss: "(0.12)", "$(0.12)", "($0.12)", "$(15) million".
_BRACKETED = re.compile(rf"\((?P<number>(?:US\$|[{SIGNS}])?\s?\d[\d,.]*)\)")
_BETWEEN = re.compile(r"^between\s++(.+?)(?<!\s)\s++and\s+", re.IGNORECASE)


def _reuters_value(quote: str, loss: bool) -> str:
    """A quoted value as a bullet writes it: "$0.60 to $0.65" for "between $0.60 and $0.65 per share", "$0.04"
    for a loss quoted as "negative $0.04" or "$(0.04)"."""
    value = _BETWEEN.sub(r"\1 to ", _PER_SHARE.sub("", quote))
    return _BRACKETED.sub(r"\g<number>", _NEGATIVE_WORDS.sub("", value)) if loss else value


def _reuters_bullet(metric: dict) -> dict:
    """One Reuters-style bullet for a figure ("q3 revenue rose 12 percent to $1.2 billion.")."""
    label = _REUTERS_LABELS[metric["metric"]]
    said = metric["sentence"]["quote"].lower()
    if metric["metric"] == "revenue" and re.search(r"\bsales\b", said):
        label = "sales"
    elif metric["metric"] == "adjusted_eps" and "non-gaap" in said:
        label = "non-gaap earnings per share"
    elif metric["metric"] == "eps" and re.search(r"(?<!non-)\bgaap\b", said):
        label = "gaap earnings per share"
    if metric["metric"] == "ffo" and not is_per_share(metric["unit"]):
        label = "ffo"
    if metric["value"] < 0 and metric["metric"] in _LOSS_LABELS:
        label = label.replace(*_LOSS_LABELS[metric["metric"]])
    period = _period_word(metric["period"], metric["kind"])
    value_span = _range_span(metric)
    value = _reuters_value(value_span["quote"], metric["value"] < 0)
    spans = [value_span]
    change = metric.get("change") or {}
    if metric["kind"] == "guidance":
        text = f"sees {period} {label} {value}"
    elif "span" in change and metric["metric"] == "revenue":
        verb = "rose" if change["value"] >= 0 else "fell"
        text = f"{period} {label} {verb} {_percent(change['span']['quote']).lstrip('-')} to {value}"
        spans.append(change["span"])
    else:
        text = f"{period} {label} {value}"
    return {"text": text + ".", "spans": spans, "salience": round(metric["salience"], 3)}


_QUARTER_WORD = re.compile(r"^q[1-4] ")


def _before_call(period: str | None, quarter: str | None, year: str | None) -> bool:
    """Whether a figure's period ends before the call's quarter ("Q3 2020", "H1 2021" or "FY2020" on a Q3 2021
    call), which a bullet naming only "q3" or "fy" would state as the call's."""
    own = re.fullmatch(r"Q([1-4]) ((?:19|20)\d\d)", quarter or "")
    part = re.fullmatch(r"([QH])([1-4]) ((?:19|20)\d\d)", period or "")
    if own and part:
        last_quarter = int(part.group(2)) * (2 if part.group(1) == "H" else 1)
        return (int(part.group(3)), last_quarter) < (int(own.group(2)), int(own.group(1)))
    annual = re.fullmatch(r"FY((?:19|20)\d\d)", period or "")
    return bool(annual and year and int(annual.group(1)) < int(year))


def salient_summary(
    metrics: list[dict], limit: int = 6, quarter: str | None = None, year: str | None = None
) -> list[dict]:
    """Reuters-style bullets ("q3 revenue rose 12 percent to $1.2 billion.") for the figures the salience model
    ranks highest, one per metric and kind, at least three; every number is copied from a span. An actual
    figure of a period before the call's (`quarter`, `year`: a year-ago comparison) gets no bullet.

    Like a Reuters summary, the bullets open with a headline that restates the highest-ranked per-share result
    as a quarterly figure ("qtrly adjusted earnings per share $1.23.")."""
    bullets: list[dict] = []
    headline: dict | None = None
    used: set[tuple[str, str]] = set()
    ranked = sorted(metrics, key=lambda m: -m["salience"])
    for metric in ranked:
        key = (metric["metric"], metric["kind"])
        if key in used or metric["metric"] not in _REUTERS_LABELS:
            continue
        if metric["kind"] == "actual" and _before_call(metric["period"], quarter, year):
            continue
        if (
            metric["salience"] < SALIENCE_FLOOR
            and len(bullets) + (headline is not None) >= MIN_SUMMARY_BULLETS
        ):
            break
        used.add(key)
        bullet = _reuters_bullet(metric)
        if (
            headline is None
            and metric["kind"] == "actual"
            and is_per_share(metric["unit"])
            and _QUARTER_WORD.match(bullet["text"])
        ):
            headline = {**bullet, "text": _QUARTER_WORD.sub("qtrly ", bullet["text"])}
        bullets.append(bullet)
        if len(bullets) + (headline is not None) >= limit:
            break
    if headline is not None:
        bullets.insert(0, headline)
    return _fill(bullets, metrics)


def apply_learned(metrics: list[dict], text: str, quarter: str | None, year: str | None) -> None:
    """Score every figure's salience; on a salient figure, take the classifier's metric (p >= 0.9) or period
    (p >= 0.95) where it is confident and disagrees with the rules, whose labels are kept as `rule_metric` and
    `rule_period`. On ECTSum train calls held out from training the rules' periods alone beat the classifier's,
    and only its most confident ones improve on them. A table cell keeps its row's metric and its column's
    period; a forecast for a later quarter the sentence names is not moved to a period already under way."""
    features = []
    seen: set[str] = set()
    for metric in metrics:
        features.append(metric_features(metric, text, quarter, year, metric["metric"] not in seen))
        seen.add(metric["metric"])
    for metric, scores in zip(metrics, score_figures(features), strict=True):
        metric["salience"] = scores["salience"]
        if scores["salience"] < OVERRIDE_SALIENCE or "table" in metric:
            continue
        if (
            scores["metric_p"] >= METRIC_OVERRIDE
            and metric["metric"].removesuffix("_growth") not in UNSEEN_BY_CLASSIFIER
            and scores["metric"] not in ("other", metric["metric"])
            and fits_unit(scores["metric"], metric["unit"])
        ):
            metric["rule_metric"], metric["metric"] = metric["metric"], scores["metric"]
        period = period_from_relation(scores["period"], quarter, year)
        if (
            scores["period_p"] >= PERIOD_OVERRIDE
            and period
            and period != metric["period"]
            and not _named_quarter_ahead(metric, period, quarter, year)
        ):
            metric["rule_period"], metric["period"] = metric["period"], period


def _named_quarter_ahead(metric: dict, period: str, quarter: str | None, year: str | None) -> bool:
    """Whether a forecast's rule period is a quarter after the call's, which the sentence names, and `period`
    is not after the call."""
    return (
        metric["kind"] == "guidance"
        and bool(re.fullmatch(r"Q[1-4] \d{4}", metric["period"] or ""))
        and is_after(metric["period"], quarter, year)
        and not is_after(period, quarter, year)
        and period_mention(metric["sentence"]["quote"]) is not None
    )


_PAST_BEFORE = re.compile(
    r"\b(?:was|were|increased|decreased|grew|rose|fell|declined|improved|expanded|contracted|dropped|up|down)\b",
    re.IGNORECASE,
)


def analyse_call(document: Document, run: RunContext, learned: bool = True) -> dict:
    text = document.text
    turns, speakers, participants = parse_call(text)
    if text.strip() and not speakers:
        run.warn(
            f"document {document.document_id!r}: no speakers found; figures are reported without speakers"
        )
    roles = {name: speaker.role for name, speaker in speakers.items()}
    default_quarter, default_year, period_source = call_period(
        text,
        stated=document.metadata.get("period", ""),
        document_id=document.document_id,
        filename=document.metadata.get("filename", ""),
    )
    if default_quarter is None and text.strip():
        run.warn(
            f"document {document.document_id!r}: the call's quarter was found neither in a stated period, its "
            "name, its title nor its text, so figures that name no period have none; state it at upload "
            '(the document\'s metadata "period", e.g. "Q2 2021")'
        )
    sentences: list[Segment] = []
    if turns:
        for turn in turns:
            sentences.extend(split_sentences(text, turn.speech_start, turn.end))
    else:
        sentences = split_sentences(text)
    metrics: list[dict] = []
    figures_by_sentence: dict[int, list[dict]] = {}
    previous_mention: str | None = None
    grids = find_grids(text, document.metadata.get("tables"))
    for figure in table_figures(text, grids, default_year):
        turn = _speaker_at(turns, figure.cell.start) if turns else None
        metrics.append(_cell_figure_dict(document, figure, turn.speaker if turn else None))
    for index, sentence in enumerate(sentences):
        if grids and grid_at(grids, sentence.start) is not None:
            continue
        turn = _speaker_at(turns, sentence.start) if turns else None
        guidance = is_guidance(sentence.text)
        mention = period_mention(sentence.text, guidance)
        figures = extract_figures(sentence.text, sentence.start)
        # A range is a forecast even in a sentence without a word that looks ahead; a range of a change too,
        # unless a verb in the past tense or "up"/"down" comes before it ("grew 8% to 10%").
        ranged = [
            figure.low is not None
            and not (
                figure.change
                and "start" not in figure.change
                and _PAST_BEFORE.search(text[max(sentence.start, figure.start - 80) : figure.start])
            )
            for figure in figures
        ]
        carried = previous_mention
        # A period named once carries through the forecasts that follow it without naming one.
        continued = previous_mention if guidance or any(ranged) else None
        previous_mention = (carried_mention(sentence.text, guidance) or continued) if mention else continued
        if turn is not None and roles.get(turn.speaker) in ("analyst", "operator"):
            continue
        carried_period = (
            period_of(carried, default_quarter, default_year, True)
            if mention is None and carried is not None
            else None
        )
        if carried_period and not is_after(carried_period, default_quarter, default_year):
            carried_period = None
        for figure, in_range in zip(figures, ranged, strict=True):
            ahead = guidance or in_range
            if carried_period and ahead:
                period = carried_period
            else:
                period = period_of(
                    sentence.text, default_quarter, default_year, ahead, figure.start - sentence.start
                )
            entry = _figure_dict(document, figure, sentence, turn.speaker if turn else None, period, ahead)
            metrics.append(entry)
            figures_by_sentence.setdefault(index, []).append(entry)
    metrics.sort(key=lambda metric: metric["span"]["start"])
    use_model = learned and run.use_model(learned_provenance()) and learned_model_available()
    if use_model:
        apply_learned(metrics, text, default_quarter, default_year)
    guidance_moves = _guidance_moves(document, sentences, figures_by_sentence)
    qa = pair_questions(document, turns, roles)
    return {
        "speakers": [speaker.as_dict() for speaker in speakers.values()],
        "participants": [{**p.as_dict(), "document_id": document.document_id} for p in participants],
        "metrics": metrics,
        "guidance": guidance_moves,
        "qa": qa,
        "summary": (
            salient_summary(metrics, quarter=default_quarter, year=default_year)
            if use_model
            else build_summary(metrics, guidance_moves)
        ),
        "tone": _section_tone(document, turns, roles),
        "qa_start": next((turn.start for turn in turns if turn.section == QA), len(text)),
        "period": {"quarter": default_quarter, "fiscal_year": default_year, "source": period_source},
        "sections": sorted({turn.section for turn in turns} or ({PREPARED} if text.strip() else set())),
    }


def _section_tone(document: Document, turns: list[Turn], roles: dict[str, str]) -> list[dict]:
    """Tone of management's substantive sentences per section (no analysts, operator, greetings or thanks)."""
    tone = []
    for section, label in ((PREPARED, "prepared_remarks"), (QA, "q_and_a")):
        ranges = [
            (sentence.start, sentence.end)
            for turn in turns
            if turn.section == section and roles.get(turn.speaker) in ("executive", "other")
            for sentence in split_sentences(document.text, turn.speech_start, turn.end)
            if is_substantive(sentence.text)
        ]
        if not turns and section == PREPARED and document.text.strip():
            ranges = [(0, len(document.text))]
        if ranges:
            tone.append({"section": label, "document_id": document.document_id, **tone_of(document, ranges)})
    return tone


class EarningsConnector(Connector):
    name = "earnings"
    description = "Earnings-call analysis: speakers, figures, guidance, Q&A and summary"
    reads_all_text = True
    sections = ("summary", "metrics", "guidance", "comparison", "qa", "tone", "speakers", "participants")

    def validate_options(self, options: dict) -> dict:
        self.reject_unknown_options(options, {"summary_bullets"})
        bullets = options.get("summary_bullets", 6)
        if isinstance(bullets, bool) or not isinstance(bullets, int) or not 3 <= bullets <= 6:
            raise OptionError("summary_bullets must be an integer from 3 to 6", "options.summary_bullets")
        return {"summary_bullets": bullets}

    def run(self, documents: list[Document], options: dict, run: RunContext) -> dict:
        if not documents:
            raise ValueError("the earnings connector needs at least one transcript")
        merged: dict = {
            "speakers": [],
            "participants": [],
            "metrics": [],
            "guidance": [],
            "qa": [],
            "summary": [],
            "tone": [],
            "periods": [],
        }
        calls = []
        for index, document in enumerate(documents):
            if not document.text.strip():
                run.warn(f"document {document.document_id!r} is empty; nothing to analyse")
            result = analyse_call(document, run)
            result["summary"] = result["summary"][: options["summary_bullets"]]
            run.progress((index + 0.7) / len(documents), f"figures {document.document_id}")
            if run.mode == "model" and run.client is not None:
                from connectors.earnings.model import refine_with_model

                result = refine_with_model(document, result, run)
            result["periods"] = [{"document_id": document.document_id, **result["period"]}]
            for key in merged:
                merged[key].extend(result[key])
            if len(documents) == 1:
                merged["period"] = result["period"]
            calls.append(
                {"document_id": document.document_id, "period_label": result["period"]["quarter"], **result}
            )
            run.progress((index + 1) / len(documents), f"summary {document.document_id}")
        if len(calls) > 1:
            merged["comparison"], warnings = compare_calls(calls)
            for warning in warnings:
                run.warn(warning)
        return merged

    def settle(self, output: dict) -> dict:
        """Drop what verification left without the spans it rests on: a summary bullet stating a number whose
        span was lost, a section's tone whose evidence was all lost, and a question (or follow-up) that was
        answered but whose answers were all lost; a warning counts them beside the dropped findings."""
        dropped = 0
        for key, lost in (("summary", _figures_lost), ("tone", _evidence_lost), ("qa", _answers_lost)):
            if output.get(key):
                dropped += _drop(output[key], lost)
        for pair in output.get("qa") or []:
            dropped += _drop(pair.get("follow_ups") or [], _answers_lost)
        if dropped:
            output["warnings"] = [
                *(output.get("warnings") or []),
                f"{dropped} more finding(s) dropped: the quotes they rest on were not found in the document text",
            ]
        return output


def _drop(items: list[dict], lost: Callable[[dict], bool]) -> int:
    """Remove the items of `items` that `lost` picks; how many there were."""
    kept = [item for item in items if not lost(item)]
    dropped = len(items) - len(kept)
    items[:] = kept
    return dropped


def _figures_lost(bullet: dict) -> bool:
    """Whether a bullet states a number none of its spans quotes (the span it was copied from was lost): no
    bullet keeps the facts it was written from, so it cannot be written again from the spans left."""
    quoted = set().union(*(stated_numbers(span["quote"]) for span in bullet.get("spans") or []))
    return bool(stated_numbers(bullet.get("text") or "") - quoted)


def _evidence_lost(tone: dict) -> bool:
    """Whether a tone that counted lexicon terms, and so quoted the sentences holding them, has no evidence left."""
    return not tone.get("evidence") and any((tone.get("counts") or {}).values())


def _answers_lost(pair: dict) -> bool:
    return bool(pair.get("answered")) and not pair.get("answers")
