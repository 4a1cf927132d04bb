"""An OpenDocument's list labels and heading numbers ("4.", "2.1", "(b)", "iv."), which it leaves to its list
styles and its outline style rather than keeping them in the text: each numbered paragraph's label, counted as
LibreOffice counts it.

A list's style is its own `text:style-name`, else its enclosing list's, else the list style of its first
paragraph's style. A list starts counting anew unless it continues the list before it
(`text:continue-numbering`) or a named one (`text:continue-list`); a list inside a list item counts on with the
list around it, one level down. An item's first paragraph carries its label; a `text:list-header` has none.
A heading outside any list is numbered by the outline style at its `text:outline-level`, headings counting on
through the whole document. The label is the level's prefix, the numbers of the `text:display-levels` levels
above it, each followed by a period, its own number and its suffix; bullets and images have none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from quire.documents.docx_numbering import int_value, number_formatted

_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_XML = "{http://www.w3.org/XML/1998/namespace}"
T = TypeVar("T")

LIST = _TEXT + "list"
LIST_ITEM = _TEXT + "list-item"
LIST_HEADER = _TEXT + "list-header"
HEADING = _TEXT + "h"
LIST_STYLE = _TEXT + "list-style"
OUTLINE_STYLE = _TEXT + "outline-style"
NUMBER_LEVEL = _TEXT + "list-level-style-number"
OUTLINE_LEVEL = _TEXT + "outline-level-style"
LEVEL_STYLES = {
    NUMBER_LEVEL,
    OUTLINE_LEVEL,
    _TEXT + "list-level-style-bullet",
    _TEXT + "list-level-style-image",
}
PARAGRAPH_STYLE = _STYLE + "style"
LEVELS = 10
# ODF's number formats in the DOCX reader's words; an empty one shows no number.
_FORMATS = {"1": "decimal", "a": "lowerLetter", "A": "upperLetter", "i": "lowerRoman", "I": "upperRoman"}
_FOLLOWED_BY = {"listtab": " ", "space": " ", "nothing": ""}


def inherited(styles: dict[str, tuple[T, str | None]], name: str | None) -> T | None:
    """The first set value of a style property along the style's chain of `style:parent-style-name`: `styles`
    maps a style to (its own value, its parent)."""
    seen: set[str] = set()
    while name and name not in seen:
        seen.add(name)
        value, name = styles.get(name, (None, None))
        if value:
            return value
    return None


@dataclass(frozen=True)
class LevelStyle:
    numbered: bool = False
    fmt: str = ""
    prefix: str = ""
    suffix: str = ""
    display: int = 1
    start: int = 1
    letter_sync: bool = False
    followed_by: str = " "

    def number(self, value: int) -> str:
        if self.fmt in ("a", "A") and not self.letter_sync and value > 0:
            # Spreadsheet-like letters past z: aa, ab, ... (with letter sync: aa, bb, ...).
            letters = ""
            while value > 0:
                value, rest = divmod(value - 1, 26)
                letters = chr(ord("a") + rest) + letters
            return letters.upper() if self.fmt == "A" else letters
        return number_formatted(value, _FORMATS.get(self.fmt, "none"))


def _level_style(element) -> LevelStyle:
    if element.tag not in (NUMBER_LEVEL, OUTLINE_LEVEL):
        return LevelStyle()
    alignment = next(element.iter(_STYLE + "list-level-label-alignment"), None)
    followed_by = alignment.get(_TEXT + "label-followed-by") if alignment is not None else None
    start = element.get(_TEXT + "start-value")
    return LevelStyle(
        numbered=True,
        fmt=element.get(_STYLE + "num-format") or "",
        prefix=element.get(_STYLE + "num-prefix") or "",
        suffix=element.get(_STYLE + "num-suffix") or "",
        display=min(max(int_value(element.get(_TEXT + "display-levels")), 1), LEVELS),
        start=int_value(start) if start is not None else 1,
        letter_sync=element.get(_STYLE + "num-letter-sync") == "true",
        followed_by=_FOLLOWED_BY.get(followed_by or "listtab", " "),
    )


@dataclass
class _List:
    element: object
    style: str | None
    level: int
    counters: list[int | None]


@dataclass
class _Item:
    element: object
    start: int | None
    header: bool
    labelled: bool = False


@dataclass
class OdtNumbering:
    """The list styles and outline style read so far (`read_styles`), and the counters of the lists and items
    the body has opened (`start`, `end`), from which `label` numbers each paragraph."""

    styles: dict[str, dict[int, LevelStyle]] = field(default_factory=dict)
    outline_name: str | None = None
    # Paragraph style to (its list style, the style it is based on).
    paragraph_styles: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    open: list[_List | _Item] = field(default_factory=list)
    by_id: dict[str, list[int | None]] = field(default_factory=dict)
    last: list[int | None] | None = None
    outline: list[int | None] = field(default_factory=lambda: [None] * LEVELS)

    def read_styles(self, root) -> None:
        """Take the list styles, outline style and paragraph styles under `root` (styles.xml's root, or
        content.xml's automatic styles)."""
        for element in root.iter(LIST_STYLE, OUTLINE_STYLE, PARAGRAPH_STYLE):
            name = element.get(_STYLE + "name") or ""
            if element.tag == PARAGRAPH_STYLE:
                if element.get(_STYLE + "family") == "paragraph":
                    self.paragraph_styles[name] = (
                        element.get(_STYLE + "list-style-name"),
                        element.get(_STYLE + "parent-style-name"),
                    )
                continue
            levels = {
                int_value(level.get(_TEXT + "level")) - 1: _level_style(level)
                for level in element
                if level.tag in LEVEL_STYLES
            }
            levels = {level: style for level, style in levels.items() if 0 <= level < LEVELS}
            if element.tag == OUTLINE_STYLE:
                self.outline_name = name or "Outline"
                self.styles[self.outline_name] = levels
            else:
                self.styles[name] = levels

    def start(self, element) -> None:
        tag = element.tag
        if tag == LIST:
            self._list_start(element)
        elif tag in (LIST_ITEM, LIST_HEADER):
            start = element.get(_TEXT + "start-value")
            self.open.append(
                _Item(element, int_value(start) if start is not None else None, tag == LIST_HEADER)
            )

    def end(self, element) -> None:
        if element.tag in (LIST, LIST_ITEM, LIST_HEADER) and self.open and self.open[-1].element is element:
            self.open.pop()

    def _list_start(self, element) -> None:
        outer = next((frame for frame in reversed(self.open) if isinstance(frame, _List)), None)
        style = element.get(_TEXT + "style-name") or (outer.style if outer else None)
        if outer is not None:
            frame = _List(element, style, min(outer.level + 1, LEVELS - 1), outer.counters)
        else:
            continued = element.get(_TEXT + "continue-list")
            if continued in self.by_id:
                counters = self.by_id[continued]
            elif element.get(_TEXT + "continue-numbering") == "true" and self.last is not None:
                counters = self.last
            elif style is not None and style == self.outline_name:
                counters = self.outline
            else:
                counters = [None] * LEVELS
            frame = _List(element, style, 0, counters)
            self.last = counters
        if list_id := element.get(_XML + "id"):
            self.by_id[list_id] = frame.counters
        self.open.append(frame)

    def label(self, paragraph) -> tuple[str, str] | None:
        """The label of this paragraph (at its end) and what follows it; counts it. None where it has none."""
        item = self.open[-1] if self.open else None
        if isinstance(item, _Item):
            if item.labelled or item.header:
                return None
            item.labelled = True
            frame = next((frame for frame in reversed(self.open) if isinstance(frame, _List)), None)
            if frame is None:
                return None
            style = frame.style or inherited(self.paragraph_styles, paragraph.get(_TEXT + "style-name"))
            return self._count(self.styles.get(style or "", {}), frame.counters, frame.level, item.start)
        if paragraph.tag != HEADING or self.open or paragraph.get(_TEXT + "is-list-header") == "true":
            return None
        level = int_value(paragraph.get(_TEXT + "outline-level")) - 1
        if not 0 <= level < LEVELS or self.outline_name is None:
            return None
        levels = self.styles[self.outline_name]
        start = paragraph.get(_TEXT + "start-value")
        first = int_value(start) if start is not None else None
        if first is None and paragraph.get(_TEXT + "restart-numbering") == "true":
            first = levels.get(level, LevelStyle()).start
        return self._count(levels, self.outline, level, first)

    @staticmethod
    def _count(
        levels: dict[int, LevelStyle], counters: list[int | None], level: int, start: int | None
    ) -> tuple[str, str] | None:
        this = levels.get(level, LevelStyle())
        current = counters[level]
        counters[level] = start if start is not None else this.start if current is None else current + 1
        for deeper in range(level + 1, LEVELS):
            counters[deeper] = None
        if not this.numbered:
            return None
        numbers = []
        for upper in range(max(level - this.display + 1, 0), level + 1):
            style = levels.get(upper, LevelStyle())
            value = counters[upper] if counters[upper] is not None else style.start
            numbers.append(style.number(value))
        label = (this.prefix + ".".join(number for number in numbers if number) + this.suffix).strip()
        return (label, this.followed_by) if label else None
