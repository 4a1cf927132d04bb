import pytest

from connectors.earnings.extraction import extract_figures


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


def test_an_amount_per_diluted_common_share_is_eps():
    assert _metrics("In the second quarter, we earned $3.5 billion or $7.62 per diluted common share.") == [
        ("eps", 7.62)
    ]


def test_earnings_named_before_dollars_and_cents_are_eps():
    assert _metrics("Adjusted earnings were $0.65 in the fourth quarter.") == [("adjusted_eps", 0.65)]
    assert _metrics("We delivered earnings of $1.11 in Q2.") == [("eps", 1.11)]
    assert _metrics("Earnings were $120 million in the quarter.") == []
