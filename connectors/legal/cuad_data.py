"""`python -m connectors prepare legal --cuad CUAD_DIR --out DIR`: the training DIR of `train legal`, from CUAD v1.

CUAD_DIR is the CUAD v1 release (`master_clauses.csv`, `full_contract_txt/`). DIR gets `cuad/labels.jsonl` and
`cuad/contracts/<document_id>.txt`, laid out as `tests/data` is: one `dev` row per contract of CUAD's official
train split, less the `heldout` contracts of `tests/data`, in `Filename` order (Python's string order, which
is also the order of the text file names and so of the shipped `TRAINED_ON.txt`). A contract's `document_id` is
`cuad_NNN`, NNN its position (from 000) among all the csv's rows in `Filename` order, so an id does not depend on
what is skipped and never equals a `tests/data` id (`cuad_00` … `cuad_31`). docs/training.md gives the rules.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from connectors.legal.categories import CUAD_CATEGORIES
from connectors.legal.training import CUAD_TEST_SPLIT, TRAIN_SPLIT, heldout_contracts

MASTER_CSV = "master_clauses.csv"
TEXT_FOLDER = "full_contract_txt"
FILENAME_COLUMN = "Filename"
ANSWER_SUFFIX = "-Answer"
_PDF_SUFFIX = re.compile(r"\.pdf'?$", re.IGNORECASE)
_DROPPED = re.compile(r"[ .\-]")


@dataclass(frozen=True)
class CuadRow:
    """One row of `master_clauses.csv` with the text file it names."""

    document_id: str
    filename: str
    source_file: str
    clauses: dict[str, list[str]]
    answers: dict[str, str]


def name_key(name: str) -> str:
    """The form in which csv `Filename`s, test titles and text file names are compared: NFC, a trailing `.pdf`
    (also `.pdf'`, a slip in one `Filename`) removed, `&` and `'` made `_`, spaces, `-` and `.` removed,
    case folded."""
    name = _PDF_SUFFIX.sub("", unicodedata.normalize("NFC", name))
    return _DROPPED.sub("", name.replace("&", "_").replace("'", "_")).casefold()


def match_files(names: Iterable[str], files: Iterable[str], *, what: str) -> dict[str, str]:
    """Each of `names` → the one of `files` (text file names without `.txt`) with its `name_key`; ValueError for
    a name that matches no file or several."""
    by_key: dict[str, list[str]] = {}
    for file in files:
        by_key.setdefault(name_key(file), []).append(file)
    matched, problems = {}, []
    for name in names:
        found = by_key.get(name_key(name), [])
        if len(found) == 1:
            matched[name] = found[0]
        else:
            problems.append(
                f"{what} {name!r} matches {len(found)} files{': ' if found else ''}{', '.join(found)}"
            )
    if problems:
        raise ValueError(f"{TEXT_FOLDER}/: " + "; ".join(problems))
    return matched


def text_files(cuad: Path) -> list[str]:
    """The names (without `.txt`) of CUAD_DIR's contract texts."""
    folder = cuad / TEXT_FOLDER
    if not folder.is_dir():
        raise ValueError(f"{cuad}: no {TEXT_FOLDER}/ folder (CUAD_DIR is the CUAD v1 release)")
    return sorted(path.name[: -len(".txt")] for path in folder.glob("*.txt"))


def csv_categories(header: list[str], csv_path: Path) -> list[str]:
    """CUAD's categories in the csv's column order, as `CUAD_CATEGORIES` (and `tests/data`) name them: each
    category column matched case-insensitively (`IP Ownership Assignment` is `Ip Ownership Assignment`) and
    followed by its answer column; ValueError for any other header."""
    expected = 1 + 2 * len(CUAD_CATEGORIES)
    if len(header) != expected or header[0] != FILENAME_COLUMN:
        raise ValueError(
            f"{csv_path}: expected {expected} columns starting with {FILENAME_COLUMN!r}, found {len(header)}"
        )
    named = {category.casefold(): category for category in CUAD_CATEGORIES}
    categories = []
    for column, answer in zip(header[1::2], header[2::2], strict=True):
        if column.casefold() not in named or answer != column + ANSWER_SUFFIX:
            raise ValueError(
                f"{csv_path}: columns {column!r}, {answer!r} are not a category and its answer column"
            )
        categories.append(named[column.casefold()])
    if len(set(categories)) != len(categories):
        raise ValueError(f"{csv_path}: a category column is listed twice")
    return categories


def _clauses(cell: str, *, filename: str, column: str) -> list[str]:
    try:
        clauses = ast.literal_eval(cell) if cell.strip() else []
    except (ValueError, SyntaxError) as error:
        raise ValueError(f"{MASTER_CSV}: {filename!r}, {column!r}: not a list literal ({error})") from error
    if not isinstance(clauses, list) or not all(isinstance(clause, str) for clause in clauses):
        raise ValueError(f"{MASTER_CSV}: {filename!r}, {column!r}: not a list of strings")
    return clauses


def read_release(cuad: Path) -> list[CuadRow]:
    """Every row of CUAD_DIR's `master_clauses.csv` in `Filename` order, each matched to its text file;
    ValueError when the release is incomplete or a `Filename` does not match exactly one text file."""
    if not cuad.is_dir():
        raise ValueError(f"{cuad}: not a folder (CUAD_DIR is the CUAD v1 release)")
    csv_path = cuad / MASTER_CSV
    if not csv_path.is_file():
        raise ValueError(f"{cuad}: no {MASTER_CSV} (CUAD_DIR is the CUAD v1 release)")
    files = text_files(cuad)
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    if not table:
        raise ValueError(f"{csv_path}: empty")
    header, body = table[0], sorted((row for row in table[1:] if any(row)), key=lambda row: row[0])
    categories = csv_categories(header, csv_path)
    for row in body:
        if len(row) != len(header):
            raise ValueError(f"{csv_path}: {row[0]!r} has {len(row)} cells, the header {len(header)}")
    filenames = [row[0] for row in body]
    twice = sorted(name for name, count in Counter(filenames).items() if count > 1)
    if twice:
        raise ValueError(f"{csv_path}: {FILENAME_COLUMN}s listed twice: {', '.join(twice)}")
    matched = match_files(filenames, files, what=FILENAME_COLUMN)
    shared = sorted(file for file, count in Counter(matched.values()).items() if count > 1)
    if shared:
        raise ValueError(f"{csv_path}: several {FILENAME_COLUMN}s match {', '.join(shared)}")
    rows = []
    for position, row in enumerate(body):
        filename = row[0]
        clauses, answers = {}, {}
        for column, category in enumerate(categories):
            clauses[category] = _clauses(
                row[1 + 2 * column], filename=filename, column=header[1 + 2 * column]
            )
            answers[category] = row[2 + 2 * column]
        rows.append(CuadRow(f"cuad_{position:03d}", filename, matched[filename], clauses, answers))
    return rows


def prepare(
    *,
    cuad: Path,
    out: Path,
    test_titles: Collection[str] | None = None,
    heldout: Collection[str] | None = None,
) -> dict:
    """Writes DIR (`out`) from CUAD_DIR (`cuad`): one `dev` row per csv row in `Filename` order, less the
    `test_titles` (CUAD's official test split by default) and `heldout` (those of `tests/data` by default),
    each title and held-out name matched to exactly one text file as `Filename`s are; texts copied byte for
    byte. Returns counts."""
    test_titles = CUAD_TEST_SPLIT if test_titles is None else test_titles
    heldout = heldout_contracts() if heldout is None else heldout
    rows = read_release(cuad)
    files = text_files(cuad)
    test_files = set(match_files(sorted(test_titles), files, what="test title").values())
    heldout_files = set(match_files(sorted(heldout), files, what="heldout contract").values()) - test_files
    kept = [row for row in rows if row.source_file not in test_files | heldout_files]
    contracts = out / "cuad" / "contracts"
    contracts.mkdir(parents=True, exist_ok=True)
    lines = []
    for row in kept:
        text = (cuad / TEXT_FOLDER / f"{row.source_file}.txt").read_bytes()
        (contracts / f"{row.document_id}.txt").write_bytes(text)
        record = {
            "document_id": row.document_id,
            "source_file": row.source_file,
            "split": TRAIN_SPLIT,
            "clauses": row.clauses,
            "answers": row.answers,
        }
        lines.append(json.dumps(record) + "\n")
    (out / "cuad" / "labels.jsonl").write_text("".join(lines), encoding="utf-8")
    return {
        "csv_rows": len(rows),
        "skipped_test_split": sum(1 for row in rows if row.source_file in test_files),
        "skipped_heldout": sum(1 for row in rows if row.source_file in heldout_files),
        "contracts": len(kept),
        "labels": str(out / "cuad" / "labels.jsonl"),
    }
