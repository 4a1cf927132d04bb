import re

import pytest

from connectors.dates import add_duration, duration_days, find_dates, parse_duration
from connectors.spans import (
    find_span,
    invalid_spans,
    is_valid_span,
    make_span,
    repair_span,
    token_jaccard,
    verify,
)
from connectors.text import normalise_text, split_abstract_sentences, split_sentences


def test_make_span_quotes_the_text_and_rejects_bad_offsets():
    text = "Governing law: Delaware."
    span = make_span("doc", text, 15, 23)
    assert span == {"document_id": "doc", "start": 15, "end": 23, "quote": "Delaware"}
    with pytest.raises(ValueError):
        make_span("doc", text, 5, 5)
    with pytest.raises(ValueError):
        make_span("doc", text, 10, 99)


def test_find_span_prefers_exact_then_whitespace_and_case_insensitive_match():
    text = "The term is FIVE   years.\nThe term is five years."
    exact = find_span("d", text, "five years")
    assert exact["start"] == text.index("five years")
    loose = find_span("d", text, "five years", near=0)
    assert loose["quote"] == "five years"
    assert find_span("d", "abc", "Five\nYears") is None
    fuzzy = find_span("d", "The term is FIVE   years.", "five years")
    assert fuzzy["quote"] == "FIVE   years"


def test_find_span_finds_a_cjk_quote_across_a_line_break_the_quote_does_not_have():
    text = "第一条 本协议由甲方与乙方\n于二零二四年签订。"
    span = find_span("d", text, "本协议由甲方与乙方于二零二四年签订")
    assert (span["start"], span["end"]) == (4, 22)
    assert find_span("d", "甲方应于\n2024年付款", "甲方应于 2024年付款")["quote"] == "甲方应于\n2024年付款"
    assert find_span("d", "The termsof use", "the terms of use") is None


def test_find_span_prefers_a_match_inside_the_ranges_shown_then_the_nearest():
    text = "governed by Delaware law. Filler text here. governed by Delaware law. More. governed by Delaware law."
    starts = [m.start() for m in re.finditer("governed", text)]
    assert find_span("d", text, "governed by Delaware law")["start"] == starts[0]
    assert find_span("d", text, "governed by Delaware law", within=[(40, 75)])["start"] == starts[1]
    assert find_span("d", text, "GOVERNED  by delaware law", within=[(40, 75)])["start"] == starts[1]
    assert find_span("d", text, "governed by Delaware law", within=[(90, len(text))])["start"] == starts[2]
    assert find_span("d", text, "governed by Delaware law", within=[(40, 50)])["start"] == starts[1]


def test_a_quote_reflowed_from_the_passage_shown_is_placed_there_not_on_an_exact_copy_elsewhere():
    text = (
        "Definitions. Governing law means the laws of the State of New York.\n\n"
        "12. This Agreement shall be governed by the laws of\nthe State of New York."
    )
    shown = [(text.index("12."), len(text))]
    span = find_span("d", text, "the laws of the State of New York", within=shown)
    assert span["start"] >= shown[0][0]
    assert span["quote"] == "the laws of\nthe State of New York"
    assert find_span("d", text, "the laws of the State of New York")["start"] == text.index("the laws")


def test_find_span_reads_typographic_quotes_dashes_and_ligatures_as_their_plain_forms():
    text = "This Master Agreement (the \u201cAgreement\u201d) is con\ufb01dential \u2013 Supplier\u2019s \ufb02oor."
    span = find_span("d", text, 'the "Agreement") is confidential - Supplier\'s floor.')
    assert span is not None and span["quote"] == text[text.index("the") :]
    assert find_span("d", "a con\ufb01dential matter", "CONFIDENTIAL")["quote"] == "con\ufb01dential"
    assert find_span("d", "an affidavit", "a\ufb00idavit")["quote"] == "affidavit"
    assert find_span("d", "Supplier's floor", "Supplier\u2019s floor")["quote"] == "Supplier's floor"
    assert find_span("d", "a con\ufb01dential matter", "conf dential") is None


def test_find_span_finds_a_quote_written_with_decomposed_accents_in_the_composed_text():
    text = "Le Caf\u00e9 de Flore, \u00e0 Paris."
    assert find_span("d", text, "Cafe\u0301 de Flore, a\u0300 Paris")["quote"] == text[3:-1]
    assert find_span("d", text, "CAFE\u0301 DE FLORE")["quote"] == "Caf\u00e9 de Flore"


def test_repair_span_keeps_valid_spans_and_relocates_shifted_ones():
    text = "alpha beta gamma beta"
    good = make_span("d", text, 6, 10)
    assert repair_span(good, text) is good
    shifted = {"document_id": "d", "start": 15, "end": 19, "quote": "beta"}
    repaired = repair_span(shifted, text)
    assert repaired["start"] == 17 and is_valid_span(repaired, text)
    assert repair_span({"document_id": "d", "start": 0, "end": 3, "quote": "zeta"}, text) is None


def test_invalid_spans_finds_nested_spans_that_do_not_hold():
    text = "one two three"
    result = {
        "items": [
            {"span": make_span("d", text, 0, 3)},
            {"span": {"document_id": "d", "start": 0, "end": 3, "quote": "two"}},
        ]
    }
    assert [s["quote"] for s in invalid_spans(result, {"d": text})] == ["two"]


def test_token_jaccard():
    assert token_jaccard("the cat sat", "The cat sat.") == 1.0
    assert token_jaccard("a b", "c d") == 0.0


def test_dates_in_contract_phrasings():
    text = "made this 8th day of May, 2014, effective March 12, 2019, signed 2020-01-05 and 05/08/2014, since June 2001"
    assert [d.iso for d in find_dates(text)] == [
        "2014-05-08",
        "2019-03-12",
        "2020-01-05",
        "2014-05-08",
        "2001-06",
    ]
    for match in find_dates(text):
        assert text[match.start : match.end]


def test_dates_with_a_spaced_or_tight_comma_or_in_a_form_s_blank():
    text = (
        "entered into on April 15 , 2010, signed April 16,2010 and effective as of _Dec. 8, 2005_ (the Date)"
    )
    assert [d.iso for d in find_dates(text)] == ["2010-04-15", "2010-04-16", "2005-12-08"]
    assert find_dates("x2010-01-01 and 12/8/2005a") == []


def test_day_of_month_dates_with_ordinal_words_or_a_split_suffix():
    text = "made this first day of July, 2017, as of the 1s t day of June, 2004 and this 18t h day of August 2014"
    assert [d.iso for d in find_dates(text)] == ["2017-07-01", "2004-06-01", "2014-08-18"]
    assert [d.iso for d in find_dates("the Twenty-First day of March, 2010")] == ["2010-03-21"]


def test_numeric_dates_with_two_digit_years_dashes_or_the_day_first():
    text = (
        "Dated 7/18/11, signed 05/05/98 and 3-14-18, filed 12-23-2019, in force 29/3/18; Section 3/4, 1-2-3"
    )
    assert [d.iso for d in find_dates(text)] == [
        "2011-07-18",
        "1998-05-05",
        "2018-03-14",
        "2019-12-23",
        "2018-03-29",
    ]
    assert [d.iso for d in find_dates("on 2019-03-04 and 40/10/99")] == ["2019-03-04"]
    assert [d.iso for d in find_dates("in effect until March 18. 2021")] == ["2021-03-18"]
    assert [d.iso for d in find_dates("made and effective as of1 August 2019, by")] == ["2019-08-01"]


def test_a_day_its_month_does_not_have_is_no_date():
    text = "signed April 31, 2019, on February 29, 2019, the 30th day of February, 2020 and 2019-06-31"
    assert find_dates(text) == []
    assert [d.iso for d in find_dates("30 February 2019, 31/04/2019 and February 29, 2020")] == ["2020-02-29"]


def test_an_iso_date_is_read_year_month_day_only():
    assert find_dates("signed 2019-13-01, filed 2019-14-05 and 2019-00-12") == []
    assert [d.iso for d in find_dates("signed 2019-12-01 and 13/01/2019, filed 13-01-2019")] == [
        "2019-12-01",
        "2019-01-13",
        "2019-01-13",
    ]


@pytest.mark.timeout(10)
def test_long_runs_of_blanks_or_rules_parse_in_linear_time():
    layout = "for one" + " " * 50_000 + "x, the 1st day of May" + " -" * 25_000 + " by"
    assert parse_duration(layout) is None and find_dates(layout) == []


def test_durations_from_words_and_digits():
    assert parse_duration("thirty (30) days written notice")[0] == "P30D"
    assert parse_duration("successive one (1) year terms")[0] == "P1Y"
    assert parse_duration("ninety days")[0] == "P90D"
    assert parse_duration("twelve months")[0] == "P12M"
    assert parse_duration("no period here") is None
    assert parse_duration("successive five (5)-year terms")[0] == "P5Y"
    assert parse_duration("a 30-day cure period")[0] == "P30D"
    assert parse_duration("one twelve-month period")[0] == "P12M"
    assert parse_duration("The term is 2.5 years.") == ("P2.5Y", 12, 21)
    assert parse_duration("within 12,500 days")[0] == "P12500D" and parse_duration("v1,5 days") is None
    assert parse_duration("Term - 3 years") == ("P3Y", 7, 14) and duration_days("P1.5M") == 45
    assert duration_days("P2W") == 14
    assert add_duration("2019-03-12", "P5Y") == "2024-03-12"
    assert add_duration("2019-08", "P3Y") == "2022-08" and add_duration("2019-11", "P2M") == "2020-01"


def test_a_duration_that_ends_in_february_ends_on_its_last_day_leap_years_too():
    assert add_duration("2020-01-31", "P1M") == "2020-02-29"
    assert add_duration("2019-08-29", "P6M") == "2020-02-29"
    assert add_duration("2016-02-29", "P4Y") == "2020-02-29"
    assert add_duration("2016-02-29", "P1Y") == "2017-02-28"
    assert (
        add_duration("2019-01-31", "P1M") == "2019-02-28"
        and add_duration("2019-03-31", "P1M") == "2019-04-30"
    )
    assert add_duration("9999-12-01", "P1M") is None


def test_sentences_keep_offsets_and_skip_abbreviations():
    text = normalise_text("Acme Corp. signed it.\r\nThe U.S. office agrees. Done")
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == ["Acme Corp. signed it.", "The U.S. office agrees.", "Done"]
    assert all(text[s.start : s.end] == s.text for s in sentences)
    blank = "It is effective as of _Dec. 8, 2005 between the parties. Done."
    assert [s.text for s in split_sentences(blank)] == [
        "It is effective as of _Dec. 8, 2005 between the parties.",
        "Done.",
    ]


def test_abstract_sentences_split_as_scifact_numbers_them():
    text = (
        "FINDINGS 139 incidents were recorded; 5-6% of E. coli strains (e.g. K12) grew. Rates rose vs. controls "
        "after 48 h. Uptake of ART. It ranged from 5.8 to 18.7. miR-132 fell (Smith et al. 2001)."
    )
    sentences = split_abstract_sentences(text)
    assert [s.text for s in sentences] == [
        "FINDINGS 139 incidents were recorded; 5-6% of E. coli strains (e.g. K12) grew.",
        "Rates rose vs. controls after 48 h.",
        "Uptake of ART.",
        "It ranged from 5.8 to 18.7.",
        "miR-132 fell (Smith et al. 2001).",
    ]
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_verify_repairs_shifted_spans_and_reports_lost_ones_without_changing_the_result():
    text = "alpha beta gamma"
    result = {
        "a": {"span": {"document_id": "d", "start": 0, "end": 4, "quote": "beta"}},
        "b": [{"span": {"document_id": "d", "start": 0, "end": 4, "quote": "zeta"}}],
        "c": {"span": {"document_id": "other", "start": 0, "end": 1, "quote": "a"}},
    }
    report = verify(result, {"d": text}, policy="repair")
    assert report.output["a"]["span"] == {"document_id": "d", "start": 6, "end": 10, "quote": "beta"}
    assert result["a"]["span"]["start"] == 0
    assert (report.checked, report.repaired, report.dropped) == (3, 1, 0)
    assert len(report.problems) == 2 and "zeta" in report.problems[0] and "other" in report.problems[1]
    kept = verify(result, {"d": text}, policy="keep")
    assert kept.output == result and (kept.repaired, len(kept.problems)) == (0, 3)


def test_verify_drops_findings_whose_quotes_are_lost():
    text = "The law of Delaware governs. Payment is due in 30 days."
    output = {
        "connector": "legal",
        "warnings": [],
        "clauses": [
            {
                "category": "Governing Law",
                "span": {"document_id": "d", "start": 0, "end": 27, "quote": text[:27]},
            },
            {
                "category": "Moved",
                "span": {"document_id": "d", "start": 3, "end": 10, "quote": "Payment is due"},
            },
            {
                "category": "Invented",
                "span": {"document_id": "d", "start": 0, "end": 5, "quote": "Nevada law"},
            },
        ],
        "summary": {"text": "elsewhere", "span": {"document_id": "x", "start": 0, "end": 1, "quote": "a"}},
    }
    report = verify(output, {"d": text}, policy="drop")
    assert (report.checked, report.repaired, report.dropped) == (4, 1, 2)
    assert [c["category"] for c in report.output["clauses"]] == ["Governing Law", "Moved"]
    moved = report.output["clauses"][1]["span"]
    assert text[moved["start"] : moved["end"]] == "Payment is due"
    assert report.output["summary"] is None
    assert "2 finding(s) dropped" in report.output["warnings"][0]
    with pytest.raises(ValueError):
        verify(output, {"d": text}, policy="fix")


@pytest.mark.parametrize(
    "raw",
    ["Cafe\x00\u0301 terms", "x\x0c\u0301y", "A\r\u0301B", "A\r\n\u0301B", "e\x00\x00\u0301\x0c\u0327"],
)
def test_normalise_text_gives_its_own_output_back(raw):
    once = normalise_text(raw)
    assert normalise_text(once) == once
    assert "\x00" not in once and "\x0c" not in once and "\r" not in once


def test_a_nul_before_a_combining_accent_leaves_the_composed_letter():
    assert normalise_text("Cafe\x00\u0301 terms") == "Caf\u00e9 terms"


def test_dates_with_a_month_abbreviation_between_dashes_year_first_slashes_or_dots_day_first():
    text = (
        "signed 12-Mar-2019, filed 3-Sep-19 and 01-Sept-2020, in force 2019/03/12, "
        "Datum 12.03.2019, le 5.1.2021 and 31.12.2020"
    )
    assert [(text[d.start : d.end], d.iso) for d in find_dates(text)] == [
        ("12-Mar-2019", "2019-03-12"),
        ("3-Sep-19", "2019-09-03"),
        ("01-Sept-2020", "2020-09-01"),
        ("2019/03/12", "2019-03-12"),
        ("12.03.2019", "2019-03-12"),
        ("5.1.2021", "2021-01-05"),
        ("31.12.2020", "2020-12-31"),
    ]
    # A dotted date is written day first, with all four digits of its year: a section "3.12" or a version
    # "1.2.3" is no date, nor is a day its month does not have.
    assert find_dates("Section 3.12.19, version 1.2.3 and 31.04.2019 or 2019/13/01") == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a term of 2 yrs from signing", ("P2Y", "2 yrs")),
        ("a term of 1 yr.", ("P1Y", "1 yr")),
        ("notice of 6 mos. before renewal", ("P6M", "6 mos")),
        ("the 1-mo trial", ("P1M", "1-mo")),
        ("within 3 wks of delivery", ("P3W", "3 wks")),
        ("twelve mths after closing", ("P12M", "twelve mths")),
        # Abbreviations stand as words: "6 most" or "2 yrsx" are no durations.
        ("the 6 most recent invoices", None),
    ],
)
def test_durations_with_an_abbreviated_unit(text, found):
    duration = parse_duration(text)
    assert (duration and (duration[0], text[duration[1] : duration[2]])) == found


def test_an_iso_date_time_is_read_as_its_date():
    text = "Signed 2019-03-12T00:00:00Z and renewed 2020-04-01T09:30+02:00; batch 2019-03-12T7 is no date."
    assert [(d.iso, text[d.start : d.end]) for d in find_dates(text)] == [
        ("2019-03-12", "2019-03-12T00:00:00Z"),
        ("2020-04-01", "2020-04-01T09:30+02:00"),
    ]


def test_verify_drops_a_sentence_once_none_of_its_spans_holds():
    text = "Revenue rose. Costs fell."
    held = {"document_id": "d", "start": 0, "end": 13, "quote": "Revenue rose."}
    lost = {"document_id": "d", "start": 14, "end": 25, "quote": "Profit doubled."}
    output = {
        "answer": [
            {"text": "Both.", "spans": [held, lost]},
            {"text": "Invented.", "spans": [lost, dict(lost)]},
            {"text": "Revenue rose.", "spans": [held]},
        ],
        "rows": [{"cells": {"a": {"status": "answered", "spans": [lost]}}}],
    }
    report = verify(output, {"d": text}, policy="drop")
    assert [s["text"] for s in report.output["answer"]] == ["Both.", "Revenue rose."]
    assert report.output["answer"][0]["spans"] == [held]
    assert report.output["rows"][0]["cells"]["a"]["spans"] == []
    assert (report.checked, report.dropped) == (6, 3)
    assert "3 finding(s) dropped" in report.output["warnings"][0]


def test_verify_drops_from_a_list_the_result_holds_twice_only_once_per_place():
    text = "Revenue rose. Costs fell."
    held = {"document_id": "d", "start": 0, "end": 13, "quote": "Revenue rose."}
    lost = {"document_id": "d", "start": 14, "end": 25, "quote": "Profit doubled."}
    spans = [lost, held]
    output = {"summary": [{"text": "qtrly.", "spans": spans}, {"text": "q3.", "spans": spans}]}
    report = verify(output, {"d": text}, policy="drop")
    assert [bullet["spans"] for bullet in report.output["summary"]] == [[held], [held]]
    assert report.dropped == 2 and output["summary"][0]["spans"] == [lost, held]
