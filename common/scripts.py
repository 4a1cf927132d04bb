"""Scripts written without spaces between words (Chinese, Japanese, Korean): where a line may break between
any two characters, where a sentence ends, and the tokens a text makes, a character of them at least one."""

from __future__ import annotations

import re

CJK = (
    "\u2e80-\u2fdf"  # radicals
    "\u3001-\u303f"  # punctuation and symbols (not the ideographic space, which is whitespace)
    "\u3040-\u31ff"  # kana, bopomofo, Hangul jamo, strokes
    "\u3200-\u4dbf"  # enclosed and compatibility forms, extension A
    "\u4e00-\u9fff"  # unified ideographs
    "\ua960-\ua97f\uac00-\ud7af"  # Hangul
    "\uf900-\ufaff\ufe30-\ufe4f"  # compatibility ideographs and forms
    "\uff01-\uffee"  # full- and half-width forms
    "\U00020000-\U0003134f"  # extensions B to G
)
"""The CJK characters, as the body of a regular expression's character class."""

CJK_CHARACTER = re.compile(f"[{CJK}]")

CJK_SENTENCE_ENDS = "\u3002\uff01\uff1f\uff1b"
"""The full stop, exclamation and question marks and semicolon that end a CJK sentence, no space after them."""
CJK_CLOSERS = "\u300d\u300f\uff09\u3011\u201d\u2019"
"""What may close a CJK sentence after its end: corner brackets, a full-width parenthesis, quotation marks."""

CHARS_PER_TOKEN = 4


def estimated_tokens(text: str) -> int:
    """The tokens a language model's tokenizer makes of `text`, about: four characters a token, and a CJK
    character at least one (one to three in the tokenizers of the models served)."""
    cjk = len(text) - len(CJK_CHARACTER.sub("", text))
    return -(-(len(text) - cjk) // CHARS_PER_TOKEN) + cjk
