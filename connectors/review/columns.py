"""Review columns: the types a cell can hold and the checks on a column list (each refusal names its param)."""

from __future__ import annotations

from connectors.base import OptionError
from connectors.legal.custom import KEY_PATTERN, HeadError, check_key
from connectors.review.templates import TEMPLATES

TYPES = (
    "text",
    "clause",
    "date",
    "duration",
    "money",
    "number",
    "percent",
    "yes_no",
    "party",
    "enum",
    "list",
)
MAX_COLUMNS = 50
MAX_DOCUMENTS = 1000
MAX_QUESTION_CHARS = 500
MAX_CHOICES = 50
MAX_CHOICE_CHARS = 200
DEFAULT_FLOOR = 0.35
_COLUMN_FIELDS = {"key", "question", "type", "choices", "clause_type"}


def validate_columns(options: dict) -> list[dict]:
    """The checked columns of `options`: a `template` name, own `columns`, or both (the template's first)."""
    template = options.get("template")
    columns: list[dict] = []
    if template is not None:
        if not isinstance(template, str) or template not in TEMPLATES:
            raise OptionError(
                f"unknown template {template!r}; known: {', '.join(sorted(TEMPLATES))}", "options.template"
            )
        columns.extend(dict(column, choices=None) for column in TEMPLATES[template])
    own = options.get("columns", [])
    if not isinstance(own, list):
        raise OptionError("columns must be a list of {key, question, type, choices?}", "options.columns")
    columns.extend(_column(raw, f"options.columns.{index}") for index, raw in enumerate(own))
    if not columns:
        raise OptionError("a review needs a template or at least one column", "options.columns")
    if len(columns) > MAX_COLUMNS:
        raise OptionError(
            f"a review has at most {MAX_COLUMNS} columns; got {len(columns)}", "options.columns"
        )
    seen: set[str] = set()
    for index, column in enumerate(columns):
        if column["key"] in seen:
            raise OptionError(
                f"column key {column['key']!r} appears twice", column_param(template, index, "key")
            )
        seen.add(column["key"])
    return columns


def column_param(template: str | None, index: int, field: str) -> str:
    """The param naming `field` of the checked column at `index`: a template's columns come first, so the
    column's place among the review's own `options.columns`."""
    offset = len(TEMPLATES[template]) if template else 0
    return f"options.columns.{index - offset}.{field}"


def _column(raw: object, param: str) -> dict:
    if not isinstance(raw, dict):
        raise OptionError("a column is an object {key, question, type, choices?}", param)
    unknown = set(raw) - _COLUMN_FIELDS
    if unknown:
        raise OptionError(f"unknown column field(s): {', '.join(sorted(unknown))}", f"{param}.{min(unknown)}")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        raise OptionError(
            "key must be 1-60 characters of lower-case letters, digits and _, starting with a letter",
            f"{param}.key",
        )
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise OptionError("question must be a non-empty string", f"{param}.question")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise OptionError(f"question is longer than {MAX_QUESTION_CHARS} characters", f"{param}.question")
    kind = raw.get("type", "text")
    if kind not in TYPES:
        raise OptionError(f"unknown column type {kind!r}; known: {', '.join(TYPES)}", f"{param}.type")
    choices = raw.get("choices")
    if kind == "enum":
        if (
            not isinstance(choices, list)
            or not choices
            or len(choices) > MAX_CHOICES
            or not all(isinstance(c, str) and c.strip() for c in choices)
        ):
            raise OptionError(
                f"an enum column needs choices: 1-{MAX_CHOICES} non-empty strings", f"{param}.choices"
            )
        choices = _choices(choices, f"{param}.choices")
    elif choices is not None:
        raise OptionError("choices are only for enum columns", f"{param}.choices")
    column = {"key": key, "question": question, "type": kind, "choices": choices}
    if raw.get("clause_type") is not None:
        if kind != "clause":
            raise OptionError("clause_type is only for clause columns", f"{param}.clause_type")
        try:
            column["clause_type"] = check_key(raw["clause_type"], f"{param}.clause_type")
        except HeadError as exc:
            raise OptionError(str(exc), exc.param) from exc
    return column


def _choices(choices: list[str], param: str) -> list[str]:
    """An enum column's choices, stripped; each at most `MAX_CHOICE_CHARS` characters and given once (case and
    surrounding blanks aside: "Delaware" and " delaware" are one choice, which no cell could tell apart)."""
    checked: list[str] = []
    seen: set[str] = set()
    for index, choice in enumerate(c.strip() for c in choices):
        if len(choice) > MAX_CHOICE_CHARS:
            raise OptionError(f"a choice is at most {MAX_CHOICE_CHARS} characters", f"{param}.{index}")
        if choice.casefold() in seen:
            raise OptionError(f"choice {choice!r} appears twice", f"{param}.{index}")
        seen.add(choice.casefold())
        checked.append(choice)
    return checked


def validate_floor(options: dict) -> float:
    floor = options.get("confidence_floor", DEFAULT_FLOOR)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0.0 <= floor <= 1.0:
        raise OptionError("confidence_floor must be a number from 0 to 1", "options.confidence_floor")
    return float(floor)


def same_column(first: dict, second: dict) -> bool:
    return all(
        first.get(name) == second.get(name)
        for name in (
            "key",
            "question",
            "type",
            "choices",
            "clause_type",
            "clause_type_id",
            "clause_type_version",
        )
    )
