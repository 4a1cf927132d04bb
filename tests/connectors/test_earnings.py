import json
import re

import pytest

from connectors import Document, run_connector
from connectors.earnings.transcript import turns_json_to_text
from connectors.spans import invalid_spans
from tests.support.spans import lose, stored


@pytest.fixture
def call(transcript_text):
    return run_connector("earnings", [Document("ACME_q3_2021", transcript_text, kind="transcript")])


def test_speakers_have_roles_titles_and_firms(call):
    speakers = {s["name"]: s for s in call["speakers"]}
    assert speakers["Operator"]["role"] == "operator"
    assert (
        speakers["Jane Doe"]["role"] == "executive"
        and speakers["Jane Doe"]["title"] == "Chief Financial Officer"
    )
    assert speakers["John Smith"]["role"] == "executive"
    assert (
        speakers["Alex Analyst"]["role"] == "analyst" and speakers["Alex Analyst"]["firm"] == "Morgan Stanley"
    )
    assert speakers["Kim Lee"]["role"] == "analyst" and speakers["Kim Lee"]["firm"] == "Goldman Sachs"


@pytest.mark.parametrize(
    "label",
    [
        "Jane Doe (Chief Financial Officer):",
        "Jane\u00a0Doe -- Chief Financial Officer:",
        "Jane Doe\u00a0--\u00a0Chief Financial Officer\u00a0:",
    ],
)
def test_a_speaker_label_with_the_title_in_brackets_or_no_break_spaces(transcript_text, label):
    text = transcript_text.replace("Jane Doe -- Chief Financial Officer:", label)
    assert len(text) == len(transcript_text) + len(label) - len("Jane Doe -- Chief Financial Officer:")
    call = run_connector("earnings", [Document("ACME_q3_2021", text, kind="transcript")])
    jane = next(s for s in call["speakers"] if s["name"] == "Jane Doe")
    assert (jane["role"], jane["title"]) == ("executive", "Chief Financial Officer")
    revenue = next(m for m in call["metrics"] if m["metric"] == "revenue" and m["kind"] == "actual")
    assert (revenue["value"], revenue["speaker"]) == (1.2, "Jane Doe")
    assert invalid_spans(call, {"ACME_q3_2021": text}) == []


@pytest.mark.parametrize("name", ["Émile Durand", "Łukasz Nowak", "Åsa Larsson", "Ольга Иванова"])
def test_a_speaker_whose_name_starts_with_a_capital_outside_ascii(transcript_text, name):
    text = transcript_text.replace("Jane Doe", name)
    call = run_connector("earnings", [Document("ACME_q3_2021", text, kind="transcript")])
    speaker = next(s for s in call["speakers"] if s["name"] == name)
    assert (speaker["role"], speaker["title"]) == ("executive", "Chief Financial Officer")
    revenue = next(m for m in call["metrics"] if m["metric"] == "revenue" and m["kind"] == "actual")
    assert (revenue["value"], revenue["speaker"]) == (1.2, name)
    assert invalid_spans(call, {"ACME_q3_2021": text}) == []


def test_figures_with_period_kind_change_and_speaker(call):
    metrics = call["metrics"]
    revenue = next(m for m in metrics if m["metric"] == "revenue" and m["kind"] == "actual")
    assert (revenue["value"], revenue["unit"], revenue["scale"]) == (1.2, "USD", 1e9)
    assert revenue["period"] == "Q3 2021" and revenue["speaker"] == "Jane Doe"
    assert revenue["change"]["value"] == 12.0 and revenue["change"]["unit"] == "percent"
    eps = next(m for m in metrics if m["metric"] == "adjusted_eps")
    assert (eps["value"], eps["unit"]) == (0.83, "USD_per_share")
    margin = next(m for m in metrics if m["metric"] == "gross_margin" and m["kind"] == "actual")
    assert margin["value"] == 41.5 and margin["unit"] == "percent"
    guidance = next(m for m in metrics if m["metric"] == "revenue" and m["kind"] == "guidance")
    assert (guidance["low"], guidance["high"], guidance["period"]) == (4.6, 4.7, "FY2021")
    assert all(m["speaker"] not in ("Alex Analyst", "Kim Lee") for m in metrics)


def test_guidance_raised(call):
    assert any(g["direction"] == "raised" and g["metric"] == "revenue" for g in call["guidance"])


def test_questions_pair_with_management_answers(call):
    assert [q["question"]["speaker"] for q in call["qa"]] == ["Alex Analyst", "Kim Lee"]
    first, second = call["qa"]
    assert [a["speaker"] for a in first["answers"]] == ["Jane Doe", "John Smith"]
    assert (
        first["question"]["span"]["quote"]
        == "Can you talk about pricing and how margins develop into next year?"
    )
    assert first["topic"] == "pricing" and first["topics"] == ["pricing", "margins"]
    assert [a["speaker"] for a in second["answers"]] == ["John Smith"]


def test_summary_numbers_are_all_quoted_from_the_call(call, transcript_text):
    assert 3 <= len(call["summary"]) <= 6
    for bullet in call["summary"]:
        quoted = " ".join(span["quote"] for span in bullet["spans"])
        for number in re.findall(
            r"\d+(?:\.\d+)?",
            re.sub(r"\b(?:Q[1-4] \d{4}|FY\d{4}|fy \d{4}|q[1-4]|h[12])\b", "", bullet["text"]),
        ):
            assert number in quoted, (number, bullet)
    assert invalid_spans(call, {"ACME_q3_2021": transcript_text}) == []


@pytest.mark.timeout(20)
def test_runs_of_blanks_and_chained_fillers_read_in_linear_time(transcript_text):
    padding = " " * 20_000
    text = transcript_text.replace(
        "Operator: Next question comes from Kim Lee with Goldman Sachs.",
        f"Operator: Next question comes from Kim Lee{padding}x with Goldman Sachs.",
    ).replace("Kim Lee: What drove", "Kim Lee: " + "and then " * 30 + "fine. What drove")
    text += f"\nJane Doe: Net loss was $2 million{padding}x, and margins were 40%{padding}x.\n"
    result = run_connector("earnings", [Document("call", text)])
    assert [q["question"]["speaker"] for q in result["qa"]] == ["Alex Analyst", "Kim Lee"]


@pytest.mark.timeout(10)
def test_long_runs_of_digits_read_in_linear_time():
    from connectors.earnings.tables import NUMBER, RANGE

    for run in ("1" * 20_000, "1." + "1" * 20_000, "$" + "1" * 20_000 + " to", "1," + "000," * 5_000 + "5"):
        list(RANGE.finditer(run))
    assert [m.group(0) for m in NUMBER.finditer("7" * 40 + " and $1,234,567.89 or 0.123456789012345")] == [
        "$1,234,567.89",
        "0.123456789012345",
    ]
    text = "PREPARED REMARKS\n\nJane Doe -- CFO: Revenue was $5 million. Code " + "9" * 20_000 + " end.\n"
    result = run_connector("earnings", [Document("ACME_q3_2021", text, kind="transcript")])
    assert [(m["metric"], m["value"]) for m in result["metrics"]] == [("revenue", 5.0)]


def test_a_sentence_dense_with_figures_scans_its_periods_once():
    """An income statement flattened into one long sentence: each period pattern scans it once for all its
    figures (it rescanned the sentence for every figure, most of the time of such a call), and the periods read
    are the same."""
    from connectors.earnings import periods
    from connectors.earnings.periods import period_of

    rows = [
        "Revenue  $ 1,234.5  $ 1,100.2  12%",
        "Cost of sales  (812.3)  (790.1)",
        "Gross profit  422.2  310.1",
        "Operating income  $ 101.2  $ 88.0",
        "Diluted EPS  $ 0.83  $ 0.71",
    ]
    statement = " ".join(rows[i % len(rows)] for i in range(50))[:1500]
    positions = [m.start() for m in re.finditer(r"\d", statement)][::3]
    periods._matches.cache_clear()
    assert {period_of(statement, "Q3 2021", "2021", False, p) for p in positions} == {"Q3 2021"}
    assert {period_of(statement, "Q3 2021", "2021", True, p) for p in positions} == {"FY2021"}
    scans = periods._matches.cache_info()
    assert len(positions) > 100 and scans.misses <= 6 and scans.hits >= len(positions), scans


def test_json_turns_become_speaker_paragraphs():
    turns = [
        {"speaker": "Operator", "text": "Welcome.", "section": "prepared"},
        {
            "speaker": "Jane Doe",
            "title": "CFO",
            "text": "Revenue was $3.1 billion in the second quarter of 2022.",
        },
        {"speaker": "Sam Roe", "firm": "UBS", "text": "What about costs?", "section": "qa"},
    ]
    text = turns_json_to_text(json.dumps({"turns": turns}))
    assert "Jane Doe -- CFO: Revenue was $3.1 billion" in text and "QUESTIONS AND ANSWERS" in text
    result = run_connector("earnings", [Document("call", text, kind="transcript")])
    assert any(
        m["metric"] == "revenue" and m["value"] == 3.1 and m["period"] == "Q2 2022" for m in result["metrics"]
    )
    with pytest.raises(ValueError, match="speaker"):
        turns_json_to_text(json.dumps([{"text": "no speaker"}]))
    with pytest.raises(ValueError, match="parse"):
        turns_json_to_text("{not json")


def test_transcript_without_speakers_still_reports_figures():
    text = "Revenue for the second quarter of 2021 was $452.2 million, up 2.5%.\nWe expect full-year sales of $1.82 billion to $1.83 billion."
    result = run_connector("earnings", [Document("call", text)])
    assert result["speakers"] == [] and result["qa"] == []
    assert any("no speakers" in w for w in result["warnings"])
    assert any(m["metric"] == "revenue" and m["value"] == 452.2 for m in result["metrics"])


def test_bad_options_raise():
    with pytest.raises(ValueError, match="summary_bullets"):
        run_connector("earnings", [Document("c", "x")], options={"summary_bullets": 9})


def test_summary_is_filled_to_three_bullets_with_quoted_sentences():
    text = (
        "Jane Doe -- CFO: Revenue was $10.0 million in the first quarter of 2022. "
        "Revenue in Europe was $4.0 million. Revenue in Asia was $3.5 million."
    )
    result = run_connector("earnings", [Document("call", text)])
    assert len(result["summary"]) == 3
    assert result["summary"][1]["text"] == "Revenue in Europe was $4.0 million."
    for bullet in result["summary"]:
        quoted = " ".join(span["quote"] for span in bullet["spans"])
        assert all(n in quoted for n in re.findall(r"\d+\.\d+", bullet["text"]))


def test_header_lines_on_their_own_as_in_published_transcripts():
    text = (
        "Prepared Remarks:\n\nOperator\n\nWelcome to the call.\n\n"
        "Jane Doe -- Chief Financial Officer\n\nRevenue was $2.5 billion in the fourth quarter of 2021.\n\n"
        "Questions and Answers:\n\nOperator\n\nOur first question comes from Sam Roe with UBS.\n\n"
        "Sam Roe -- UBS -- Analyst\nHow is demand?\n\n"
        "Jane Doe -- Chief Financial Officer\nDemand is strong.\n"
    )
    result = run_connector("earnings", [Document("call", text)])
    roles = {s["name"]: (s["role"], s["firm"]) for s in result["speakers"]}
    assert roles == {
        "Operator": ("operator", None),
        "Jane Doe": ("executive", None),
        "Sam Roe": ("analyst", "UBS"),
    }
    assert result["metrics"][0]["speaker"] == "Jane Doe" and result["metrics"][0]["period"] == "Q4 2021"
    (pair,) = result["qa"]
    assert pair["question"]["span"]["quote"] == "How is demand?"
    assert [(a["speaker"], a["span"]["quote"]) for a in pair["answers"]] == [
        ("Jane Doe", "Demand is strong.")
    ]


@pytest.mark.parametrize(
    ("sentence", "direction"),
    [
        ("We are raising our full-year outlook.", "raised"),
        ("Our guidance is unchanged.", "maintained"),
        ("Our 2021 outlook has been lowered to $3 billion.", "lowered"),
        ("We are withdrawing our guidance.", "withdrawn"),
        ("Sales were in line with our expectations, increasing 19%.", None),
        ("We now expect revenue of $5 billion.", None),
    ],
)
def test_guidance_direction(sentence, direction):
    from connectors.earnings.connector import _guidance_direction

    assert _guidance_direction(sentence) == direction


def _figures(sentence):
    from connectors.earnings.extraction import extract_figures

    return [(f.metric, f.value, f.unit, f.scale) for f in extract_figures(sentence, 0)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Our fourth quarter results include $29 million of pre-tax cat losses.",
            [("catastrophe_losses", 29.0, "USD", 1e6)],
        ),
        (
            "Primarily driven by this issue, we have recognized a $46 million forward loss on the program.",
            [("special_charges", 46.0, "USD", 1e6)],
        ),
        (
            "Gross profit was $400 million on $1.2 billion of sales.",
            [("gross_profit", 400.0, "USD", 1e6), ("revenue", 1.2, "USD", 1e9)],
        ),
        ("We delivered $42.2 million adjusted net income.", [("adjusted_net_income", 42.2, "USD", 1e6)]),
        (
            "Operating profit was $270 million, a 9.6% operating margin.",
            [("operating_income", 270.0, "USD", 1e6), ("operating_margin", 9.6, "percent", 1.0)],
        ),
        ("We added 1.3 million subscribers in the quarter.", [("subscribers", 1.3, "count", 1e6)]),
        (
            "We expect adjusted DEPS to be between $3.26 and $3.32.",
            [("adjusted_eps", 3.29, "USD_per_share", 1.0)],
        ),
        ("We reported 15.6% higher revenues in the quarter.", [("revenue_growth", 15.6, "percent", 1.0)]),
        (
            "Net interest income was up a very strong 27.5% year over year.",
            [("net_interest_income_growth", 27.5, "percent", 1.0)],
        ),
        (
            "We delivered $674 million of revenue, growing 8.9% in total.",
            [("revenue", 674.0, "USD", 1e6)],
        ),
        (
            "Net income was $5 million or $0.12 per fully diluted share.",
            [("net_income", 5.0, "USD", 1e6), ("eps", 0.12, "USD_per_share", 1.0)],
        ),
        ("Annual recurring revenue reached $820 million.", [("arr", 820.0, "USD", 1e6)]),
        ("Total company comp-store sales were 10%.", [("same_store_sales", 10.0, "percent", 1.0)]),
        ("Same-restaurant sales were 4.2% in the quarter.", [("same_store_sales", 4.2, "percent", 1.0)]),
    ],
)
def test_metric_named_after_or_before_a_figure(sentence, expected):
    assert _figures(sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "The $2 million of lower revenue in the segment delivered a better mix.",
        "We are driving the division toward a $1 billion revenue business by 2023.",
        "Freight was 80% of operating margin pressure.",
        "We expect a weighted average share count of 54 million shares after the repurchase.",
    ],
)
def test_figures_that_are_not_the_metric_are_left_out(sentence):
    assert _figures(sentence) == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Liquidity at quarter end was $277 million, including cash and cash equivalents of $155 million.",
            [("liquidity", 277.0, "USD", 1e6), ("cash", 155.0, "USD", 1e6)],
        ),
        ("Quarter-ending AUM of $96.2 billion.", [("assets_under_management", 96.2, "USD", 1e9)]),
        ("Net long-term inflows were $24.5 billion.", [("net_flows", 24.5, "USD", 1e9)]),
        ("Provision for credit losses was $22.8 million.", [("credit_loss_provision", 22.8, "USD", 1e6)]),
        ("The combined ratio improved to 93.4%.", [("combined_ratio", 93.4, "percent", 1.0)]),
        ("Our CET1 capital ratio was 9.9% at June 30.", [("capital_ratio", 9.9, "percent", 1.0)]),
        ("Book value per common share was $72.37.", [("book_value_per_share", 72.37, "USD_per_share", 1.0)]),
        ("Cash taxes of $12 million were paid.", []),
        (
            "Q4 credit provision was $124 million versus $110 million a year ago.",
            [("credit_loss_provision", 124.0, "USD", 1e6), ("credit_loss_provision", 110.0, "USD", 1e6)],
        ),
        (
            "Net charge-offs were $135 million or 53 basis points of average loans.",
            [("net_charge_offs", 135.0, "USD", 1e6)],
        ),
        (
            "Our net charge-off ratio totaled 0.25% in the second quarter.",
            [("net_charge_off_ratio", 0.25, "percent", 1.0)],
        ),
        (
            "This business will sustain a payout ratio of 60% to 65%.",
            [("payout_ratio", 62.5, "percent", 1.0)],
        ),
        (
            "The medical care ratio was 84.4% in the third quarter.",
            [("medical_care_ratio", 84.4, "percent", 1.0)],
        ),
        ("Phone churn for the quarter was 0.74%.", [("churn", 0.74, "percent", 1.0)]),
        (
            "We collected 98.8% of rent from all customers and 99.2% of rent from office customers.",
            [("rent_collection", 98.8, "percent", 1.0), ("rent_collection", 99.2, "percent", 1.0)],
        ),
        ("We collected $45 million of deferred rent.", []),
        (
            "With an average selling price between $530,000 and $540,000.",
            [("average_selling_price", 535000.0, "USD", 1.0)],
        ),
        (
            "We now expect G&A to range between $168 million and $178 million.",
            [("g_and_a", 173.0, "USD", 1e6)],
        ),
        ("SG&A was $410 million.", [("sga", 410.0, "USD", 1e6)]),
        (
            "These actions will bring gross annualized pre-tax expense savings of about $200 million.",
            [("cost_savings", 200.0, "USD", 1e6)],
        ),
        ("Capital additions are expected to be approximately $460 million.", [("capex", 460.0, "USD", 1e6)]),
        (
            "We announced a $750 million share purchase authorization today.",
            [("share_repurchase", 750.0, "USD", 1e6)],
        ),
        (
            "The board authorized us to repurchase up to $750 million of common stock.",
            [("share_repurchase", 750.0, "USD", 1e6)],
        ),
        (
            "During the quarter, we purchased 1.1 million shares of stock for $100 million.",
            [("share_repurchase", 100.0, "USD", 1e6)],
        ),
        ("We booked new awards of $8.9 billion.", [("bookings", 8.9, "USD", 1e9)]),
        (
            "At the end of the quarter, inventory was up 9.1% to last year.",
            [("inventory_growth", 9.1, "percent", 1.0)],
        ),
    ],
)
def test_balance_sheet_operating_and_ratio_metrics(sentence, expected):
    assert _figures(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Revenue rose to $7.0 billion on 21,588 homes closed.",
            [("revenue", 7.0, "USD", 1e9), ("deliveries", 21588.0, "count", 1.0)],
        ),
        (
            "We expect home deliveries between 2,700 and 3,000 in the fourth quarter.",
            [("deliveries", 2850.0, "count", 1.0)],
        ),
        (
            "Our customer count grew to over 5,400 customers as of July 31.",
            [("customers", 5400.0, "count", 1.0)],
        ),
        ("We now expect to close approximately 75 stores in fiscal 2022.", [("stores", 75.0, "count", 1.0)]),
        ("We hired 200 people for 3 new plants.", []),
        (
            "Our net new orders increased 24% over last year to 7,056 homes.",
            [("bookings", 7056.0, "count", 1.0)],
        ),
        ("We sold 3,000 units of the new product.", []),
        ("Military orders were up, with a large order for 100 F404 engines and multiple T700 orders.", []),
        (
            "Written same-store sales for the 354 stores decreased 35% in the quarter.",
            [("same_store_sales_growth", -35.0, "percent", 1.0), ("stores", 354.0, "count", 1.0)],
        ),
    ],
)
def test_bare_counts_only_beside_a_counted_noun(sentence, expected):
    assert sorted(_figures(sentence)) == sorted(expected)


def test_growth_named_after_a_percentage_with_its_sign():
    assert _figures("Everest remains resilient, with 21% growth rate in gross written premium.") == [
        ("gross_written_premiums_growth", 21.0, "percent", 1.0)
    ]
    assert _figures("PeopleReady saw an 18% decline in revenue.") == [
        ("revenue_growth", -18.0, "percent", 1.0)
    ]


def test_second_change_joined_by_and_or():
    assert _figures("Net sales revenue decreased 9.7% reported and 11.1% in constant currency.") == [
        ("revenue_growth", -9.7, "percent", 1.0),
        ("revenue_growth", -11.1, "percent", 1.0),
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Net sales are anticipated to increase in the high 30% range.",
            [("revenue_growth", 30.0, "percent", 1.0)],
        ),
        ("We anticipate sales will be up in the mid-20% range.", [("revenue_growth", 20.0, "percent", 1.0)]),
        ("Revenue will be down in the low 20% range.", [("revenue_growth", -20.0, "percent", 1.0)]),
    ],
)
def test_a_change_stated_as_the_band_of_a_percentage(sentence, expected):
    assert _figures(sentence) == expected


def test_a_change_goes_only_to_a_figure_of_its_metric():
    from connectors.earnings.extraction import extract_figures

    up_to = extract_figures("Revenue was up 12% to $3.4 billion.", 0)
    assert [(f.metric, f.change and f.change["value"]) for f in up_to][-1] == ("revenue", 12.0)
    separate = extract_figures("Revenue grew 12% and gross margin was 40%.", 0)
    assert [(f.metric, f.value, f.change) for f in separate] == [
        ("revenue_growth", 12.0, None),
        ("gross_margin", 40.0, None),
    ]


def test_buyback_share_counts():
    assert _figures("In the third quarter, we repurchased approximately 4.4 million shares.") == [
        ("share_repurchase", 4.4, "count", 1e6)
    ]


def test_percent_range_growth_named_far_before():
    from connectors.earnings.extraction import extract_figures

    sentence = (
        "Our revised guidance is to grow revenue between 8% to 10% and earnings per share within a range "
        "of 12% to 15% for the full year of 2021."
    )
    ranges = [(f.metric, f.low, f.high) for f in extract_figures(sentence, 0)]
    assert ranges == [("revenue_growth", 8.0, 10.0), ("eps_growth", 12.0, 15.0)]


@pytest.mark.parametrize(
    ("sentence", "guidance"),
    [
        ("Better-than-expected gross margin resulted in record earnings per share of $3.48.", False),
        ("Margins came in higher than we expected at 4.2%.", False),
        ("Results were as anticipated.", False),
        ("EPS of $0.54 was at the high end of our guidance range and increased 26% year over year.", False),
        ("We expect revenue of $5 billion.", True),
        ("We are adjusting our 2021 EBITDA projections to now be approximately $220 million.", True),
        ("EBITDA came in above our projections at $61 million.", False),
    ],
)
def test_past_expectations_are_not_guidance(sentence, guidance):
    from connectors.earnings.extraction import is_guidance

    assert is_guidance(sentence) is guidance


def test_guidance_period_carries_through_a_run_of_guidance_sentences():
    text = (
        "Turning now to our first-quarter guidance.\n"
        "We expect revenue in the first quarter of fiscal '22 to be in the range of $8 billion to $8.6 billion.\n"
        "Core operating income is estimated to be in the range of $365 million to $425 million.\n"
        "GAAP diluted earnings per share is expected to be in the range of $1.40 to $1.61.\n"
    )
    metrics = run_connector("earnings", [Document("ACME_q4_2021", text)])["metrics"]
    assert [(m["metric"], m["period"], m["kind"]) for m in metrics] == [
        ("revenue", "Q1 2022", "guidance"),
        ("operating_income", "Q1 2022", "guidance"),
        ("eps", "Q1 2022", "guidance"),
    ]


def test_a_past_period_does_not_carry_into_guidance():
    text = (
        "When comparing to the fourth quarter of 2020, the prior period included separation costs.\n"
        "Slide 7 shows our industry outlook.\n"
        "We expect sales of large equipment to be up approximately 15%.\n"
    )
    metrics = run_connector("earnings", [Document("ACME_q4_2021", text)])["metrics"]
    assert [(m["metric"], m["period"]) for m in metrics] == [("revenue_growth", "FY2022")]


def test_dated_period_right_after_a_figure_and_for_the_year():
    from connectors.earnings.periods import period_of

    sentence = "Our effective tax rate for the year will be between 19% and 20% as compared to a rate of 5.5% in 2020."
    assert period_of(sentence, "Q3 2021", "2021", True, sentence.index("19%")) == "FY2021"
    assert period_of(sentence, "Q3 2021", "2021", True, sentence.index("5.5%") + 4) == "FY2020"


def test_scorer_counts_only_numbers_the_call_states():
    from connectors.evaluation import call_numbers, in_call, reference_facts

    facts = reference_facts(
        ["q2 revenue $186 million versus refinitiv ibes estimate of $168.3 million."], "ACME_q2_2020"
    )
    numbers = call_numbers("Revenue for the quarter was $185.9 million, up 3%.")
    assert [in_call(fact, numbers) for fact in facts] == [True, False]


def test_scorer_skips_labels_and_month_days_and_matches_unnamed_metrics_on_value_and_period():
    from connectors.evaluation import fact_found, reference_facts

    facts = reference_facts(
        [
            "for fiscal 2023, co sees sales to be up 2% to 4%, compared to fy22.",
            "funds under management increase 1.1% from june 30.",
            "recognized a $46 million forward charge in this quarter.",
            "full-year 2022 earnings forecast to be $6.5 to $7.0 bln.",
        ],
        "ACME_q4_2021",
    )
    assert [(f["value"], f["scale"]) for f in facts] == [
        (2.0, 1.0),
        (4.0, 1.0),
        (1.1, 1.0),
        (46.0, 1e6),
        (6.5, 1e9),
        (7.0, 1e9),
    ]
    charge = facts[3]
    assert charge["metric"] is None
    reported = {"metric": "special_charges", "value": 46.0, "scale": 1e6, "period": "Q4 2021"}
    assert fact_found(charge, [reported])
    assert not fact_found(charge, [{**reported, "period": "Q3 2021"}])


@pytest.mark.parametrize(
    ("sentence", "position_of", "period"),
    [
        ("Net interest income declined to $195 million from $198 million last quarter.", "$198", "Q2 2021"),
        (
            "Net cash from operating activities was $179 million compared to $139 million last year.",
            "$139",
            "Q3 2020",
        ),
        (
            "AAM sales were $1.43 billion compared to $1.34 billion in the first quarter of 2020.",
            "$1.34",
            "Q1 2020",
        ),
        (
            "AAM sales were $1.43 billion compared to $1.34 billion in the first quarter of 2020.",
            "$1.43",
            "Q3 2021",
        ),
        ("Revenue was $5 billion, up from last year.", "$5", "Q3 2021"),
        (
            "Net income was $38.6 million or $0.33 per share in the first quarter of 2021 compared to a loss "
            "of $501.3 million or $4.45 per share in the first quarter of 2020.",
            "$4.45",
            "Q1 2020",
        ),
        (
            "Adjusted EBITDA rose 4% compared to Q4 2019 and its margin was up 60 basis points.",
            "60 basis",
            "Q3 2021",
        ),
        (
            "EPS was $0.43 versus an earnings per share loss of $0.26 in the prior year period.",
            "$0.26",
            "Q3 2020",
        ),
        (
            "EPS was $0.54 for the fiscal 2022 first quarter versus $0.10 in the prior quarter.",
            "$0.54",
            "Q1 2022",
        ),
        ("Revenue of $5 billion was above our prior year of $4.2 billion.", "$4.2", "Q3 2020"),
        ("Sales were $5 billion against the prior quarter's $4.8 billion.", "$4.8", "Q2 2021"),
        (
            "Revenue was $15.9 million for the second quarter of 2020 compared to $16.7 million in the first "
            "quarter of 2020 and $21.7 million in the prior year's second quarter.",
            "$21.7",
            "Q2 2019",
        ),
        ("Margin was 5.1% and 4.2% in the same quarter last year.", "4.2%", "Q3 2020"),
        ("EPS was $1.93 and $1.21, for the second quarter of last year.", "$1.21", "Q2 2020"),
        ("Net sales rose 8% to $2.6 billion (2020: $2.4 billion).", "$2.4", "Q3 2020"),
        ("Net sales rose 8% to $2.6 billion (2020: $2.4 billion).", "$2.6", "Q3 2021"),
        ("For the full year, revenue was $9.6 billion (2020: $9.1 billion).", "$9.1", "FY2020"),
    ],
)
def test_comparison_figures_and_periods_named_right_after_them(sentence, position_of, period):
    from connectors.earnings.periods import period_of

    assert period_of(sentence, "Q3 2021", "2021", False, sentence.index(position_of)) == period


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Next quarter we expect revenue of $2.1 billion.", [("$2.1 billion", "Q4 2021")]),
        ("For next year, we expect revenue of $9.1 billion.", [("$9.1 billion", "FY2022")]),
        ("We expect revenue of $2.1 billion next quarter.", [("$2.1 billion", "Q4 2021")]),
        ("For the next fiscal year, we expect revenue of $9.1 billion.", [("$9.1 billion", "FY2022")]),
        (
            "Revenue in Q3 was $1.8 billion compared to $1.6 billion in Q3 last year.",
            [("$1.8 billion", "Q3 2021"), ("$1.6 billion", "Q3 2020")],
        ),
        (
            "We expect revenue to grow from $2.0 billion in the third quarter to $2.2 billion to $2.3 billion in "
            "the fourth quarter.",
            [("$2.0 billion", "Q3 2021"), ("$2.2 billion to $2.3 billion", "Q4 2021")],
        ),
        (
            "For the third quarter of 2021, we reported non-GAAP operating income of $79.5 million or $0.85 per "
            "diluted common share compared to a loss of $249.8 million or $2.72 per diluted common share for the "
            "third quarter of 2020.",
            [
                ("$79.5 million", "Q3 2021"),
                ("$0.85 per diluted common share", "Q3 2021"),
                ("$249.8 million", "Q3 2020"),
                ("$2.72 per diluted common share", "Q3 2020"),
            ],
        ),
    ],
)
def test_next_periods_prior_year_quarters_and_periods_after_a_companion_figure(sentence, expected):
    result = run_connector("earnings", [Document("ACME_q3_2021", "Jane Doe -- CFO: " + sentence)])
    assert [(m["span"]["quote"], m["period"]) for m in result["metrics"]] == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "Adjusted operating income is expected to be $46 million, excluding $10 million of cost actions.",
        "Full year adjusted earnings per share is raised by $0.75.",
        "Consolidated sales of $1.9 billion were $140 million above our expectations.",
        "Deferred sales inducement amortization totaled $93 million.",
    ],
)
def test_amounts_that_are_not_a_level_of_the_metric(sentence):
    levels = [f for f in _figures(sentence) if f[1] in (10.0, 0.75, 140.0, 93.0)]
    assert levels == []


def test_quarter_label_is_not_the_low_end_of_a_range():
    from connectors.earnings.extraction import extract_figures

    figures = extract_figures("Adjusted earnings per share growth of 14% in Q3 and 16% year-to-date.", 0)
    assert all(f.low is None for f in figures)


def test_free_operating_cash_flow_is_free_cash_flow():
    assert _figures("Our free operating cash flow was negative $2 million.") == [
        ("free_cash_flow", -2.0, "USD", 1e6)
    ]


def test_scorer_gives_a_versus_figure_the_year_ago_period():
    from connectors.evaluation import reference_facts

    facts = reference_facts(
        ["qtrly catastrophe losses $29 million pre-tax versus $85 million pre-tax."], "ACME_q4_2020"
    )
    assert [(f["value"], f["period"]) for f in facts] == [(29.0, "Q4 2020"), (85.0, "Q4 2019")]


@pytest.mark.parametrize(
    "sentence",
    [
        "The investment impacted quarterly earnings per share by approximately $0.06.",
        "We bought 1.4 million shares at an average price of $60.88 per share.",
    ],
)
def test_impacts_and_prices_are_not_earnings_per_share(sentence):
    assert [f for f in _figures(sentence) if f[0] in ("eps", "adjusted_eps")] == []


@pytest.mark.parametrize(
    ("sentence", "guidance"),
    [
        ("Free cash flow was negative $28 million, in line with the guidance provided last quarter.", False),
        ("We look to deliver a core operating margin of 4.5% on revenues of $31.5 billion.", True),
        ("Non-GAAP EPS were $3.17, with about $0.04 of upside to prior guidance from currency.", False),
        ("Gross margin was 41%, 50 basis points higher compared to our prior guidance.", False),
        ("We now expect revenue of $2 billion, compared to our prior guidance of $1.9 billion.", True),
    ],
)
def test_comparisons_with_guidance_and_targets(sentence, guidance):
    from connectors.earnings.extraction import is_guidance

    assert is_guidance(sentence) is guidance


def test_free_cash_flow_from_operations():
    assert _figures("Our free cash flow from operations was negative $28 million.") == [
        ("free_cash_flow", -28.0, "USD", 1e6)
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("During the second quarter, we paid a $0.27 per share quarterly dividend.", ("dividend", 0.27)),
        ("On an adjusted basis, earnings per share was $0.44 per share.", ("adjusted_eps", 0.44)),
        (
            "Earnings per share were solid, with fourth-quarter adjusted earnings of $1.68.",
            ("adjusted_eps", 1.68),
        ),
    ],
)
def test_per_share_kind_named_around_the_figure(sentence, expected):
    assert [f[:2] for f in _figures(sentence)] == [expected]


def test_components_included_in_a_metric_are_not_its_level():
    assert _figures("Included in revenues is $3.7 million of management fees.") == []


def test_comparison_figure_far_after_versus():
    from connectors.earnings.periods import period_of

    sentence = "Adjusted EPS for the quarter was $1.48 compared to adjusted earnings per share of $1.25 in the prior year."
    assert period_of(sentence, "Q2 2021", "2021", False, sentence.index("$1.25")) == "Q2 2020"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Revenue was EUR 3.4 billion in the quarter.", [("revenue", 3.4, "EUR", 1e9)]),
        ("Net income was GBP 30 million in the quarter.", [("net_income", 30.0, "GBP", 1e6)]),
        ("Revenue was C$1.2 billion in the quarter.", [("revenue", 1.2, "CAD", 1e9)]),
        (
            "Revenue was A$2.3 billion, or US$1.6 billion.",
            [("revenue", 2.3, "AUD", 1e9), ("revenue", 1.6, "USD", 1e9)],
        ),
        ("Revenue was CHF1.2 billion.", [("revenue", 1.2, "CHF", 1e9)]),
        ("Revenue was 3.4 billion euros.", [("revenue", 3.4, "EUR", 1e9)]),
        ("Revenue was 250 million Canadian dollars.", [("revenue", 250.0, "CAD", 1e6)]),
        ("Diluted earnings per share were €0.45 per share.", [("eps", 0.45, "EUR_per_share", 1.0)]),
        ("Adjusted EPS was £1.10.", [("adjusted_eps", 1.1, "GBP_per_share", 1.0)]),
        (
            "We expect adjusted earnings per share of €4.80 to €4.90 per share.",
            [("adjusted_eps", 4.85, "EUR_per_share", 1.0)],
        ),
        (
            "Revenue was €3.4 billion and net income was 300 million.",
            [("revenue", 3.4, "EUR", 1e9), ("net_income", 300.0, "EUR", 1e6)],
        ),
        (
            "Revenue was $3.4 billion and EPS was $0.45.",
            [("revenue", 3.4, "USD", 1e9), ("eps", 0.45, "USD_per_share", 1.0)],
        ),
    ],
)
def test_amounts_in_other_currencies_keep_their_currency(sentence, expected):
    assert _figures(sentence) == expected


def test_amounts_written_in_dollars():
    assert _figures(
        "Revenue was 1.2 billion dollars, and earnings per share were 2.10 dollars per share."
    ) == [
        ("revenue", 1.2, "USD", 1e9),
        ("eps", 2.1, "USD_per_share", 1.0),
    ]


def test_sizes_of_changes_and_effects_are_not_levels():
    assert _figures("Polymer operating income increased $7.5 million or 48%.") == [
        ("operating_income_growth", 48.0, "percent", 1.0)
    ]
    assert _figures("Foreign currency translation positively impacted net sales by 5%.") == []


def test_a_guide_is_guidance():
    from connectors.earnings.extraction import is_guidance

    assert is_guidance("Our Q3 adjusted earnings per share guide is $4.54.")


def test_strict_recall_counts_unnamed_metrics_as_missed():
    from connectors.evaluation import score_earnings

    labels = [
        {
            "document_id": "ACME_q2_2020",
            "bullets": [
                "q2 revenue $186 million.",
                "recognized a $46 million forward charge in the quarter.",
            ],
        }
    ]
    metrics = [
        {"metric": "revenue", "value": 185.9, "scale": 1e6, "period": "Q2 2020"},
        {"metric": "special_charges", "value": 46.0, "scale": 1e6, "period": "Q2 2020"},
    ]
    text = "Revenue was $185.9 million. We recognized a $46 million forward charge."
    scores = score_earnings(
        {"ACME_q2_2020": {"summary": [], "metrics": metrics}}, labels, {"ACME_q2_2020": text}
    )
    assert scores["reference_numbers_in_call"] == 2
    assert scores["numeric_fact_recall"] == 1.0
    assert scores["numeric_fact_recall_strict"] == 0.5


def _figures_with_changes(sentence: str) -> list[tuple]:
    from connectors.earnings.extraction import extract_figures

    return [
        (f.metric, f.value, f.unit, f.change and (f.change.get("value"), f.change.get("unit")))
        for f in extract_figures(sentence, 0)
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Gross margin expanded 50 basis points to 42.1%.",
            [("gross_margin", 42.1, "percent", (50.0, "basis_points"))],
        ),
        (
            "Gross margin expanded 80 basis points to 35.2%. Operating margin decreased 40 basis points to 9.1%.",
            [
                ("gross_margin", 35.2, "percent", (80.0, "basis_points")),
                ("operating_margin", 9.1, "percent", (-40.0, "basis_points")),
            ],
        ),
        ("Gross margin expanded 50 basis points.", [("gross_margin_growth", 50.0, "basis_points", None)]),
        (
            "Gross margin was 42.1%, up 50 basis points year-over-year.",
            [("gross_margin", 42.1, "percent", (50.0, "basis_points"))],
        ),
        (
            "Gross margin was 38.2%, an increase of 150 basis points.",
            [("gross_margin", 38.2, "percent", (150.0, "basis_points"))],
        ),
        (
            "Operating margin rose to 11.4%, a 640 basis point increase over the prior year.",
            [("operating_margin", 11.4, "percent", (640.0, "basis_points"))],
        ),
        (
            "Segment margin was 9.5%, a 30 basis point decline.",
            [("operating_margin", 9.5, "percent", (-30.0, "basis_points"))],
        ),
        (
            "We expect an operating margin of 4.5% on revenue of $31.5 billion, a 30 basis point expansion.",
            [
                ("operating_margin", 4.5, "percent", (30.0, "basis_points")),
                ("revenue", 31.5, "USD", None),
            ],
        ),
        (
            "Operating margin was down 120 bps.",
            [("operating_margin_growth", -120.0, "basis_points", None)],
        ),
        (
            "Adjusted EBITDA margin of 18.5% contracted 1.2 percentage points.",
            [("adjusted_ebitda_margin", 18.5, "percent", (-1.2, "percentage_points"))],
        ),
    ],
)
def test_margin_changes_in_points_are_changes_never_levels(sentence, expected):
    assert _figures_with_changes(sentence) == expected


def test_margin_range_in_basis_points_is_a_change_with_its_unit():
    result = run_connector(
        "earnings",
        [Document("ACME_q4_2021", "We expect operating margin to expand 50 to 100 basis points in 2022.")],
    )
    [figure] = result["metrics"]
    assert figure["metric"] == "operating_margin_growth"
    assert figure["change"] == {"low": 50.0, "high": 100.0, "unit": "basis_points", "versus": "year_ago"}


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("We reported a net loss of $4.45 per share.", [("eps", -4.45, "USD_per_share", 1.0)]),
        ("Loss per share of $0.26.", [("eps", -0.26, "USD_per_share", 1.0)]),
        ("Q2 adjusted loss per share was $0.31.", [("adjusted_eps", -0.31, "USD_per_share", 1.0)]),
        (
            "Operating loss of $12 million compared to operating income of $3 million last year.",
            [("operating_income", -12.0, "USD", 1e6), ("operating_income", 3.0, "USD", 1e6)],
        ),
        (
            "Net loss was $45.2 million, or $0.33 per share.",
            [("net_income", -45.2, "USD", 1e6), ("eps", -0.33, "USD_per_share", 1.0)],
        ),
        ("We had a $12 million operating loss in the quarter.", [("operating_income", -12.0, "USD", 1e6)]),
        (
            "Net income was $38.6 million compared to a loss of $5.1 million a year ago.",
            [("net_income", 38.6, "USD", 1e6), ("net_income", -5.1, "USD", 1e6)],
        ),
        (
            "Net loss narrowed to $5.2 million from $8.4 million.",
            [("net_income", -5.2, "USD", 1e6), ("net_income", -8.4, "USD", 1e6)],
        ),
        (
            "Net loss was $3 million and adjusted EBITDA was $7 million.",
            [("net_income", -3.0, "USD", 1e6), ("adjusted_ebitda", 7.0, "USD", 1e6)],
        ),
        ("We recognized a $46 million forward loss on the program.", [("special_charges", 46.0, "USD", 1e6)]),
        ("Catastrophe losses were $29 million pre-tax.", [("catastrophe_losses", 29.0, "USD", 1e6)]),
    ],
)
def test_losses_are_negative_values_of_the_income_metric(sentence, expected):
    assert _figures(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Revenue was $1.2 billion ($1.0 billion last year).",
            [("revenue", 1.2, "USD", 1e9), ("revenue", 1.0, "USD", 1e9)],
        ),
        (
            "Adjusted EBITDA was $310 million ($280 million).",
            [("adjusted_ebitda", 310.0, "USD", 1e6), ("adjusted_ebitda", 280.0, "USD", 1e6)],
        ),
        ("Diluted EPS was $(0.12) per share.", [("eps", -0.12, "USD_per_share", 1.0)]),
        ("Diluted EPS was ($0.12).", [("eps", -0.12, "USD_per_share", 1.0)]),
        ("Operating income was $(15) million.", [("operating_income", -15.0, "USD", 1e6)]),
        ("Net income was (12.5) million.", [("net_income", -12.5, "USD", 1e6)]),
        ("Operating margin was (1.3)%.", [("operating_margin", -1.3, "percent", 1.0)]),
    ],
)
def test_a_number_is_negative_only_in_brackets_that_close_right_after_it(sentence, expected):
    assert _figures(sentence) == expected


def test_a_loss_on_an_item_is_not_a_negative_result():
    for sentence in (
        "Net income of $5 million included a loss on the sale of $2 million.",
        "Net income included $172 million of capital losses compared to $74 million of capital gains last year.",
    ):
        figures = _figures(sentence)
        assert figures and all(value > 0 for _, value, _, _ in figures)


def test_a_loss_range_is_negative_from_low_to_high():
    from connectors.earnings.extraction import extract_figures

    [figure] = extract_figures("We expect a net loss of $10 million to $12 million.", 0)
    assert (figure.metric, figure.value, figure.low, figure.high) == ("net_income", -11.0, -12.0, -10.0)


def test_scorer_matches_a_loss_on_its_absolute_value():
    from connectors.evaluation import fact_found, reference_facts

    [fact] = reference_facts(["q2 loss per share $1.30."], "ACME_q2_2021")
    assert fact_found(fact, [{"metric": "eps", "value": -1.3, "scale": 1.0, "period": "Q2 2021"}])


@pytest.mark.parametrize(
    ("sentence", "period"),
    [
        ("In the first half of 2021 revenue was $2.1 billion.", "H1 2021"),
        ("For the first six months, revenue was $2.1 billion.", "H1 2021"),
        ("Revenue for the first half was $2.1 billion.", "H1 2021"),
        ("H1 2020 revenue was $2.1 billion.", "H1 2020"),
        ("In the back half of 2021 revenue was $2.1 billion.", "H2 2021"),
        ("In the second half of June revenue was $2.1 billion.", "Q2 2021"),
        ("In the third quarter revenue was $2.1 billion.", "Q3 2021"),
    ],
)
def test_half_year_figures_take_a_half_year_period(sentence, period):
    from connectors.earnings.periods import period_of

    assert period_of(sentence, "Q2 2021", "2021", False, sentence.index("$2.1")) == period
    assert period_of(sentence, "Q2 2021", "2021", False) == period


def test_fiscal_year_written_short_before_its_quarter():
    from connectors.earnings.periods import period_of

    sentence = "Gross margin for the fiscal '22 first quarter decreased 270 basis points."
    assert period_of(sentence, "Q1 2022", "2022", False, sentence.index("270")) == "Q1 2022"


def test_a_quarter_named_after_a_half_is_the_period():
    from connectors.earnings.periods import period_of

    sentence = "Looking at the first half of 2021, second quarter revenue was $1.1 billion."
    assert period_of(sentence, "Q2 2021", "2021", False, sentence.index("$1.1")) == "Q2 2021"


def test_half_year_periods_compare_and_carry_through_guidance():
    from connectors.earnings.periods import is_after, period_of, previous_period

    assert previous_period("H1 2021", quarter=False) == "H1 2020"
    assert is_after("H2 2021", "Q2 2021", "2021") and not is_after("H1 2021", "Q2 2021", "2021")
    assert period_of("In the first half, we expect revenue of $2 billion.", "Q4 2021", "2021", True, 40) == (
        "H1 2022"
    )
    text = (
        "For the second half of 2021, we expect revenue growth of 8%.\n"
        "We expect adjusted EBITDA of $400 million."
    )
    metrics = run_connector("earnings", [Document("ACME_q2_2021", text)])["metrics"]
    assert [(m["metric"], m["period"]) for m in metrics] == [
        ("revenue_growth", "H2 2021"),
        ("adjusted_ebitda", "H2 2021"),
    ]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "We now expect 2021 earnings to be in the range of $4.80 to $4.90 per diluted share.",
            [("eps", 4.8, 4.9, "USD_per_share")],
        ),
        (
            "We affirm non-GAAP operating earnings guidance of $3.35 to $3.55 per share.",
            [("adjusted_eps", 3.35, 3.55, "USD_per_share")],
        ),
        ("We expect free cash flow of 950 million to 1.15 billion.", [("free_cash_flow", 0.95, 1.15, "USD")]),
        ("Revenue increased from $17.4 million to $104.1 million.", []),
        ("We expect operating income of $80 million and $320.2 million of revenue.", []),
        ("Net sales orders decreased 17% to 17,952 homes.", []),
        ("We expect revenue growth of 3 to 5%.", [("revenue_growth", 3.0, 5.0, "percent")]),
    ],
)
def test_ranges(sentence, expected):
    from connectors.earnings.extraction import extract_figures

    found = [(f.metric, f.low, f.high, f.unit) for f in extract_figures(sentence, 0) if f.low is not None]
    assert found == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Diluted earnings per common share of $1.11 compares to $1.45 per diluted share a year ago.",
            [("eps", 1.11, "USD_per_share", 1.0), ("eps", 1.45, "USD_per_share", 1.0)],
        ),
        (
            "Net revenues, net income and earnings per share were $507.1 million, $56.4 million, and $1.35, "
            "respectively.",
            [
                ("revenue", 507.1, "USD", 1e6),
                ("net_income", 56.4, "USD", 1e6),
                ("eps", 1.35, "USD_per_share", 1.0),
            ],
        ),
        ("Total sales were 4.8 billion, up 10%.", [("revenue", 4.8, "USD", 1e9)]),
        (
            "Our board has authorized a $250 million common stock repurchase program.",
            [("share_repurchase", 250.0, "USD", 1e6)],
        ),
        ("We announced a new $1.2 billion share buyback program.", [("share_repurchase", 1.2, "USD", 1e9)]),
        ("Total attendance was 8.5 million guests.", []),
        ("Our total revenue growth in the quarter was 2.6%.", [("revenue_growth", 2.6, "percent", 1.0)]),
        (
            "Adjusting for special items, earnings from ongoing operations were $0.28 per share.",
            [("adjusted_eps", 0.28, "USD_per_share", 1.0)],
        ),
    ],
)
def test_levels_lists_and_adjusted_earnings(sentence, expected):
    assert _figures(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "The company closed the quarter with sales of $2.377 billion and GAAP and adjusted diluted earnings "
            "per share of $0.53 and $0.52, respectively.",
            [("revenue", 2.377), ("eps", 0.53), ("adjusted_eps", 0.52)],
        ),
        (
            "Our diluted and adjusted diluted earnings per share was $1.54 and $1.59, respectively.",
            [("eps", 1.54), ("adjusted_eps", 1.59)],
        ),
        (
            "GAAP and adjusted operating income were $476 million and $532 million, respectively.",
            [("operating_income", 476.0), ("adjusted_operating_income", 532.0)],
        ),
        (
            "Our guidance for adjusted and GAAP earnings per share range from $0.25 to $0.30 and $0.24 to $0.29, "
            "respectively.",
            [("adjusted_eps", 0.275), ("eps", 0.265)],
        ),
        (
            "Revenue and net income were $10 million and $2 million, compared with $8 million and $1 million, "
            "respectively.",
            [("revenue", 10.0), ("net_income", 2.0), ("revenue", 8.0), ("net_income", 1.0)],
        ),
    ],
)
def test_a_respectively_list_gives_each_reading_of_a_metric_its_own(sentence, expected):
    assert [(metric, value) for metric, value, *_ in _figures(sentence)] == expected


@pytest.mark.parametrize(
    ("sentence", "quote", "period"),
    [
        ("We are confirming our 2022 earnings guidance of $1.96 to $2.16 per share.", "$1.96", "FY2022"),
        ("For 2022, we are lowering guidance to a range of $2.03 to $2.23 per share.", "$2.03", "FY2022"),
        (
            "We estimate fourth quarter adjusted earnings of $1.50 to $1.55 per share, and full-year adjusted "
            "earnings of $7.50 to $7.55 per share.",
            "$7.50",
            "FY2021",
        ),
        ("We expect adjusted earnings per share in 2Q '21 to be $1.60 to $1.70.", "$1.60", "Q2 2021"),
    ],
)
def test_guidance_periods(sentence, quote, period):
    from connectors.earnings.periods import period_of

    assert period_of(sentence, "Q1 2021", "2021", True, sentence.index(quote)) == period


def test_a_quarters_forecast_carries_into_ranges_without_a_forecast_word():
    text = (
        "So we're providing only Q1 guidance at this time.\n"
        "This includes consolidated revenues of $642 million to $670 million.\n"
        "Non-GAAP earnings per share is expected to be in the range of $2.66 to $2.86.\n"
    )
    metrics = run_connector("earnings", [Document("ACME_q4_2020", text)])["metrics"]
    assert [(m["metric"], m["period"]) for m in metrics] == [
        ("revenue", "Q1 2021"),
        ("adjusted_eps", "Q1 2021"),
    ]


def test_a_range_of_a_change_is_a_forecast_unless_stated_as_past():
    text = (
        "Our teams give us confidence in achieving sales growth of 7% to 12%.\n"
        "Sales grew 8% to 10% across our segments in the quarter.\n"
    )
    metrics = run_connector("earnings", [Document("ACME_q3_2021", text)])["metrics"]
    assert [(m["metric"], m["kind"], m["period"]) for m in metrics] == [
        ("revenue_growth", "guidance", "FY2021"),
        ("revenue_growth", "actual", "Q3 2021"),
    ]


def test_a_period_named_in_passing_does_not_carry():
    text = (
        "GAAP earnings per share for the year is now expected to be in a range of $2.06 to $2.16, including a "
        "benefit that occurred early in the second quarter of 2021.\n"
        "Adjusted EPS, which excludes those items, is expected to be in a range of $2 to $2.10.\n"
        "Our previously disclosed terminations and runoffs wind down in the first half of the year, as we expect.\n"
        "This translates into revenue of $16.6 billion to $16.8 billion.\n"
    )
    metrics = run_connector("earnings", [Document("ACME_q1_2021", text)])["metrics"]
    assert [(m["metric"], m["period"]) for m in metrics] == [
        ("eps", "FY2021"),
        ("adjusted_eps", "FY2021"),
        ("revenue", "FY2021"),
    ]


@pytest.mark.parametrize(
    ("sentence", "quote", "period"),
    [
        (
            "For the quarter, we reported GAAP diluted earnings per share of $0.69, lower than our GAAP diluted "
            "earnings per share of $1.16 in the third quarter of 2020.",
            "$0.69",
            "Q3 2021",
        ),
        (
            "We reported a net loss of $59.4 million for the quarter or a loss of $1.10 per share, and net income "
            "of $1 million for the year.",
            "$1.10",
            "Q3 2021",
        ),
    ],
)
def test_the_calls_quarter_named_without_a_number(sentence, quote, period):
    from connectors.earnings.periods import period_of

    assert period_of(sentence, "Q3 2021", "2021", False, sentence.index(quote)) == period


def test_a_quarter_named_before_a_figure_takes_the_fiscal_year_named_after_it():
    from connectors.earnings.periods import period_of

    sentence = (
        "First quarter sales are expected to increase from $160 million in fiscal 2020 to a range of $220 million "
        "to $240 million in fiscal 2021."
    )
    assert period_of(sentence, "Q4 2020", "2020", True, sentence.index("$220")) == "Q1 2021"
    assert period_of(sentence, "Q4 2020", "2020", True, sentence.index("$160")) == "Q1 2020"


def test_range_from_and_a_year_named_before_a_half():
    from connectors.earnings.extraction import extract_figures
    from connectors.earnings.periods import period_of

    sentence = "And after considering all capex, our full year free cash flow should range from $30 million to $50 million."
    assert [(f.metric, f.low, f.high) for f in extract_figures(sentence, 0)] == [
        ("free_cash_flow", 30.0, 50.0)
    ]
    sentence = (
        "We have $3.9 billion remaining under our current authorization and expect to complete this amount in "
        "2022, weighted more toward the first half of this year."
    )
    assert period_of(sentence, "Q4 2021", "2021", True, sentence.index("$3.9")) == "FY2022"


@pytest.mark.parametrize(
    ("sentence", "metric"),
    [
        ("We now see full-year organic revenue growth in the range of 5% to 7%.", "revenue_growth"),
        ("Organic growth was 11% in the quarter.", "revenue_growth"),
        ("Comparable store sales increased 4.2%.", "same_store_sales_growth"),
    ],
)
def test_organic_growth_is_revenue_growth_not_same_store_sales(sentence, metric):
    from connectors.earnings.extraction import extract_figures

    assert [f.metric for f in extract_figures(sentence, 0)] == [metric]


def test_metric_named_after_a_figure_with_for():
    from connectors.earnings.extraction import extract_figures

    sentence = (
        "We shared our full year guidance, reaffirming our ranges of $4.4 billion to $4.6 billion of revenue, "
        "$2.80 to $3.20 for adjusted earnings per share."
    )
    assert [(f.metric, f.low) for f in extract_figures(sentence, 0)] == [
        ("revenue", 4.4),
        ("adjusted_eps", 2.8),
    ]


@pytest.mark.parametrize(
    ("sentence", "mention"),
    [
        ("For the first quarter, we expect revenue of $1 billion.", "first quarter"),
        (
            "These transactions will result in Q2 charges of $25 million, which were not previously included in "
            "our 2021 financial outlook.",
            "2021",
        ),
        ("Our previously disclosed terminations and runoffs wind down in the first half of FY '22.", None),
        ("And then when we reinstated guidance with our second quarter earnings announcement.", None),
    ],
)
def test_the_period_a_sentence_sets_for_the_forecasts_after_it(sentence, mention):
    from connectors.earnings.periods import carried_mention

    assert carried_mention(sentence, True) == mention


def test_a_forecast_compared_with_a_dated_quarter_speaks_of_that_quarter_a_year_on():
    from connectors.earnings.periods import period_of

    sentence = "Total subscription revenues are expected to increase approximately 12% compared with the fourth quarter of 2020."
    assert period_of(sentence, "Q3 2021", "2021", True, sentence.index("12%")) == "Q4 2021"
    sentence = "Revenues are expected to increase approximately 12% compared with the fourth quarter."
    assert period_of(sentence, "Q3 2021", "2021", True, sentence.index("12%")) == "FY2021"


def test_the_call_period_comes_from_a_name_that_gives_it_else_from_the_text():
    from connectors.earnings.periods import call_period

    text = (
        "Second quarter 2021 revenue rose 12% from the second quarter of 2020. In the first quarter we said more. "
        "Our second quarter margin was 31%, and Q2 2021 cash flow was strong."
    )
    assert call_period(text, document_id="doc_1", filename="ACME_q3_2021.txt") == (
        "Q3 2021",
        "2021",
        "filename",
    )
    assert call_period(text, document_id="doc_1", filename="transcript.txt") == ("Q2 2021", "2021", "text")
    assert call_period(
        "In the third quarter sales grew; for 2022 we see more, as 2022 and 2021 showed.", document_id="doc_1"
    ) == (None, "2022", "text")
    assert call_period(
        "Q4 46.5% of sales came online in the fourth quarter of 2021, a record for 2021.", document_id="doc_1"
    ) == ("Q4 2021", "2021", "text")
    assert call_period("Thank you all for joining.", stated="Q1 2020") == ("Q1 2020", "2020", "stated")
    assert call_period("Thank you all for joining.", document_id="doc_1") == (None, None, None)


def test_a_transcript_uploaded_under_a_file_name_gets_its_period_from_the_name():
    text = "Revenue was $3.1 billion in the quarter, up 12% from a year ago."
    named = Document("doc_7", text, metadata={"filename": "ACME_q3_2021.txt"})
    assert run_connector("earnings", [named])["period"] == {
        "quarter": "Q3 2021",
        "fiscal_year": "2021",
        "source": "filename",
    }
    assert run_connector("earnings", [Document("doc_7", text)])["period"]["quarter"] is None


def test_each_call_reports_where_its_period_was_read_and_a_call_without_one_is_warned_of():
    named = Document("doc_1", "Revenue was $3.1 billion, up 12%.", metadata={"period": "Q1 2022"})
    unnamed = Document("doc_2", "Revenue was $3.3 billion, up 9%.")
    result = run_connector("earnings", [named, unnamed])
    assert result["periods"] == [
        {"document_id": "doc_1", "quarter": "Q1 2022", "fiscal_year": "2022", "source": "stated"},
        {"document_id": "doc_2", "quarter": None, "fiscal_year": None, "source": None},
    ]
    warned = [w for w in result["warnings"] if "call's quarter was found neither" in w]
    assert len(warned) == 1 and "'doc_2'" in warned[0] and '"period"' in warned[0]


def test_a_quarter_cited_only_as_a_comparison_base_is_a_year_before_the_call():
    from connectors.earnings.periods import call_period

    text = "Second quarter revenue grew 9% compared to the second quarter of 2020. Our second quarter was strong."
    assert call_period(text, document_id="doc_1") == ("Q2 2021", "2021", "text")


def test_the_call_period_comes_from_a_year_first_name_or_the_transcript_title():
    from connectors.earnings.periods import call_period

    assert call_period("", document_id="doc_1", filename="acme-2021-Q3.pdf") == (
        "Q3 2021",
        "2021",
        "filename",
    )
    title = "Acme Corp (ACME) Q2 2022 Earnings Call Transcript\nRevenue grew compared to the second quarter of 2021."
    assert call_period(title, document_id="doc_1", filename="transcript.pdf") == ("Q2 2022", "2022", "title")
    heading = "Second Quarter 2021 Results Conference Call\nOperator: Good morning."
    assert call_period(heading, document_id="doc_1") == ("Q2 2021", "2021", "title")
    body = "Second quarter sales rose compared to Q2 2020 results. Our second quarter of 2021 was strong."
    assert call_period(body, document_id="doc_1") == ("Q2 2021", "2021", "text")


def test_a_share_after_a_quarter_is_not_its_year():
    from connectors.earnings.periods import period_of

    assert (
        period_of("In Q4 46.5% of our sales came from online channels.", "Q4 2021", "2021", False)
        == "Q4 2021"
    )
    assert period_of("Q3 21 revenue grew.", "Q4 2021", "2021", False) == "Q3 2021"


def test_a_period_its_uploader_stated_comes_first():
    text = "Revenue was $3.1 billion in the quarter, up 12% from a year ago."
    stated = Document("doc_7", text, metadata={"period": "Q1 2022", "filename": "ACME_q3_2021.txt"})
    assert run_connector("earnings", [stated])["period"] == {
        "quarter": "Q1 2022",
        "fiscal_year": "2022",
        "source": "stated",
    }
    unrelated = Document("doc_7", text, metadata={"period": "audit", "filename": "ACME_q3_2021.txt"})
    assert run_connector("earnings", [unrelated])["period"]["quarter"] == "Q3 2021"


def test_a_figure_compared_with_the_year_before_by_its_year_alone_is_the_fiscal_years_on_a_fourth_quarter_call():
    from connectors.earnings.periods import period_of

    sentence = "GAAP-based diluted earnings per common share were $13.80 compared with $9.94 in 2020, up 39%."
    figure = sentence.index("13.80")
    assert period_of(sentence, "Q4 2021", "2021", False, figure) == "FY2021"
    assert period_of(sentence, "Q2 2021", "2021", False, figure) == "Q2 2021"
    quarter = "Revenue was $3.2 billion compared with $2.9 billion in the fourth quarter of 2020."
    assert period_of(quarter, "Q4 2021", "2021", False, quarter.index("3.2")) == "Q4 2021"


def test_a_summary_bullet_whose_spans_are_all_lost_is_dropped_and_counted(call, transcript_text):
    texts = {"ACME_q3_2021": transcript_text}
    *kept, last = call["summary"]
    assert len(last["spans"]) == 2
    lose(last["spans"])
    report = stored("earnings", call, texts)
    assert [bullet["text"] for bullet in report.output["summary"]] == [bullet["text"] for bullet in kept]
    assert report.dropped >= 1 and "finding(s) dropped" in report.output["warnings"][-1]


def test_a_headline_whose_span_is_lost_goes_without_the_bullet_it_restates(call, transcript_text):
    headline, *rest = call["summary"]
    assert headline["text"].startswith("qtrly") and rest[0]["spans"] == headline["spans"]
    lose(headline["spans"])
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert report.output["summary"] == rest and report.dropped == 1


def test_a_section_tone_whose_evidence_is_all_lost_is_dropped_and_one_that_never_had_any_kept(
    call, transcript_text
):
    prepared, quiet = call["tone"]
    assert prepared["evidence"] and quiet["evidence"] == [] and not any(quiet["counts"].values())
    lose(prepared["evidence"])
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert report.output["tone"] == [quiet]
    assert "1 more finding(s) dropped" in report.output["warnings"][-1]


def test_a_question_whose_answers_are_all_lost_is_dropped(call, transcript_text):
    first, second = call["qa"]
    assert first["answered"] and second["answered"]
    lose([answer["span"] for answer in first["answers"]])
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert [pair["question"] for pair in report.output["qa"]] == [second["question"]]
    assert "1 more finding(s) dropped" in report.output["warnings"][-1]


def test_a_question_nobody_answered_keeps_its_place(call, transcript_text):
    call["qa"][0]["answers"], call["qa"][0]["answered"] = [], False
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert len(report.output["qa"]) == 2 and not report.output.get("warnings")


def test_a_summary_bullet_that_lost_the_span_of_a_number_it_states_is_dropped(call, transcript_text):
    *kept, revenue = call["summary"]
    assert revenue["text"] == "q3 revenue rose 12 percent to $1.2 billion."
    lose([span for span in revenue["spans"] if span["quote"] == "12%"])
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert [bullet["text"] for bullet in report.output["summary"]] == [bullet["text"] for bullet in kept]
    assert "1 more finding(s) dropped" in report.output["warnings"][-1]


def test_a_summary_bullet_that_lost_a_span_stating_none_of_its_numbers_is_kept(call, transcript_text):
    headline = call["summary"][0]
    sentence = next(m["sentence"] for m in call["metrics"] if m["span"]["quote"] == "$0.83")
    headline["spans"] = [*headline["spans"], dict(sentence)]
    lose(headline["spans"][-1:])
    report = stored("earnings", call, {"ACME_q3_2021": transcript_text})
    assert report.output["summary"][0]["text"] == headline["text"]
    assert len(report.output["summary"]) == len(call["summary"])
    assert "more finding(s) dropped" not in report.output["warnings"][-1]


@pytest.mark.parametrize(
    "sentence",
    [
        "Given our strong first half, we are raising our full-year 2024 revenue guidance to $10.5 billion to "
        "$10.7 billion, up from our previous guidance of $10.2 billion to $10.4 billion.",
        "We are raising our 2024 revenue outlook to $10.5 billion to $10.7 billion, from our prior range of "
        "$10.2 billion to $10.4 billion.",
        "We now expect 2024 revenue of $10.5 billion to $10.7 billion, compared to our original guidance of "
        "$10.3 billion.",
    ],
)
def test_the_guidance_a_call_replaces_is_no_figure_and_the_new_range_is_the_guidance(sentence):
    from connectors.earnings.extraction import extract_figures

    assert [(f.metric, f.low, f.high) for f in extract_figures(sentence, 0)] == [("revenue", 10.5, 10.7)]
    text = f"Orbit Q2 2024 Earnings Call\n\nPrepared Remarks:\n\nLinda Chen -- CFO: {sentence}"
    result = run_connector("earnings", [Document("orbit_q2_2024.txt", text)])
    assert [(m["metric"], m["kind"], m["low"], m["high"]) for m in result["metrics"]] == [
        ("revenue", "guidance", 10.5, 10.7)
    ]
    assert "$10.2 billion" not in " ".join(s["text"] for s in result["summary"])
    grid = run_connector(
        "review", [Document("orbit_q2_2024.txt", text)], options={"template": "earnings_kpis"}
    )
    assert grid["rows"][0]["cells"]["guidance_revenue"]["value"] == "$10.5 billion to $10.7 billion"
