import ast
from pathlib import Path

import connectors.bullet_facts as bullet_facts
from connectors.bullet_facts import bullet_period, parse_bullets


def _facts(bullet: str, call: str = "ACME_q3_2021") -> list[tuple]:
    return [(f.value, f.scale, f.metric, f.period) for f in parse_bullets([bullet], call)]


def test_the_scorer_parser_imports_nothing_from_the_connector():
    tree = ast.parse(Path(bullet_facts.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not any(name and name.startswith("connectors") for name in imported)


def test_a_percent_change_keeps_its_own_scale_and_a_range_shares_one():
    assert _facts("q3 sales rose 19.2 percent to $1.55 billion.") == [
        (19.2, 1.0, "revenue", "Q3 2021"),
        (1.55, 1e9, "revenue", "Q3 2021"),
    ]
    assert _facts("sees q4 sales $1.51 to $1.56 billion.") == [
        (1.51, 1e9, "revenue", "Q4 2021"),
        (1.56, 1e9, "revenue", "Q4 2021"),
    ]


def test_per_share_figures_labels_dates_and_year_ago_figures():
    assert _facts("compname posts q3 2021 net income of $262 mln, $1.90 per share.") == [
        (262.0, 1e6, "net_income", "Q3 2021"),
        (1.9, 1.0, "eps", "Q3 2021"),
    ]
    assert _facts("travelers - qtrly core earnings per share $4.91; qtrly earnings per share $5.10.") == [
        (4.91, 1.0, "adjusted_eps", "Q3 2021"),
        (5.1, 1.0, "eps", "Q3 2021"),
    ]
    assert _facts("qtrly tier 1 ratio of 10.79% at september 30 versus 10.84%.") == [
        (1.0, 1.0, None, "Q3 2021"),
        (10.79, 1.0, None, "Q3 2021"),
        (10.84, 1.0, None, "Q3 2020"),
    ]
    assert _facts("q2 adjusted earnings per share 52 cents.", "ACME_q2_2021") == [
        (0.52, 1.0, "adjusted_eps", "Q2 2021")
    ]


def test_guidance_periods():
    assert bullet_period("sees fy earnings per share $2.45 to $2.50.", 3, 2021) == "FY2021"
    assert bullet_period("sees fy sales of $6 billion.", 4, 2021) == "FY2022"
    assert bullet_period("sees q1 revenue of $6 billion.", 4, 2021) == "Q1 2022"
    assert bullet_period("2021 capital expenditures are estimated to be $55 million.", 2, 2021) == "FY2021"
    assert bullet_period("as of august 1, 2020 about 95% of stores were open.", 2, 2021) == "Q2 2021"
    assert bullet_period("backlog ending march 2020 was about $1.0 billion.", 1, 2020) == "Q1 2020"
    assert bullet_period("q4 adjusted earnings per share $0.44.", 1, 2021) == "Q4 2020"
