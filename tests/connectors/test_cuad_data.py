import csv
import json
import re
import unicodedata
from pathlib import Path

import pytest

from connectors.cli import main
from connectors.legal import cuad_data
from connectors.legal.categories import CUAD_CATEGORIES
from connectors.legal.cuad_data import csv_categories, name_key, prepare, read_release
from connectors.legal.training import CUAD_TEST_SPLIT, heldout_contracts, read_contracts

TESTS_DATA = Path(__file__).resolve().parents[1] / "data" / "cuad" / "labels.jsonl"
# The category columns of CUAD v1's master_clauses.csv in its order (that of tests/data's labels), spelt as the
# release spells them: "IP Ownership Assignment", "Notice Period to Terminate Renewal".
RELEASE_COLUMNS = tuple(
    re.sub(r"\b(To|Of|For|On|Or)\b", lambda word: word.group(0).lower(), category).replace("Ip ", "IP ")
    for category in json.loads(TESTS_DATA.read_text(encoding="utf-8").splitlines()[0])["clauses"]
)
HEADER = ["Filename", *(name for column in RELEASE_COLUMNS for name in (column, f"{column}-Answer"))]

ACME = "ACMECORP_01_02_2003-EX-10.1-SUPPLY AGREEMENT"
ONEILL = "O_NEILL_LECLANCHÉ S.A. - JOINT DEVELOPMENT AGREEMENT "
LOHA = "LohaCompanyltd_20191209_F-1_EX-10.16_11917878_EX-10.16_Supply Agreement"
ZETA = "ZETACORP_05_06_2007-EX-10.2-DISTRIBUTOR AGREEMENT"
TEXTS = {
    ACME: "SUPPLY AGREEMENT\r\n\r\nThis Agreement is governed by the laws of Delaware.\r\nPrice: 5 €.\n".encode(),
    ONEILL: b"JOINT DEVELOPMENT AGREEMENT\n\nAll inventions vest in O'Neill.\n",
    LOHA: b"SUPPLY AGREEMENT\n\nLoha supplies the goods.\n",
    ZETA: b"DISTRIBUTOR AGREEMENT\n\nZeta distributes the goods.\n",
}


def csv_row(filename: str, cells: dict[str, tuple[str, str]]) -> list[str]:
    row = [filename]
    for column in RELEASE_COLUMNS:
        row.extend(cells.get(column, ("", "")))
    return row


ROWS = [
    csv_row(
        unicodedata.normalize("NFD", "o'neill&leclanché s.a. - joint development agreement.PDF'"),
        {"IP Ownership Assignment": ("['All inventions vest in O\\'Neill.']", "Yes")},
    ),
    csv_row(f"{LOHA}.pdf", {"Document Name": ("['SUPPLY AGREEMENT']", "SUPPLY AGREEMENT")}),
    csv_row(
        f"{ACME}.PDF",
        {
            "Document Name": ("['SUPPLY AGREEMENT']", "SUPPLY AGREEMENT"),
            "Parties": ("['Acme Corp.', \"O'Brien LLC\"]", "Acme Corp.; O'Brien LLC"),
            "Governing Law": ("['This Agreement is governed by the laws of Delaware.']", "Delaware"),
        },
    ),
    csv_row(f"{ZETA}.pdf", {}),
]


def make_release(root: Path, rows: list[list[str]] = ROWS, texts: dict[str, bytes] = TEXTS) -> Path:
    (root / "full_contract_txt").mkdir(parents=True)
    for name, text in texts.items():
        (root / "full_contract_txt" / f"{name}.txt").write_bytes(text)
    with (root / "master_clauses.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return root


def labels(out: Path) -> list[dict]:
    return [
        json.loads(line) for line in (out / "cuad" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    ]


CSV_CATEGORIES = csv_categories(HEADER, Path("master_clauses.csv"))


def test_categories_are_the_labels_columns_in_csv_order():
    first = json.loads(TESTS_DATA.read_text(encoding="utf-8").splitlines()[0])
    assert list(first["clauses"]) == list(first["answers"]) == CSV_CATEGORIES
    assert sorted(CSV_CATEGORIES) == sorted(CUAD_CATEGORIES)
    assert [c.casefold() for c in RELEASE_COLUMNS] == [c.casefold() for c in CSV_CATEGORIES]


@pytest.mark.parametrize(
    "header",
    [
        HEADER[:-2],
        ["Name", *HEADER[1:]],
        [*HEADER[:-2], "Unknown Clause", "Unknown Clause-Answer"],
        [*HEADER[:-1], "Third Party Beneficiary Answer"],
        [*HEADER[:-2], *HEADER[1:3]],
    ],
)
def test_a_header_that_is_not_cuads_is_refused(header):
    with pytest.raises(ValueError, match=r"master_clauses\.csv"):
        csv_categories(header, Path("master_clauses.csv"))


def test_name_key_normalises_the_release_spellings():
    assert name_key(f"{ACME}.PDF") == name_key(ACME)
    assert name_key("MACY'S,INC_05_11_2020-EX-99.4-JOINT FILING AGREEMENT.PDF") == name_key(
        "MACY_S,INC_05_11_2020-EX-99.4-JOINT FILING AGREEMENT"
    )
    assert name_key("KALLOINC-STRATEGIC ALLIANCE AGREEMENT.PDF'") == name_key(
        "KALLOINC-STRATEGIC ALLIANCE AGREEMENT"
    )
    assert name_key(unicodedata.normalize("NFD", "É")) == name_key("é")


def test_prepare_writes_the_train_rows_in_filename_order(tmp_path):
    cuad = make_release(tmp_path / "CUAD_v1")
    out = tmp_path / "train"
    report = prepare(cuad=cuad, out=out, test_titles={LOHA}, heldout={ZETA})
    assert report["csv_rows"] == 4 and report["contracts"] == 2
    assert report["skipped_test_split"] == 1 and report["skipped_heldout"] == 1
    assert LOHA in CUAD_TEST_SPLIT
    rows = labels(out)
    assert [(r["document_id"], r["source_file"], r["split"]) for r in rows] == [
        ("cuad_000", ACME, "dev"),
        ("cuad_003", ONEILL, "dev"),
    ]
    acme, oneill = rows
    assert list(acme) == ["document_id", "source_file", "split", "clauses", "answers"]
    assert list(acme["clauses"]) == list(acme["answers"]) == CSV_CATEGORIES
    assert acme["clauses"]["Parties"] == ["Acme Corp.", "O'Brien LLC"]
    assert acme["clauses"]["Renewal Term"] == [] and acme["answers"]["Renewal Term"] == ""
    assert acme["answers"]["Governing Law"] == "Delaware"
    assert oneill["clauses"]["Ip Ownership Assignment"] == ["All inventions vest in O'Neill."]
    assert oneill["answers"]["Ip Ownership Assignment"] == "Yes"
    assert sorted(p.name for p in (out / "cuad" / "contracts").iterdir()) == ["cuad_000.txt", "cuad_003.txt"]
    assert (out / "cuad" / "contracts" / "cuad_000.txt").read_bytes() == TEXTS[ACME]
    assert (out / "cuad" / "contracts" / "cuad_003.txt").read_bytes() == TEXTS[ONEILL]

    contracts = read_contracts(out)
    assert [(c.document_id, c.source_file) for c in contracts] == [("cuad_000", ACME), ("cuad_003", ONEILL)]
    assert contracts[0].gold["Governing Law"] == ["This Agreement is governed by the laws of Delaware."]
    assert contracts[1].gold["Ip Ownership Assignment"] == ["All inventions vest in O'Neill."]


def test_every_row_and_title_must_match_exactly_one_file(tmp_path):
    cuad = make_release(tmp_path / "unmatched", rows=[*ROWS, csv_row("NOSUCHCORP-AGREEMENT.pdf", {})])
    with pytest.raises(ValueError, match=r"Filename 'NOSUCHCORP-AGREEMENT.pdf' matches 0 files"):
        read_release(cuad)
    cuad = make_release(
        tmp_path / "ambiguous", texts={**TEXTS, "ACMECORP_01_02_2003-EX-10.1-SUPPLYAGREEMENT": b"x"}
    )
    with pytest.raises(ValueError, match="matches 2 files"):
        read_release(cuad)
    with pytest.raises(ValueError, match="test title 'NOSUCHCORP' matches 0 files"):
        prepare(
            cuad=make_release(tmp_path / "titles"),
            out=tmp_path / "out",
            test_titles={"NOSUCHCORP"},
            heldout=(),
        )


def test_bad_cells_and_headers_are_errors(tmp_path):
    bad_cell = csv_row(f"{ACME}.pdf", {"Parties": ("['Acme Corp.'", "Acme")})
    with pytest.raises(ValueError, match="'Parties': not a list literal"):
        read_release(make_release(tmp_path / "cell", rows=[bad_cell], texts={ACME: b"x"}))
    cuad = make_release(tmp_path / "header")
    text = (cuad / "master_clauses.csv").read_text(encoding="utf-8")
    (cuad / "master_clauses.csv").write_text(
        text.replace("Cap on Liability", "Liability Cap"), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="'Liability Cap'"):
        read_release(cuad)


def test_heldout_contracts_are_the_eight_of_tests_data():
    heldout = heldout_contracts()
    assert (
        len(heldout) == 8
        and "PANDIONTHERAPEUTICSHOLDCOLLC_05_22_2020-EX-10.17-CONSULTING AGREEMENT" in heldout
    )


def test_cli_prepare(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cuad_data, "CUAD_TEST_SPLIT", frozenset({LOHA}))
    monkeypatch.setattr(cuad_data, "heldout_contracts", lambda: frozenset({ZETA}))
    cuad = make_release(tmp_path / "CUAD_v1")
    code = main(["prepare", "legal", "--cuad", str(cuad), "--out", str(tmp_path / "train")])
    assert code == 0 and json.loads(capsys.readouterr().out)["contracts"] == 2
    assert [r["source_file"] for r in labels(tmp_path / "train")] == [ACME, ONEILL]

    code = main(["prepare", "legal", "--cuad", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
    assert code == 2 and "missing: not a folder" in capsys.readouterr().err
    (cuad / "master_clauses.csv").unlink()
    code = main(["prepare", "legal", "--cuad", str(cuad), "--out", str(tmp_path / "x")])
    assert code == 2 and "no master_clauses.csv" in capsys.readouterr().err
