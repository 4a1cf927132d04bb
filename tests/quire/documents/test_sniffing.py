"""Hostile and odd bytes at the door: what sniffing and unpacking make of them is a type or a refusal
(415/413, or a batch's `refused` entry), never an exception that answers 500, and never slower than
linear in the bytes."""

from __future__ import annotations

from quire.documents.limits import json_depth
from quire.documents.sniffing import TEXT, sniff_content_type

# --- JSON depth -------------------------------------------------------------------------------------------


def test_json_depth_is_linear_on_an_unterminated_string_of_escaped_quotes():
    content = b'{"' + b'\\"' * 500_000
    assert json_depth(content.decode()) == 1
    assert sniff_content_type(content) == TEXT


def test_json_depth_skips_escapes_and_an_unterminated_string():
    assert json_depth('["a\\\\", [1]]') == 2
    assert json_depth('["a", "[[[') == 1
