"""A DOCX's list numbers ("1.", "12.3", "(a)", "iv."), which Word draws from `word/numbering.xml` rather than
keeping in the text: each numbered paragraph's label, counted as Word counts it."""

from __future__ import annotations

from dataclasses import dataclass, field

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
W_VAL = _W + "val"
LEVELS = 9
# Roman numerals' letters and values, largest first.
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"))
_ROMAN += ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
# What follows a label: a tab (read as a space), a space, or nothing.
_SUFFIXES = {"tab": " ", "space": " ", "nothing": ""}
# lxml's settings for a part read from an upload: no entities expanded, no DTD loaded, nothing fetched.
XML_SAFE = {"resolve_entities": False, "load_dtd": False, "no_network": True}
# The values that turn an on/off property (`w:b`, `w:titlePg`, `w:isLgl`...) off.
_OFF = {"0", "false", "off"}


@dataclass
class Level:
    """One level of a list: its number format, label text (`%1.%2`), first number, the level after whose
    use it starts again (`lvlRestart`, 1-based; 0 never; None after any level above it), whether it shows
    every level's number as a decimal (`isLgl`), what follows the label, and the paragraph style it numbers."""

    fmt: str = "decimal"
    text: str = ""
    start: int = 1
    restart: int | None = None
    legal: bool = False
    suffix: str = " "
    style: str | None = None


@dataclass
class _Num:
    abstract: str
    # Levels the instance replaces (`lvlOverride/lvl`) and the numbers it starts levels at (`startOverride`).
    levels: dict[int, Level] = field(default_factory=dict)
    starts: dict[int, int] = field(default_factory=dict)


class Numbering:
    """The lists a DOCX defines and the numbering styles of its paragraph styles, and the counters of the
    paragraphs read so far: lists of one abstract definition count on together, as Word counts them, and an
    instance that overrides a level's start starts it again where it is first used."""

    def __init__(self, numbering_xml: bytes | None, styles_xml: bytes | None) -> None:
        self.abstracts: dict[str, dict[int, Level]] = {}
        # A list style's abstract definition (`numStyleLink`) to the style, then to the list it numbers by.
        self.style_links: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.nums: dict[str, _Num] = {}
        # Paragraph style id to (numId, ilvl) as the style and the styles it is based on give them.
        self.styles: dict[str, tuple[str | None, int | None]] = {}
        self.default_style: str | None = None
        # Styles that hide the text they are set on: `w:vanish` is a toggle, so a style hides where its own and
        # the styles it is based on set it an odd number of times.
        self.hiding: set[str] = set()
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[tuple[str, int]] = set()
        if numbering_xml:
            self._read_numbering(parse_xml(numbering_xml))
        if styles_xml:
            self._read_styles(parse_xml(styles_xml))

    def __bool__(self) -> bool:
        return bool(self.nums)

    def restarted(self) -> Numbering:
        """The same lists with no paragraph counted yet (another part's: a footnote's, a header's)."""
        fresh = object.__new__(Numbering)
        fresh.__dict__.update(self.__dict__)
        fresh.counters, fresh.started = {}, set()
        return fresh

    def label(self, num_id: str | None, level: int | None, style: str | None) -> tuple[str, str] | None:
        """The label of the next paragraph numbered by `num_id` at `level` (its own `numPr`, either may be
        None) or by its paragraph style, and what follows it; counts the paragraph. None where the paragraph
        is not numbered or its list is one of bullets."""
        style = style or self.default_style
        style_num, style_level = self.styles.get(style or "", (None, None))
        num_id = num_id if num_id is not None else style_num
        if num_id is None or num_id == "0" or num_id not in self.nums:
            return None
        num = self.nums[num_id]
        levels = self._levels(num)
        if level is None:
            level = style_level
        if level is None:
            level = next((i for i, lvl in levels.items() if style and lvl.style == style), 0)
        level = min(max(level, 0), LEVELS - 1)
        if level not in levels:
            return None
        counters = self.counters.setdefault(num.abstract, [None] * LEVELS)
        if level in num.starts and (num_id, level) not in self.started:
            self.started.add((num_id, level))
            counters[level] = num.starts[level] - 1
        current = counters[level]
        counters[level] = levels[level].start if current is None else current + 1
        for deeper in range(level + 1, LEVELS):
            restart = levels[deeper].restart if deeper in levels else None
            if restart is None or (restart and level < restart):
                counters[deeper] = None
        this = levels[level]
        if this.fmt == "bullet":
            return None
        text = this.text
        for shown in range(LEVELS - 1, -1, -1):
            placeholder = f"%{shown + 1}"
            if placeholder in text:
                other = levels.get(shown, Level())
                value = counters[shown] if counters[shown] is not None else other.start
                text = text.replace(
                    placeholder, number_formatted(value, "decimal" if this.legal else other.fmt)
                )
        text = text.strip()
        return (text, this.suffix) if text else None

    def _levels(self, num: _Num) -> dict[int, Level]:
        abstract = self.abstracts.get(num.abstract, {})
        if not abstract and num.abstract in self.links:
            # A list style's definition (`numStyleLink`) takes its levels from the list the style numbers by.
            linked = self.nums.get(self.links[num.abstract])
            abstract = self.abstracts.get(linked.abstract, {}) if linked else {}
        return {**abstract, **num.levels}

    def _read_numbering(self, root) -> None:
        for abstract in root.iterfind(_W + "abstractNum"):
            key = abstract.get(_W + "abstractNumId") or ""
            self.abstracts[key] = {
                int_value(lvl.get(_W + "ilvl")): _level(lvl) for lvl in abstract.iterfind(_W + "lvl")
            }
            link = abstract.find(_W + "numStyleLink")
            if link is not None and link.get(W_VAL):
                self.style_links[key] = link.get(W_VAL) or ""
        for num in root.iterfind(_W + "num"):
            reference = num.find(_W + "abstractNumId")
            instance = _Num(reference.get(W_VAL) or "" if reference is not None else "")
            for override in num.iterfind(_W + "lvlOverride"):
                level = int_value(override.get(_W + "ilvl"))
                start = override.find(_W + "startOverride")
                if start is not None:
                    instance.starts[level] = int_value(start.get(W_VAL))
                replaced = override.find(_W + "lvl")
                if replaced is not None:
                    instance.levels[level] = _level(replaced)
            self.nums[num.get(_W + "numId") or ""] = instance

    def _read_styles(self, root) -> None:
        own: dict[str, tuple[str | None, int | None]] = {}
        based_on: dict[str, str] = {}
        vanishes: set[str] = set()
        for style in root.iterfind(_W + "style"):
            key = style.get(_W + "styleId") or ""
            parent = style.find(_W + "basedOn")
            if parent is not None and parent.get(W_VAL):
                based_on[key] = parent.get(W_VAL) or ""
            vanish = style.find(f"{_W}rPr/{_W}vanish")
            if vanish is not None and is_on(vanish.get(W_VAL)):
                vanishes.add(key)
            num_pr = style.find(f"{_W}pPr/{_W}numPr")
            if num_pr is not None:
                own[key] = _num_pr(num_pr)
            if style.get(_W + "type") == "paragraph" and style.get(_W + "default") in ("1", "true", "on"):
                self.default_style = key
        for key in set(own) | set(based_on):
            num_id, level, seen, current = None, None, set(), key
            while current and current not in seen:
                seen.add(current)
                style_num, style_level = own.get(current, (None, None))
                num_id = num_id if num_id is not None else style_num
                level = level if level is not None else style_level
                current = based_on.get(current, "")
            if num_id is not None:
                self.styles[key] = (num_id, level)
        for key in vanishes | set(based_on):
            hides, seen, current = False, set(), key
            while current and current not in seen:
                seen.add(current)
                hides ^= current in vanishes
                current = based_on.get(current, "")
            if hides:
                self.hiding.add(key)
        # A list style (`numStyleLink` names it) numbers by the list its own `numPr` names.
        for abstract, style in self.style_links.items():
            num_id = self.styles.get(style, (None, None))[0]
            if num_id is not None:
                self.links[abstract] = num_id


def _num_pr(num_pr) -> tuple[str | None, int | None]:
    num_id = num_pr.find(_W + "numId")
    level = num_pr.find(_W + "ilvl")
    return (
        num_id.get(W_VAL) if num_id is not None else None,
        int_value(level.get(W_VAL)) if level is not None else None,
    )


def _level(lvl) -> Level:
    def value(name: str) -> str | None:
        element = lvl.find(_W + name)
        return element.get(W_VAL) if element is not None else None

    restart = value("lvlRestart")
    legal = lvl.find(_W + "isLgl")
    return Level(
        fmt=value("numFmt") or "decimal",
        text=value("lvlText") or "",
        start=int_value(value("start")) if value("start") is not None else 1,
        restart=int_value(restart) if restart is not None else None,
        legal=legal is not None and is_on(legal.get(W_VAL)),
        suffix=_SUFFIXES.get(value("suff") or "tab", " "),
        style=value("pStyle"),
    )


def number_formatted(value: int, fmt: str) -> str:
    """`value` in a list number format (`decimal`, `lowerRoman`, `upperLetter`, `none`...)."""
    if fmt in ("upperRoman", "lowerRoman") and value > 0:
        roman = _roman(value)
        return roman.upper() if fmt == "upperRoman" else roman
    if fmt in ("upperLetter", "lowerLetter") and value > 0:
        # Word's letters: a to z, then aa to zz, then aaa...
        letter = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt == "decimalZero":
        return f"{value:02d}"
    if fmt == "ordinal":
        suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
        return f"{value}{suffix}"
    if fmt == "none":
        return ""
    return str(value)


def _roman(value: int) -> str:
    out = []
    for number, letters in _ROMAN:
        count, value = divmod(value, number)
        out.append(letters * count)
    return "".join(out)


def parse_xml(xml: bytes):
    """The root element of an uploaded XML part, read with `XML_SAFE`."""
    from lxml import etree

    return etree.fromstring(xml, etree.XMLParser(**XML_SAFE))


def int_value(value: str | None) -> int:
    """A `w:val` (or other attribute) read as an integer; 0 where it is missing or not one."""
    try:
        return int(value or "")
    except ValueError:
        return 0


def is_on(value: str | None) -> bool:
    """Whether an on/off property's `w:val` is on: where the element stands without one, or with any value
    but 0, false or off."""
    return (value or "true").lower() not in _OFF
