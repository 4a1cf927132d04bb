"""JSON a client sends, read within bounds: how deep it nests, counted without parsing it, and `json_value`,
the one reading of a request's JSON (API bodies, list cursors, the portal's job options) that refuses what
would fail later, where nobody could say why: nesting past `MAX_DEPTH` (Python's decoder, encoder and the
exports recurse per level), a number past a 64-bit float's range (1e400 would read as `inf`, an integer of
thousands of digits past Python's own limit), NaN and Infinity, and a lone surrogate escape such as
`"\\ud800"`, which is no character: UTF-8, PostgreSQL and every response refuse it."""

from __future__ import annotations

import itertools
import json
import math
import re

MAX_DEPTH = 64
"""The deepest arrays and objects nest in a request's JSON; the deepest the API's own bodies need is 5."""

# A string from its opening quote to its closing one, or to the end of the text when it has none. Every
# quantifier is possessive and the match cannot fail once it starts at a quote, so the scan never comes
# back to a character it has passed: linear however quotes and backslashes are arranged, an unterminated
# string of escaped quotes included.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE = re.compile("[\ud800-\udfff]")


def json_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text`, counted without parsing it (strings, an
    unterminated one too, skipped), in time linear in its length."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets), initial=0))


def _shown(number: str) -> str:
    return number if len(number) <= 24 else f"{number[:20]}... ({len(number)} characters)"


def _in_range(number: str) -> None:
    if math.isinf(float(number)):
        raise ValueError(f"the number {_shown(number)} is out of range (at most ±1.8e308)")


def _integer(number: str) -> int:
    _in_range(number)
    return int(number)


def _float(number: str) -> float:
    _in_range(number)
    return float(number)


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


NUMBER_HOOKS = {"parse_int": _integer, "parse_float": _float, "parse_constant": _constant}
"""`json.loads` / `json.JSONDecoder` keywords that refuse (ValueError) a number past a 64-bit float's range,
NaN and Infinity: what `json_value` reads a client's JSON with, and the connectors a model's reply."""


def _lone_surrogate(value: object) -> str | None:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and (found := _SURROGATE.search(item)):
            return found.group()
    return None


def _object_of_unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {json.dumps(key)} appears more than once in one object")
            seen.add(key)
    return value


def json_value(text: str, *, unique_keys: bool = False) -> object:
    """`text` read as JSON, or a ValueError saying what is wrong with it: no JSON, nesting deeper than
    `MAX_DEPTH`, a number out of a 64-bit float's range, NaN or Infinity, a string (a key too) holding a
    lone surrogate, or, with `unique_keys`, an object naming a key twice (else its last value counts)."""
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"the JSON nests {depth} levels deep; at most {MAX_DEPTH} are read")
    hooks = {"object_pairs_hook": _object_of_unique_keys} if unique_keys else {}
    value = json.loads(text, **NUMBER_HOOKS, **hooks)
    if (surrogate := _lone_surrogate(value)) is not None:
        raise ValueError(f"a string holds the lone surrogate \\u{ord(surrogate):04x}, which is no character")
    return value
