from pathlib import Path

import pytest

from connectors.earnings.extraction import extract_figures
from connectors.earnings.periods import period_of


def _metrics(sentence: str) -> list[tuple[str, float]]:
    return [(figure.metric, figure.value) for figure in extract_figures(sentence, 0)]


@pytest.mark.parametrize(
    "sentence",
    [
        "We expect adjusted net earnings per diluted share to be in the range of $3.40 to $3.50.",
        "We are initiating third quarter adjusted diluted net earnings per share guidance of $3.40 to $3.50.",
        "We expect full year non-GAAP diluted net earnings per share to be in the range of $3.40 to $3.50.",
    ],
)
def test_adjusted_eps_is_read_with_words_between_adjusted_and_earnings_per_share(sentence):
    assert _metrics(sentence) == [("adjusted_eps", 3.45)]


def test_an_adjusted_basis_named_after_a_figure_makes_it_adjusted_eps():
    assert _metrics("Diluted earnings per share were $0.97, or $0.94 adjusted.") == [
        ("eps", 0.97),
        ("adjusted_eps", 0.94),
    ]
    assert _metrics(
        "This resulted in earnings per share of $0.76 per diluted share, or $0.80 on an adjusted basis."
    ) == [
        ("eps", 0.76),
        ("adjusted_eps", 0.80),
    ]
    assert _metrics(
        "Guidance for earnings per share is $1 to $1.10 on a GAAP basis and $1.10 to $1.20 as adjusted."
    ) == [
        ("eps", 1.05),
        ("adjusted_eps", 1.15),
    ]


def test_adjusted_eps_named_after_a_figure_is_not_its_basis():
    assert _metrics(
        "Our second quarter earnings were $0.15 per diluted share, adjusted earnings per diluted share were $0.16."
    ) == [("eps", 0.15), ("adjusted_eps", 0.16)]


def test_an_amount_per_diluted_common_share_is_eps():
    assert _metrics("In the second quarter, we earned $3.5 billion or $7.62 per diluted common share.") == [
        ("net_income", 3.5),
        ("eps", 7.62),
    ]


def test_earnings_named_before_dollars_and_cents_are_eps():
    assert _metrics("Adjusted earnings were $0.65 in the fourth quarter.") == [("adjusted_eps", 0.65)]
    assert _metrics("We delivered earnings of $1.11 in Q2.") == [("eps", 1.11)]


def test_earnings_of_an_amount_in_millions_are_net_income():
    assert _metrics("Earnings were $120 million in the quarter.") == [("net_income", 120.0)]
    assert _metrics("Revenue was $5 billion and adjusted earnings were $300 million.") == [
        ("revenue", 5.0),
        ("adjusted_net_income", 300.0),
    ]
    assert _metrics(
        "In the fourth quarter, Capital One earned 2.4 billion or $5.41 per diluted common share."
    ) == [
        ("net_income", 2.4),
        ("eps", 5.41),
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Net interest income increased $5 million to $227.9 million as loan balances grew.",
        "Net interest income declined by $5 million to $227.9 million.",
    ],
)
def test_a_past_change_and_the_level_it_reached_are_not_a_range(sentence):
    figures = extract_figures(sentence, 0)
    assert [(figure.metric, figure.value, figure.low) for figure in figures] == [
        ("net_interest_income", 227.9, None)
    ]


def test_an_increase_by_an_amount_to_a_level_is_the_level():
    assert _metrics(
        "The board approved an increase to our share repurchase authorization by $100 million to $200 million."
    ) == [("share_repurchase", 200.0)]


def test_a_forecast_change_range_stays_a_range():
    assert _metrics("We expect revenue of $3.0 billion to $3.2 billion.") == [("revenue", 3.1)]
    figures = extract_figures("We expect capital expenditures to increase by $10 million to $20 million.", 0)
    assert [(figure.low, figure.high) for figure in figures] == [(10.0, 20.0)]


def test_a_range_joined_by_and_to_is_read():
    figures = extract_figures(
        "Earnings are expected to be in the range of $6.70 and to $7.40 per diluted share.", 0
    )
    assert [(figure.metric, figure.low, figure.high) for figure in figures] == [("eps", 6.7, 7.4)]


@pytest.mark.parametrize("name", ["AFFO", "FFOM", "core FFO"])
def test_affo_and_ffom_are_ffo(name):
    assert _metrics(f"{name} was $0.48 per share for the fourth quarter.") == [("ffo", 0.48)]


def test_a_change_in_a_metric_named_with_words_before_it_is_its_growth():
    assert _metrics("This was partially offset by a 7% decline in new vehicle revenue.") == [
        ("revenue_growth", -7.0)
    ]
    assert _metrics("It resulted in a 74% year-over-year increase in our quarter-end backlog value.") == [
        ("backlog_growth", 74.0)
    ]


def test_a_count_named_after_total_or_paid_is_read():
    assert _metrics("Hulu ended the first quarter with 45.3 million paid subscribers.") == [
        ("subscribers", 45.3)
    ]
    assert _metrics("Our streaming services ended Q1 with 196.4 million total subscriptions.") == [
        ("subscribers", 196.4)
    ]


@pytest.mark.parametrize(
    ("sentence", "value"),
    [
        ("Net production, excluding Libya, was 265,000 boepd in the third quarter.", 265000.0),
        ("Production averaged 155 thousand barrels of oil equivalent per day.", 155.0),
        ("Sales volumes for the second quarter were 495 Bcfe, at the high end of our range.", 495.0),
        ("We signed 1.2 million square feet of leases.", 1.2),
    ],
)
def test_a_number_with_a_unit_of_volume_is_a_volume(sentence, value):
    assert _metrics(sentence) == [("volume", value)]


def test_a_number_of_pounds_is_not_a_volume():
    assert _metrics("Our copper sales of 929 million pounds were above the year-ago quarter.") == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Our guidance range of $1.03 to $1.13 for our second fiscal quarter reflects the impact.",
            [("eps", 1.08)],
        ),
        ("Our Q4 guidance includes earnings between $1.68 and $1.78.", [("eps", 1.73)]),
        ("We hold on to our fiscal 2022 earnings outlook of about $3.20.", [("eps", 3.2)]),
        ("Our adjusted guidance range is $3.62 to $3.66.", [("adjusted_eps", 3.64)]),
        ("Our guidance assumes oil prices of $60 to $70 per barrel.", []),
        ("Our guidance includes capital spending of $5 to $6.", [("capex", 5.5)]),
    ],
)
def test_dollars_and_cents_forecast_under_no_metric_are_eps(sentence, expected):
    assert _metrics(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("This is included in our $600 million to $650 million capital budget for 2021.", [("capex", 625.0)]),
        (
            "We expect maintenance capital of $45 million and growth capital expenditures of $150 million.",
            [("capex", 45.0), ("capex", 150.0)],
        ),
        (
            "We entered into a $100 million accelerated share repurchase agreement.",
            [("share_repurchase", 100.0)],
        ),
        ("The board approved $350 million of stock repurchase authorization.", [("share_repurchase", 350.0)]),
    ],
)
def test_capital_budgets_and_stock_repurchases_are_named(sentence, expected):
    assert _metrics(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("We are establishing guidance in the range of $3.62 and $3.66.", [("eps", 3.64)]),
        ("Revenue was $5 million and $6 million in the two segments.", [("revenue", 5.0), ("revenue", 6.0)]),
        ("Third-quarter sales of 712 million were up 23% overall.", [("revenue", 712.0)]),
        (
            "The provision for credit loss for the quarter was $22.8 million.",
            [("credit_loss_provision", 22.8)],
        ),
    ],
)
def test_ranges_of_two_amounts_bare_amounts_and_provisions(sentence, expected):
    assert _metrics(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "figure", "call", "expected"),
    [
        (
            "We expect core sales of $3.0 billion to $3.2 billion, compared to $2.5 billion in the first quarter "
            "last year.",
            "$3.0",
            ("Q4 2020", "2020"),
            "Q1 2021",
        ),
        (
            "We expect sales up 14% to 16% compared to the third quarter of last year.",
            "14%",
            ("Q2 2021", "2021"),
            "Q3 2021",
        ),
    ],
)
def test_a_forecast_compared_with_a_quarter_last_year_is_that_quarter_a_year_on(
    sentence, figure, call, expected
):
    assert period_of(sentence, *call, True, sentence.index(figure)) == expected


def test_a_backlog_of_orders_is_backlog():
    assert _metrics("Our backlog of orders ended March at $105.7 million.") == [("backlog", 105.7)]
    assert _metrics("Orders for the quarter totaled $90.5 million.") == [("bookings", 90.5)]


def test_a_metric_named_far_before_its_figure_in_a_long_sentence_is_read():
    sentence = (
        "Based on the above, full-year 2021 adjusted earnings per diluted share, excluding non-cash expense for "
        "stock options, tax benefits from stock option exercises, cost related to litigation and other discrete "
        "items, is estimated to be in the range of $19 to $19.20."
    )
    assert _metrics(sentence) == [("adjusted_eps", 19.1)]


@pytest.mark.parametrize("sign", ["$", "€", "£", "¥", "₹"])
def test_a_percentage_beside_an_amount_of_growth_is_its_change(sign):
    figures = extract_figures(
        f"We generated {sign}106 million of revenue, representing year-over-year growth of {sign}27 million or 34%.",
        0,
    )
    assert [(figure.metric, figure.value) for figure in figures] == [("revenue", 106.0), ("revenue", 27.0)]
    assert figures[1].change is not None and figures[1].change["value"] == 34.0


_CALLS = Path(__file__).parents[2] / "data" / "ectsum" / "calls"


def _slice_scan(window: str, names, unit=None):
    from connectors.earnings.tables import fits_unit

    best = None
    for order, (name, pattern) in enumerate(names):
        if unit is None or fits_unit(name, unit):
            for match in pattern.finditer(window):
                if best is None or (match.end(), -order) > best[:2]:
                    best = (match.end(), -order, name)
    return (best[0], best[2]) if best else None


@pytest.mark.parametrize(
    "sentence",
    [
        "Our wholesales of $1 million " + "and $2 million " * 30 + "were $3 million.",
        "The backlog of orders reached " + "$4 million, " * 30 + "and orders of $5 million.",
        "Revenue " + "$1,234,567 " * 60 + "and net income of $2 million and EBITDA$3 million.",
        (_CALLS / "AEL_q3_2021.txt").read_text("utf-8")[:1500],
    ],
)
def test_the_name_before_a_figure_is_the_one_its_window_holds(sentence):
    from connectors.earnings import extraction
    from connectors.earnings.tables import METRICS, NUMBER

    for figure in NUMBER.finditer(sentence):
        for reach, names in ((240, extraction._METRIC_NAMES), (40, extraction._COUNTED_NAMES)):
            start = max(0, figure.start() - reach)
            for unit in (None, "count"):
                assert extraction._named_last(sentence, start, figure.start(), names, unit) == _slice_scan(
                    sentence[start : figure.start()], names.names, unit
                )
    assert all(
        match.group(0)[0].isalpha() for _, pattern in METRICS for match in pattern.finditer(sentence)
    ), "a metric's name starts with a letter"
