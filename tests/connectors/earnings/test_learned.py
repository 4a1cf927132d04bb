from pathlib import Path

import numpy as np

from connectors import Document, run_connector
from connectors.earnings import learned
from connectors.earnings.learned import figure_features, period_from_relation, period_relation, score_figures
from connectors.earnings.training import train

SENTENCE = "Revenue for the third quarter was $1.2 billion, up 12% from last year."
ASIDE = "We opened 14 new stores in Ohio and hired 300 people."


def _features(sentence: str, quote: str, metric: str, unit: str) -> list[str]:
    start = sentence.index(quote)
    return figure_features(
        sentence, start, start + len(quote), metric, unit, "call_quarter", "actual", 0.1, True
    )


def test_the_shipped_weights_load_offline_and_rank_a_headline_figure_first():
    assert learned.available()
    headline, aside = score_figures(
        [_features(SENTENCE, "$1.2 billion", "revenue", "USD"), _features(ASIDE, "300", "other", "count")]
    )
    assert headline["salience"] > 0.5 > aside["salience"]
    assert headline["metric"] == "revenue" and headline["metric_p"] > 0.5
    assert headline["period"] == "call_quarter"


def test_period_relations_round_trip():
    for relation in ("call_quarter", "year_ago", "prior_quarter", "next_quarter", "call_year", "next_year"):
        assert (
            period_relation(period_from_relation(relation, "Q1 2021", "2021"), "Q1 2021", "2021") == relation
        )
    assert period_from_relation("prior_quarter", "Q1 2021", "2021") == "Q4 2020"
    assert period_relation("H1 2021", "Q1 2021", "2021") == "other"


def test_summary_bullets_are_reuters_style_and_quote_their_numbers():
    text = (
        "Revenue for the third quarter was $1.2 billion, up 12% from last year.\n"
        "Adjusted earnings per share were $0.85.\n"
        "For the full year, we expect revenue of $4.8 billion to $5.0 billion.\n"
        "We opened 14 new stores in Ohio.\n"
    )
    summary = run_connector("earnings", [Document("ACME_q3_2021", text)])["summary"]
    texts = [bullet["text"] for bullet in summary]
    assert "q3 revenue rose 12 percent to $1.2 billion." in texts
    assert any(t.startswith("sees fy 2021 revenue $4.8 billion to $5.0 billion") for t in texts)
    for bullet in summary:
        assert all(span["quote"] in text for span in bullet["spans"])


def _figure(metric: str, quote: str, salience: float, kind: str = "actual", period: str = "Q3 2021") -> dict:
    sentence = f"The figure was {quote}."
    start = sentence.index(quote)
    return {
        "metric": metric,
        "value": float(quote.strip("$").split()[0]),
        "unit": "USD_per_share" if metric.endswith("eps") else "USD",
        "kind": kind,
        "period": period,
        "salience": salience,
        "span": {"start": start, "end": start + len(quote), "quote": quote},
        "sentence": {"start": 0, "end": len(sentence), "quote": sentence},
    }


def test_the_summary_opens_with_the_quarter_per_share_result_as_a_headline():
    from connectors.earnings.connector import salient_summary

    texts = [
        bullet["text"]
        for bullet in salient_summary(
            [
                _figure("revenue", "$1.2 billion", 0.9),
                _figure("adjusted_eps", "$0.85", 0.8),
                _figure("net_income", "$12 million", 0.05),
            ]
        )
    ]
    assert texts == [
        "qtrly adjusted earnings per share $0.85.",
        "q3 revenue $1.2 billion.",
        "q3 adjusted earnings per share $0.85.",
    ]


def test_a_bullet_states_a_per_share_value_without_its_unit():
    from connectors.earnings.connector import salient_summary

    figure = _figure("eps", "$7.62 per diluted common share", 0.9)
    assert salient_summary([figure])[1]["text"] == "q3 earnings per share $7.62."


def test_a_summary_without_a_quarter_per_share_result_has_no_headline():
    from connectors.earnings.connector import salient_summary

    texts = [
        bullet["text"]
        for bullet in salient_summary(
            [
                _figure("eps", "$3.40", 0.9, period="FY2021"),
                _figure("revenue", "$1.2 billion", 0.8),
                _figure("adjusted_eps", "$0.85", 0.7, kind="guidance", period="FY2022"),
            ]
        )
    ]
    assert texts == [
        "fy earnings per share $3.40.",
        "q3 revenue $1.2 billion.",
        "sees fy 2022 adjusted earnings per share $0.85.",
    ]


def test_the_summary_states_no_earlier_periods_figure_as_the_calls():
    text = (Path(__file__).parents[2] / "data" / "ectsum" / "calls" / "AEL_q3_2021.txt").read_text("utf-8")
    result = run_connector("earnings", [Document("AEL_q3_2021", text)])
    figures = {figure["span"]["start"]: figure for figure in result["metrics"]}
    stated = [
        (bullet["text"], figures[span["start"]]["period"])
        for bullet in result["summary"]
        for span in bullet["spans"]
        if span["start"] in figures and figures[span["start"]]["kind"] == "actual"
    ]
    assert stated and all(period in ("Q3 2021", "FY2021") for _, period in stated), stated


def test_an_earlier_periods_figure_gets_no_bullet():
    from connectors.earnings.connector import salient_summary

    figures = [
        _figure("eps", "$2.72", 0.9, period="Q3 2020"),
        _figure("revenue", "$1.2 billion", 0.8),
        _figure("adjusted_eps", "$0.85", 0.7),
    ]
    assert [bullet["text"] for bullet in salient_summary(figures, quarter="Q3 2021", year="2021")] == [
        "qtrly adjusted earnings per share $0.85.",
        "q3 revenue $1.2 billion.",
        "q3 adjusted earnings per share $0.85.",
    ]


def test_a_loss_in_accounting_brackets_is_written_without_them():
    text = (
        "Jane Doe -- CFO: Revenue for the third quarter was $2.1 billion, up 4%. GAAP diluted EPS was $(0.12) for "
        "the quarter, and the net loss was ($15.2) million."
    )
    result = run_connector("earnings", [Document("ACME_q3_2021", text)])
    texts = [bullet["text"] for bullet in result["summary"]]
    assert "qtrly gaap loss per share $0.12." in texts
    assert all("(" not in text and ")" not in text for text in texts), texts


def test_the_classifier_keeps_metrics_it_was_never_trained_on(monkeypatch):
    from connectors.earnings import connector

    confident = {"salience": 0.9, "metric": "revenue", "metric_p": 0.99, "period": "other", "period_p": 0.0}
    monkeypatch.setattr(connector, "score_figures", lambda features: [confident for _ in features])
    text = "We ended the quarter with $1.4 billion in cash and EBITDA of $0.9 billion."

    def figure(metric: str, quote: str) -> dict:
        start = text.index(quote)
        span = {"start": start, "end": start + len(quote), "quote": quote}
        sentence = {"start": 0, "end": len(text), "quote": text}
        return {
            "metric": metric,
            "unit": "USD",
            "kind": "actual",
            "period": "Q3 2021",
            "span": span,
            "sentence": sentence,
        }

    cash, ebitda = figure("cash", "$1.4 billion"), figure("ebitda", "$0.9 billion")
    connector.apply_learned([cash, ebitda], text, "Q3 2021", "2021")
    assert cash["metric"] == "cash" and "rule_metric" not in cash
    assert ebitda["metric"] == "revenue" and ebitda["rule_metric"] == "ebitda"


def test_the_classifier_keeps_a_forecast_for_a_quarter_the_sentence_names(monkeypatch):
    from connectors.earnings import connector

    confident = {
        "salience": 0.9,
        "metric": "other",
        "metric_p": 0.0,
        "period": "call_quarter",
        "period_p": 0.99,
    }
    monkeypatch.setattr(connector, "score_figures", lambda features: [confident for _ in features])

    def forecast(text: str, quote: str, period: str) -> dict:
        start = text.index(quote)
        return {
            "metric": "adjusted_eps",
            "unit": "USD",
            "kind": "guidance",
            "period": period,
            "span": {"start": start, "end": start + len(quote), "quote": quote},
            "sentence": {"start": 0, "end": len(text), "quote": text},
        }

    named = forecast(
        "We see third-quarter adjusted earnings per share of $1.95 to $2.05.", "$1.95", "Q3 2021"
    )
    unnamed = forecast("We see adjusted earnings per share of $1.95 to $2.05.", "$1.95", "FY2021")
    connector.apply_learned([named], named["sentence"]["quote"], "Q2 2021", "2021")
    connector.apply_learned([unnamed], unnamed["sentence"]["quote"], "Q2 2021", "2021")
    assert named["period"] == "Q3 2021" and "rule_period" not in named
    assert unnamed["period"] == "Q2 2021" and unnamed["rule_period"] == "FY2021"


def _write_call(folder: Path, name: str, lines: list[str], bullets: list[str]) -> None:
    (folder / "ects" / f"{name}.txt").write_text("\n".join(lines), encoding="utf-8")
    (folder / "gt_summaries" / f"{name}.txt").write_text("\n".join(bullets), encoding="utf-8")


def test_training_on_a_small_fixture_is_reproducible(tmp_path):
    data = tmp_path / "train"
    (data / "ects").mkdir(parents=True)
    (data / "gt_summaries").mkdir()
    for index in range(6):
        revenue, eps, stores = 100 + index * 7, 0.3 + index / 10, 10 + index
        _write_call(
            data,
            f"CO{index}_q2_2021",
            [
                f"Revenue for the quarter was ${revenue} million.",
                f"Adjusted earnings per share were ${eps:.2f}.",
                f"We opened {stores} stores and our headcount was {stores * 40} people.",
            ],
            [f"q2 revenue ${revenue} million.", f"q2 adjusted earnings per share ${eps:.2f}."],
        )
    first = train(data, tmp_path / "a", progress=lambda _: None, epochs=3)
    second = train(data, tmp_path / "b", progress=lambda _: None, epochs=3)
    assert first["figures"] == second["figures"] > 0
    assert (tmp_path / "a" / "TRAINED_ON.txt").read_text().split() == sorted(
        (tmp_path / "a" / "TRAINED_ON.txt").read_text().split()
    )
    with (
        np.load(tmp_path / "a" / "earnings_figures.npz") as a,
        np.load(tmp_path / "b" / "earnings_figures.npz") as b,
    ):
        assert set(a.files) == {"salience", "salience_bias", "metric", "metric_bias", "period", "period_bias"}
        for key in a.files:
            assert np.allclose(a[key].astype(np.float32), b[key].astype(np.float32), atol=1e-3)
    original = learned.WEIGHTS
    try:
        learned.WEIGHTS = tmp_path / "a" / "earnings_figures.npz"
        salient, aside = score_figures(
            [
                _features("Revenue for the quarter was $150 million.", "$150 million", "revenue", "USD"),
                _features("We opened 12 stores and our headcount was 480 people.", "480", "other", "count"),
            ]
        )
    finally:
        learned.WEIGHTS = original
    assert salient["salience"] > aside["salience"]
