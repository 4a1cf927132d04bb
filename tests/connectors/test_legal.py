from pathlib import Path

import pytest

from connectors import CONNECTORS, Document, get_connector, run_connector
from connectors.legal.analyzers import Clause, canonical_jurisdiction, normalise_answers
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.spans import invalid_spans

DATA = Path(__file__).resolve().parents[1] / "data" / "cuad"


def answer_of(category: str, clause: str, agreement_date: str | None = None):
    """The answer `normalise_answers` gives for `category` when `clause` is the whole text and its one clause."""
    found = Clause(category, 0, len(clause), 0.8)
    return normalise_answers(clause, [found], [], agreement_date)[category]


def run_legal(text: str, **options):
    return run_connector("legal", [Document("contract", text)], options=options or None)


def test_registry_names_the_connectors():
    assert set(CONNECTORS) == {"legal", "earnings", "literature", "review", "ask"}
    with pytest.raises(ValueError, match="unknown connector"):
        get_connector("tax")


def test_envelope_and_every_category_answered(contract_text):
    result = run_legal(contract_text)
    assert result["connector"] == "legal" and result["version"] == "1" and result["mode"] == "analyzers"
    assert result["context"]["strategy"] == "analyzers"
    assert result["context"]["documents"][0]["calls"] == 0
    assert list(result["answers"]) == list(CUAD_CATEGORIES)
    assert {c["category"] for c in result["clauses"]} <= set(CUAD_CATEGORIES)
    assert invalid_spans(result, {"contract": contract_text}) == []


def test_normalised_answers(contract_text):
    answers = run_legal(contract_text)["answers"]
    assert answers["Governing Law"] == "Delaware"
    assert answers["Agreement Date"] == "2019-03-12"
    assert answers["Effective Date"] == "2019-03-12"
    assert answers["Expiration Date"] == "2024-03-12"
    assert answers["Renewal Term"] == "P1Y"
    assert answers["Notice Period To Terminate Renewal"] == "P90D"
    assert answers["Document Name"] == "DISTRIBUTION AGREEMENT"
    assert "Acme Corp." in answers["Parties"] and "Beta Widgets LLC" in answers["Parties"]
    for category in (
        "Non-Compete",
        "Exclusivity",
        "Audit Rights",
        "Anti-Assignment",
        "Cap On Liability",
        "Insurance",
        "License Grant",
    ):
        assert answers[category] == "Yes", category
    for category in ("Source Code Escrow", "Liquidated Damages", "Joint Ip Ownership"):
        assert answers[category] == "No", category


PREAMBLE = (
    'EXHIBIT 10.7\n\nSUPPLY AGREEMENT\n\nThis Supply Agreement (the "Agreement") is made as of May 1, 2019 by and '
    'between ACME HOLDINGS, INC., a Delaware corporation ("Acme"), and Beta Widgets LLC, with offices at 1 Main '
    'Street, Springfield (the "Supplier"), for the supply of widgets in Canada and Mexico (the "Territory") '
    'for a period of five years (the "Term").\n\nWHEREAS, Acme wishes to buy widgets.'
)


def test_parties_are_the_named_companies_and_their_defined_names_not_other_defined_terms():
    parties = run_legal(PREAMBLE)["answers"]["Parties"]
    assert "ACME HOLDINGS, INC." in parties and "Beta Widgets LLC" in parties
    assert "Acme" in parties and "Supplier" in parties
    assert "Territory" not in parties and "Term" not in parties
    assert not any("AGREEMENT" in name or "EXHIBIT" in name for name in parties)


SECOND_PREAMBLE = (
    "Source: GAMMA CORP, 10-K, 3/1/2019\n\nLICENSE AGREEMENT\n\nThis License Agreement is entered into by and "
    'between Nexstar Broadcasting of Peoria, L.L.C., a Delaware Corporation ("Nexstar"), Fonterra (USA) Inc. '
    'and Bank of America, N.A. (the "Bank").\n\nWHEREAS, disclosure would cause harm to the company.'
)


def test_a_company_name_spans_of_and_parentheses_and_descriptions_and_filing_lines_are_not_names():
    parties = run_legal(SECOND_PREAMBLE)["answers"]["Parties"]
    assert "Nexstar Broadcasting of Peoria, L.L.C." in parties
    assert "Fonterra (USA) Inc." in parties and "Bank of America, N.A." in parties
    assert not any("Delaware" in name or "GAMMA" in name for name in parties)


def test_jurisdictions_are_named_as_cuad_names_them():
    assert canonical_jurisdiction("PRC") == canonical_jurisdiction("China") == "People's Republic of China"
    assert canonical_jurisdiction("R.O.C.") == "Taiwan"
    assert canonical_jurisdiction("British  Columbia") == "British Columbia, Canada"
    assert canonical_jurisdiction("Victoria") == "Victoria, Australia"
    assert canonical_jurisdiction("New York State") == "New York"
    assert canonical_jurisdiction("Delaware") == "Delaware"
    text = "This Agreement is governed by the laws of the Province of Ontario and the federal laws of Canada."
    assert run_legal(text, clause_model="rules")["answers"]["Governing Law"] == "Ontario, Canada"
    law = {"id": "law", "category": "Governing Law", "severity": "high"}
    for allowed, flagged in ((["ontario"], False), (["Ontario, Canada"], False), (["Quebec"], True)):
        result = run_legal(text, clause_model="rules", playbook=[{**law, "allowed": allowed}])
        assert any(r["code"] == "law" for r in result["risks"]) is flagged, allowed


@pytest.mark.parametrize(
    ("clause", "place"),
    [
        (
            "It shall be governed by the internal laws, and not by the conflicts rules, of the State of Ohio.",
            "Ohio",
        ),
        ("It is governed by and construed in accordance with English law.", "England"),
        ("Disputes shall be governed by PRC Laws.", "People's Republic of China"),
        ("It is made in the State of North Carolina and governed by the laws thereof.", "North Carolina"),
        ("It is governed by the laws of the United States and the State of Florida.", "Florida"),
        ("THE LAWS, OTHER THAN CHOICE OF LAW RULES, OF THE STATE OF WEST VIRGINIA GOVERN.", "West Virginia"),
        ("The parties shall meet to discuss the law.", None),
    ],
)
def test_governing_law_named_by_a_demonym_or_a_state_elsewhere_in_the_clause(clause: str, place: str | None):
    assert answer_of("Governing Law", clause) == place


@pytest.mark.parametrize(
    ("clause", "place"),
    [
        (
            "This Agreement shall be governed by the laws of the State of Texas governing contracts made therein.",
            "Texas",
        ),
        (
            "This Agreement shall be governed by the laws of the State of Delaware pertaining to contracts.",
            "Delaware",
        ),
        ("This Agreement is governed by the laws of England regarding contracts.", "England"),
        ("It is governed by the laws of Switzerland at all times.", "Switzerland"),
        ("It is governed by the laws of the State of Kansas from time to time in effect.", "Kansas"),
        ("It is governed by the laws of Ireland\nSection 12", "Ireland"),
        ("It is governed by the laws of the State of New\nYork.", "New York"),
        ("It is governed by the laws of the Isle of Man in force.", "Isle of Man"),
        (
            "THIS AGREEMENT IS GOVERNED BY THE LAWS OF THE STATE OF DELAWARE WITHOUT REGARD TO CONFLICTS.",
            "Delaware",
        ),
        ("It is governed by the laws of Licensee's country of residence.", None),
        ("Nothing here violates the by-laws of the Company or any law.", None),
    ],
)
def test_governing_law_is_the_whole_place_whatever_word_follows_it(clause: str, place: str | None):
    assert answer_of("Governing Law", clause) == place


def test_the_agreement_date_is_the_full_date_of_a_month_a_header_names_bare():
    text = (
        "SERVICES AGREEMENT\nSeptember 2018\nTHIS SERVICES AGREEMENT is made on 25 September 2018 by A and B."
    )
    assert run_legal(text, clause_model="rules")["answers"]["Agreement Date"] == "2018-09-25"


def test_the_agreement_date_is_never_an_edgar_exhibit_s_filing_date():
    text = "Source: ACME INC., 10-Q, 11/8/2019\nSUPPLY AGREEMENT\nThis Agreement is made as of July 31, 2019 by A and B."
    assert run_legal(text, clause_model="rules")["answers"]["Agreement Date"] == "2019-07-31"


def test_the_agreement_date_falls_back_to_the_date_of_an_agreement_date_clause():
    clause = Clause("Agreement Date", 0, 12, 0.4)
    assert normalise_answers("2 April 2020", [clause], [], None)["Agreement Date"] == "2020-04-02"
    assert normalise_answers("2 April 2020", [clause], [], "2019-01-01")["Agreement Date"] == "2019-01-01"
    assert normalise_answers("2 April 2020", [], [], None)["Agreement Date"] is None


@pytest.mark.parametrize(
    ("term", "expiration"),
    [
        ("This Agreement shall continue until  terminated as provided herein.", "perpetual"),
        ("This Agreement will remain in force for perpetuity.", "perpetual"),
        ("The term will end when terminated by either party.", "perpetual"),
        (
            "It shall govern the relations between the parties thereafter, unless terminated under Section 6.",
            "perpetual",
        ),
        ("This Agreement shall continue for five (5) years unless and until terminated.", "2024-03-12"),
        (
            "This Agreement shall expire upon the earlier of (i) the first anniversary of the Effective Date.",
            "2020-03-12",
        ),
        (
            "It continues until the later of the fourth (4th) anniversary of the Effective Date or completion.",
            "2023-03-12",
        ),
        ("It shall continue in effect until the expiration of the last Royalty Term.", "perpetual"),
        ("It shall continue until the twentieth (20th) anniversary of the Effective Date.", "2039-03-12"),
        ("It shall continue until the end of the fifteenth (15th) Contract Year.", "2034-03-12"),
        ("It will end automatically upon the end of Year 3.", "2022-03-12"),
        ("It shall continue for ten (10) Contract Years.", "2029-03-12"),
        ("It shall continue in effect until December 31, 2030.", "2030-12-31"),
        ("Either party may end it on twelve (12) months' notice; it runs for two (2) years.", "2021-03-12"),
        ("This Agreement shall expire if the Adviser ceases to serve as investment adviser.", "perpetual"),
        ("This Agreement shall terminate upon the Trust's payment of the premiums.", "perpetual"),
        (
            "The provisions of this Agreement shall not be terminable or revocable for any reason.",
            "perpetual",
        ),
        ("This Agreement shall terminate upon the earlier of March 1, 2022 or a sale.", "2022-03-01"),
        ("This Agreement shall terminate upon thirty (30) days' written notice.", "perpetual"),
    ],
)
def test_an_open_ended_term_is_perpetual_and_a_fixed_one_is_not(term: str, expiration: str):
    assert answer_of("Expiration Date", term, "2019-03-12") == expiration


@pytest.mark.parametrize(
    ("clause", "term"),
    [
        (
            "It will renew automatically from year to year unless cancelled 60 days before the end of the term.",
            "P1Y",
        ),
        (
            "On notice six (6) months prior to the end of the term, it shall continue on a month to month basis.",
            "P1M",
        ),
        ("It renews for an initial term of seven (7) years and then for one or more annual periods.", "P1Y"),
        (
            "Unless notice is given at least six (6) months prior, it renews for successive three (3) year terms.",
            "P3Y",
        ),
        ("You may renew the Franchise for 2 additional terms of 10 years each.", "P10Y"),
        (
            "It shall automatically renew for successive five (5)-year terms unless either party gives notice "
            "at least ninety (90) days prior to the expiration of the then-current term.",
            "P5Y",
        ),
        ("The Term shall automatically extend for successive 12-month periods.", "P12M"),
        ("It will extend automatically for monthly periods unless cancelled thirty (30) days before.", "P1M"),
        ("It is established by calendar year and renewed tacitly every year.", "P1Y"),
        (
            "Unless Customer objects within a period of three (3) months following the Renewal Notice, this "
            "Agreement shall automatically renew for one (1) twelve-month period.",
            "P12M",
        ),
    ],
)
def test_a_renewal_term_is_not_its_notice_period(clause: str, term: str):
    assert answer_of("Renewal Term", clause) == term


def test_renewal_and_notice_answers_prefer_the_clause_that_states_them():
    notice = "A party wishing to renew shall give notice no less than thirty (30) days before the term ends."
    renewal = "If no notice is given, the term shall be automatically renewed for another one (1) year."
    text = f"{notice} {renewal}"
    clauses = [
        Clause("Renewal Term", 0, len(notice), 0.9),
        Clause("Renewal Term", len(notice) + 1, len(text), 0.6),
        Clause("Notice Period To Terminate Renewal", len(notice) + 1, len(text), 0.9),
        Clause("Notice Period To Terminate Renewal", 0, len(notice), 0.6),
    ]
    answers = normalise_answers(text, clauses, [], None)
    assert answers["Renewal Term"] == "P1Y"
    assert answers["Notice Period To Terminate Renewal"] == "P30D"


def test_an_effective_date_is_never_the_date_a_term_runs_until():
    text = "This Agreement is effective through and including March 31, 2004."
    clauses = [Clause("Effective Date", 0, len(text), 0.9), Clause("Expiration Date", 0, len(text), 0.9)]
    answers = normalise_answers(text, clauses, [], "1999-01-01")
    assert answers["Effective Date"] == "1999-01-01" and answers["Expiration Date"] == "2004-03-31"


def test_dates_of_last_signature_are_the_latest_signature_block_date():
    body = "It is effective on the day after the date of last signature (the Effective Date)."
    block = (
        "IN WITNESS WHEREOF the parties sign. By: A. Smith Date: 1/19/07 By: B. Jones Date: January 22, 2007"
    )
    text = f"{body} {block}"
    clauses = [Clause("Effective Date", 0, len(body), 0.9)]
    answers = normalise_answers(text, clauses, [], "2007-01-19")
    assert answers["Agreement Date"] == "2007-01-22"
    assert answers["Effective Date"] == "2007-01-23"
    assert normalise_answers(text, [], [], "2006-12-01")["Agreement Date"] == "2006-12-01"


def test_a_signature_date_its_month_does_not_have_is_no_signature_date(contract_text):
    body = "It is effective on the day after the date of last signature (the Effective Date)."
    block = "IN WITNESS WHEREOF the parties sign. By: A. Smith Date: March 1, 2019 By: B. Jones Date: April 31, 2019"
    text = f"{body} {block}"
    answers = normalise_answers(text, [Clause("Effective Date", 0, len(body), 0.9)], [], "2019-03-01")
    assert answers["Effective Date"] == "2019-03-02"
    signed = contract_text + f"\n9. Effective Date. {body}\n\n{block.replace('April 31', 'February 30')}\n"
    result = run_connector("legal", [Document("c", signed)])
    assert "2019-02-30" not in result["answers"].values()


@pytest.mark.parametrize(
    ("clause", "notice"),
    [
        (
            "It will continue for five (5) years, and will automatically renew for additional periods of five (5) "
            "years unless one Party notifies the other, no less than 12 months prior to the expiration.",
            "P12M",
        ),
        (
            "It terminates, subject to any extension for one year as required by law, upon either party giving "
            "at least one hundred twenty (120) days      advance written notice.",
            "P120D",
        ),
        (
            "It renews for successive one (1) year periods, unless written notice of non-renewal is received no "
            "later than six (6) months prior to the expiration.",
            "P6M",
        ),
    ],
)
def test_a_notice_period_is_the_duration_a_notice_cue_follows(clause: str, notice: str):
    assert answer_of("Notice Period To Terminate Renewal", clause) == notice


def test_a_renewal_of_the_same_duration_is_the_initial_term():
    term = "This Agreement shall continue for an Initial Term of five (5) years."
    renewal = "It shall renew for successive terms of the same duration unless notice is given ninety (90) days prior."
    text = f"{term} {renewal}"
    clauses = [
        Clause("Expiration Date", 0, len(term), 0.8),
        Clause("Renewal Term", len(term) + 1, len(text), 0.8),
    ]
    assert normalise_answers(text, clauses, [], "2019-01-01")["Renewal Term"] == "P5Y"


def test_a_term_from_a_start_known_to_the_month_ends_in_that_month():
    term = "This Agreement shall continue in effect for a period of Three (3) years."
    assert answer_of("Expiration Date", term, "2019-08") == "2022-08"


def test_clause_confidences_are_probabilities(contract_text):
    for clause in run_legal(contract_text)["clauses"]:
        assert 0.0 < clause["confidence"] < 1.0


def test_default_risks_flag_missing_cap_and_unusual_terms(contract_text):
    codes = {r["code"] for r in run_legal(contract_text)["risks"]}
    assert "no_liability_cap" not in codes
    assert {"non_compete", "exclusivity"} <= codes
    stripped = contract_text.replace(
        "6. Limitation of Liability. In no event shall either party's aggregate liability under this Agreement exceed the fees paid in the twelve (12) months preceding the claim.",
        "",
    )
    risks = run_legal(stripped)["risks"]
    assert (
        risks[0]["code"] == "no_liability_cap" and risks[0]["severity"] == "high" and risks[0]["span"] is None
    )


def test_playbook_rules_are_checked(contract_text):
    playbook = [
        {"id": "law", "category": "Governing Law", "allowed": ["New York"], "severity": "high"},
        {"category": "Notice Period To Terminate Renewal", "max_days": 60},
        {"category": "Source Code Escrow", "require": "present", "severity": "low"},
        {"category": "Cap On Liability", "require": "present"},
    ]
    risks = [r for r in run_legal(contract_text, playbook=playbook)["risks"] if r.get("playbook")]
    by_code = {r["code"]: r for r in risks}
    assert by_code["law"]["severity"] == "high" and "Delaware" in by_code["law"]["message"]
    assert by_code["law"]["span"]["quote"].startswith("This Agreement shall be governed")
    assert "playbook_notice_period_to_terminate_renewal" in by_code
    assert "playbook_source_code_escrow" in by_code
    assert "playbook_cap_on_liability" not in by_code


@pytest.mark.parametrize(
    ("playbook", "message"),
    [
        ("not a list", "must be a list"),
        ([{"category": "Gov Law", "require": "present"}], "CUAD category"),
        ([{"category": "Governing Law"}], "needs one of"),
        ([{"category": "Governing Law", "require": "maybe"}], "present' or 'absent"),
        ([{"category": "Insurance", "max_days": 3}], "only applies"),
        ([{"category": "Governing Law", "allowed": ["X"], "severity": "urgent"}], "severity"),
        ([{"category": "Governing Law", "allowed": ["X"], "colour": "red"}], "unknown field"),
    ],
)
def test_bad_playbooks_raise_clear_errors(contract_text, playbook, message):
    with pytest.raises(ValueError, match=message):
        run_legal(contract_text, playbook=playbook)


def test_empty_contract_gives_a_valid_empty_result():
    result = run_legal("   \n")
    assert result["clauses"] == [] and result["risks"] == []
    assert result["warnings"] and "empty" in result["warnings"][0]


def test_cuad_sample_spans_hold():
    for path in sorted((DATA / "contracts").glob("*.txt"))[:3]:
        text = path.read_text(encoding="utf-8")
        result = run_connector("legal", [Document(path.stem, text)])
        assert result["clauses"]
        assert invalid_spans(result, {path.stem: text}) == []


def test_one_search_per_category_clears_exactly_the_sentences_no_rule_matches():
    from connectors.legal.categories import ANY_SENTENCE_RULE, SENTENCE_RULES
    from connectors.text import split_sentences

    sentences = [
        s.text
        for path in sorted((DATA / "contracts").glob("*.txt"))[:6]
        for s in split_sentences(path.read_text(encoding="utf-8"))
    ]
    hits = 0
    for category, rules in SENTENCE_RULES.items():
        for sentence in sentences:
            matched = any(rule.pattern.search(sentence) for rule in rules)
            assert bool(ANY_SENTENCE_RULE[category].search(sentence)) is matched, (category, sentence)
            hits += matched
    assert 0 < hits < len(sentences) * len(SENTENCE_RULES) / 10


@pytest.mark.parametrize(
    "head, title",
    [
        (
            'EXHIBIT 10.1   RESELLER AGREEMENT   THIS RESELLER AGREEMENT (this "Agreement") is made on 7 April 2017.',
            "RESELLER AGREEMENT",
        ),
        (
            "PREMIER NUTRITION CORPORATION MANUFACTURING AGREEMENT\n\nThis Agreement is made.",
            "MANUFACTURING AGREEMENT",
        ),
        (
            "CONFIDENTIAL TREATMENT: OMITTED AS HARMFUL IF PUBLICLY DISCLOSED.\n\nMASTER SUPPLY AGREEMENT\n\nThis Agreement.",
            "MASTER SUPPLY AGREEMENT",
        ),
        (
            "JOINT VENTURE AGREEMENT THIS JOINT VENTURE AGREEMENT is entered into by the parties.",
            "JOINT VENTURE AGREEMENT",
        ),
    ],
)
def test_the_document_name_is_the_title_alone_not_what_shares_its_line(head, title):
    from connectors.legal.analyzers import find_document_name

    clause = find_document_name(head)
    assert clause is not None and head[clause.start : clause.end] == title


def test_parties_in_blocks_after_a_between_line_of_its_own():
    from connectors.legal.analyzers import find_parties
    from connectors.text import split_sentences

    text = (
        "JOINT VENTURE AGREEMENT\n\nBETWEEN\n\nKIROMIC BIOPHARMA Inc., a Delaware Company, 7707 Fannin St., Houston TX, "
        "in person of its Chief Executive Officer\n\nAND\n\nMOLIPHARMA S.R.L. an Italian Company stated in Campobasso, "
        "in person of its Legal Representative;\n\neach a Party and, together, the Parties.\n\nWHEREAS A. Kiromic is a "
        "company active in immunotherapy.\n\nB. This agreement is made between the Parties and UCSC, their "
        "research partner.\n"
    )
    _, names = find_parties(text, split_sentences(text))
    assert names[:2] == ["KIROMIC BIOPHARMA Inc.", "MOLIPHARMA S.R.L."]


@pytest.mark.parametrize(
    ("head", "title"),
    [
        (
            "Exhibit 4\n\nTable of contents\n\n1   INTRODUCTION                 4\n\n"
            "7   GENERAL TERMS AND CONDITIONS FOR MAINTENANCE AND SUPPORT                  12\n\nThe parties agree.",
            None,
        ),
        (
            "Exhibit 4\n\nTable of contents\n\nGENERAL TERMS AND CONDITIONS ........ 12\n\nThe parties agree.",
            None,
        ),
        ("Exhibit 4\n\n2.1 Software License Agreement\n\nThe parties agree.", "Software License Agreement"),
        (
            "Exhibit 4\n\nAMENDMENT NO. 3 TO THE NONEXCLUSIVE VALUE ADDED DISTRIBUTOR AGREEMENT\n\nThe parties agree.",
            "AMENDMENT NO. 3 TO THE NONEXCLUSIVE VALUE ADDED DISTRIBUTOR AGREEMENT",
        ),
    ],
)
def test_a_line_of_the_table_of_contents_is_no_document_name(head, title):
    from connectors.legal.analyzers import find_document_name

    clause = find_document_name(head)
    assert (head[clause.start : clause.end] if clause else None) == title


def test_the_document_name_of_a_contract_with_a_table_of_contents_is_none_of_its_lines():
    text = (DATA / "contracts" / "cuad_07.txt").read_text(encoding="utf-8")
    name = run_legal(text, clause_model="rules")["answers"]["Document Name"]
    assert name is None or "GENERAL TERMS" not in name


RENEWING = (
    "SUPPLY AGREEMENT\n\nThis Agreement begins on January 1, 2024 and continues for an initial term of two years. "
    "Thereafter it renews automatically for successive {term} periods unless either party gives notice of "
    "non-renewal at least {notice} before the end of the then-current term."
)


@pytest.mark.parametrize(
    ("term", "notice", "flagged"),
    [
        ("twelve (12) month", "thirty (30) days", []),
        ("one (1) year", "thirty (30) days", []),
        ("eleven (11) month", "thirty (30) days", ["renewal_minimum"]),
        ("one (1) year", "three (3) months", []),
        ("one (1) year", "four (4) months", ["long_renewal_notice", "notice_limit"]),
    ],
)
def test_a_duration_in_months_or_years_breaks_a_day_limit_only_where_every_calendar_reading_does(
    term, notice, flagged
):
    playbook = [
        {"id": "renewal_minimum", "category": "Renewal Term", "min_days": 365},
        {"id": "notice_limit", "category": "Notice Period To Terminate Renewal", "max_days": 92},
    ]
    result = run_legal(RENEWING.format(term=term, notice=notice), clause_model="rules", playbook=playbook)
    codes = {r["code"] for r in result["risks"]}
    assert sorted(codes & {"renewal_minimum", "notice_limit", "long_renewal_notice"}) == flagged, result[
        "risks"
    ]


def test_a_month_lasts_28_to_31_days_and_twelve_of_them_a_year():
    from connectors.dates import duration_day_range

    assert duration_day_range("P12M") == duration_day_range("P1Y") == (365, 366)
    assert duration_day_range("P3M") == (89, 92) and duration_day_range("P90D") == (90, 90)


@pytest.mark.parametrize("clause_model", ["learned", "rules"])
@pytest.mark.parametrize(
    "opening",
    [
        'This Supply Agreement is made on March 12, 2019 and is effective as of April 1, 2019 (the "Effective Date") '
        'between Alpha Foods Inc. ("Buyer") and Omega Farms LLC ("Seller").',
        'This Agreement is made on 12th March 2019 and is effective as of April 1, 2019 (the "Effective Date") by '
        "Alpha Inc. and Beta LLC.",
    ],
)
def test_the_effective_date_is_the_date_the_contract_names_so_not_the_first_in_its_sentence(
    opening, clause_model
):
    result = run_legal(
        opening + "\n\n1. Term. This Agreement continues for three years.", clause_model=clause_model
    )
    assert result["answers"]["Effective Date"] == "2019-04-01"
    assert result["answers"]["Agreement Date"] == "2019-03-12"
    quotes = [c["span"]["quote"] for c in result["clauses"] if c["category"] == "Effective Date"]
    assert "March 12, 2019" not in quotes and "12th March 2019" not in quotes


@pytest.mark.parametrize("form", ["SARL", "S.A.R.L.", "SAS", "ApS", "PLLC", "Ltda."])
def test_parties_of_european_and_other_legal_forms_are_named(form):
    opening = (
        f'This Services Agreement is made as of May 5, 2022 between Acme Widgets {form} ("Acme") and '
        'Zoe Mueller Consulting GmbH ("Consultant").'
    )
    assert f"Acme Widgets {form}" in run_legal(opening)["answers"]["Parties"]
