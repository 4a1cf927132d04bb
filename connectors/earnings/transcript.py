"""Earnings-call transcripts: JSON turns to text, and text to sections, turns, speakers and participants."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from connectors.text import split_paragraphs

PREPARED = "prepared_remarks"
QA = "questions_and_answers"
PARTICIPANTS = "participants"
_SECTION_HEADINGS = (
    (
        re.compile(r"^\s*(?:prepared remarks|presentation|management discussion)\s*+:?\s*+$", re.IGNORECASE),
        PREPARED,
    ),
    (
        re.compile(
            r"^\s*(?:questions?\s*(?:and|&)\s*answers?|question-and-answer session|q\s*&\s*a(?: session)?)\s*+:?\s*+$",
            re.IGNORECASE,
        ),
        QA,
    ),
    (
        re.compile(
            r"^\s*(?:(?:call|conference call|corporate|company)\s+)?(?:participants|executives|analysts)\s*+:?\s*+$",
            re.IGNORECASE,
        ),
        PARTICIPANTS,
    ),
)
# A name's words start with a capital, accented, Greek or Cyrillic ones too ("Émile", "Łukasz", "Åsa").
_CAPITALS = "".join(ch for ch in map(chr, range(0x530)) if ch.isupper())
_WORD = rf"[{_CAPITALS}][\w.'\u2019-]*"
_PARTICLE = r"(?:von|van|der|den|de|del|della|da|di|du|la|le|bin|al|st\.)"
# Space within a line, a no-break space too ("Jane\u00a0Doe"): the text keeps it, as the stored document does.
_SPACE = r"[^\S\n]"
_SUFFIX = rf"(?:,?{_SPACE}+(?:Jr|Sr|II|III|IV)\.?)?"
_NAME = rf"{_WORD}(?:{_SPACE}+(?:{_PARTICLE}{_SPACE}+)?{_WORD}){{0,4}}{_SUFFIX}"
_PERSON = re.compile(rf"{_WORD}(?:{_SPACE}+(?:{_PARTICLE}{_SPACE}+)?{_WORD}){{1,4}}{_SUFFIX}")
# "Jane Doe -- Chief Financial Officer:", "Jane Doe, CFO:", "Jane Doe (Chief Financial Officer):".
_SPEAKER_LINE = re.compile(
    rf"^(?P<name>{_NAME})(?:{_SPACE}*(?:--|\u2014|\u2013|,){_SPACE}*(?P<meta>[^:\n]{{2,120}})"
    rf"|{_SPACE}*\((?P<bracketed>[^():\n]{{2,120}})\))?{_SPACE}*:\s+(?=\S)"
)
_HEADER_ONLY = re.compile(rf"^(?P<name>{_NAME})\s*(?:--|\u2014|\u2013)\s*(?P<meta>[^\n:]{{2,120}})$")
_PARTICIPANT = re.compile(
    rf"^[*\u2022-]?\s*(?:(?P<name>{_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_WORD}){{1,4}}{_SUFFIX})\s*(?:--|\u2014|\u2013| - |,)"
    rf"|(?P<single>{_WORD})\s*(?:--|\u2014|\u2013))\s*(?P<meta>[^\n]{{2,160}})$"
)
# Labels that end in a colon in published transcripts but are nobody's name.
_NOT_A_PERSON = re.compile(
    r"^(?:note|notes|duration|date|time|source|sources|contents|copyright|disclaimer|transcript|ticker|"
    r"company|event|location|webcast|replay|agenda|subject|title|page|call participants|participants|"
    r"thank you|thanks|okay|yes|so|and|but|well|q\d|fy\d*|editor'?s? note|forward[- ]looking statements?|"
    r"safe harbor|operator instructions|presentation|prepared remarks|questions and answers)$"
    r"|\b(?:statements?|remarks|session|results|highlights|outlook|summary|instructions|minutes|"
    r"guidance|quarter|revenue|sales|total|call|conference)$",
    re.IGNORECASE,
)
EXECUTIVE_TITLES = re.compile(
    r"\b(?:chief|ceo|cfo|coo|cto|president|chairman|chairwoman|chair|vice president|vp|svp|evp|treasurer|"
    r"controller|head of|director|officer|investor relations|founder|managing director|general counsel|secretary)\b",
    re.IGNORECASE,
)
_OTHER_TITLES = re.compile(
    r"\b(?:analyst|assistant|manager|executive|associate|strategist|economist|specialist|advisor|adviser|"
    r"coordinator|spokesperson|representative|consultant|principal|partner|counsel|accountant)\b",
    re.IGNORECASE,
)
_OPERATOR = re.compile(r"^(?:operator|moderator|conference operator)$", re.IGNORECASE)
_UNNAMED = re.compile(r"^(?:unidentified|unknown)\b", re.IGNORECASE)
_FIRM = r"[A-Z][\w&.'\u2019-]*(?:[ \t]+(?:[A-Z&][\w&.'\u2019-]*|and|&|de|of|du))*"
_INTRO_TAIL = re.compile(
    rf"[ \t]*+,?[ \t]*+(?:with|from|of|at)[ \t]+(?:the[ \t]+)?(?P<firm>{_FIRM})|[ \t]*+,[ \t]*+(?P<firm2>{_FIRM})[ \t]*[,.]"
)
_NAME_SUFFIX = re.compile(r"^(?:jr|sr|ii|iii|iv|cfa|phd)\.?$", re.IGNORECASE)


@dataclass
class Turn:
    speaker: str
    section: str
    start: int
    end: int
    speech_start: int


@dataclass
class Speaker:
    name: str
    role: str = "other"
    title: str | None = None
    firm: str | None = None
    turns: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "title": self.title, "firm": self.firm}


def _published_to_text(data: dict) -> str:
    """The published layout (`prepared_remarks`, `q_and_a`, `participants`) as headed `Speaker: speech` text."""
    paragraphs: list[str] = []
    for key, heading in (("prepared_remarks", "Prepared Remarks:"), ("q_and_a", "Questions and Answers:")):
        turns = data.get(key) or []
        if not isinstance(turns, list):
            raise ValueError(f'"{key}" must be a list of turns')
        if turns:
            paragraphs.append(heading)
        for index, turn in enumerate(turns):
            speaker = turn.get("speaker") if isinstance(turn, dict) else None
            speech = turn.get("speech", turn.get("text")) if isinstance(turn, dict) else None
            if not isinstance(speaker, str) or not speaker.strip() or not isinstance(speech, str):
                raise ValueError(f'{key} turn {index} needs string "speaker" and "speech" fields')
            speech = " ".join(speech.split())
            paragraphs.append(f"{speaker.strip()}: {speech}" if speech else " ".join(speaker.split()))
    listed = data.get("participants")
    participants = [p for p in listed if isinstance(p, str) and p.strip()] if isinstance(listed, list) else []
    if participants:
        paragraphs.append("Call participants:")
        paragraphs.extend(re.sub(r"\s*--\s*", " -- ", " ".join(p.split())) for p in participants)
    return "\n\n".join(paragraphs)


def turns_json_to_text(raw: str) -> str:
    """The JSON turns format (a list of turns, or {"turns": [...]}) or the published layout
    ({"prepared_remarks", "q_and_a", "participants"}) as `Speaker: speech` paragraphs."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"transcript JSON does not parse: {error}") from error
    return transcript_to_text(data)


def transcript_to_text(data: object) -> str:
    """`turns_json_to_text` of JSON already parsed; raises ValueError, with the reason, for data that is
    neither layout."""
    if isinstance(data, dict) and "turns" not in data and ("q_and_a" in data or "prepared_remarks" in data):
        return _published_to_text(data)
    turns = data.get("turns") if isinstance(data, dict) else data
    if not isinstance(turns, list):
        raise ValueError('transcript JSON must be a list of turns or an object with a "turns" list')
    paragraphs: list[str] = []
    section = None
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise ValueError(f"turn {index} must be an object")
        speech = turn.get("text", turn.get("speech", turn.get("content")))
        speaker = turn.get("speaker", turn.get("name"))
        if not isinstance(speech, str) or not isinstance(speaker, str) or not speaker.strip():
            raise ValueError(f'turn {index} needs string "speaker" and "text" fields')
        turn_section = turn.get("section")
        if isinstance(turn_section, str) and turn_section != section:
            section = turn_section
            heading = (
                "QUESTIONS AND ANSWERS"
                if re.search(r"q|question", section, re.IGNORECASE)
                else "PREPARED REMARKS"
            )
            paragraphs.append(heading)
        meta = [str(turn[key]) for key in ("title", "firm") if isinstance(turn.get(key), str) and turn[key]]
        header = speaker.strip() + (" -- " + " -- ".join(meta) if meta else "")
        paragraphs.append(f"{header}: {' '.join(speech.split())}")
    return "\n\n".join(paragraphs)


def person_key(name: str) -> tuple[str, str] | None:
    """(first given name, surname), lower case, ignoring initials and suffixes: `R. Adam Norwitt` and
    `Adam Norwitt` are one person."""
    tokens = [t.strip(".,").lower() for t in name.split() if not _NAME_SUFFIX.match(t.strip(","))]
    tokens = [t for t in tokens if t]
    if not tokens:
        return None
    if len(tokens) == 1:
        return tokens[0], tokens[0]
    given = next((t for t in tokens[:-1] if len(t) > 1), tokens[0])
    return given, tokens[-1]


def is_person_label(name: str, known: set[tuple[str, str]]) -> bool:
    """Whether a `Label:` at the start of a paragraph names a speaker rather than a field of the page."""
    name = name.strip()
    if _OPERATOR.match(name) or _UNNAMED.match(name):
        return True
    if _NOT_A_PERSON.search(name):
        return False
    key = person_key(name)
    if key is None:
        return False
    return key in known or bool(_PERSON.fullmatch(name))


def split_meta(meta: str) -> tuple[str | None, str | None, str | None]:
    """(role, title, firm) of a participant line's or header's description: `Loop Capital -- Analyst`,
    `Senior Vice President and Chief Financial Officer`, `CFO, Acme`."""
    meta = " ".join(meta.split())
    parts = [p.strip(" ,") for p in re.split(r"\s*(?:--|\u2014|\u2013|\s-\s)\s*", meta) if p.strip(" ,")]
    if len(parts) == 1 and "," in parts[0] and not EXECUTIVE_TITLES.search(parts[0].rsplit(",", 1)[1]):
        head, tail = (p.strip() for p in parts[0].rsplit(",", 1))
        if EXECUTIVE_TITLES.search(head) and not re.fullmatch(r"(?:inc|llc|ltd|l\.?p|co)\.?", tail, re.I):
            parts = [head, tail]
    role = title = firm = None
    for part in parts:
        if re.fullmatch(r"(?:research |equity |senior )?analyst", part, re.IGNORECASE):
            role, title = "analyst", title or part
        elif title is None and (EXECUTIVE_TITLES.search(part) or _OTHER_TITLES.search(part)):
            title = part
        elif firm is None:
            firm = part
    if role is None and title and EXECUTIVE_TITLES.search(title):
        role = "executive"
    return role, title, firm


def _header(line: str, speakers: dict[str, Speaker]) -> tuple[str, str | None] | None:
    """(name, title/firm) when a line is a speaker header: `Name -- Title`, `Operator`, or a known name."""
    if len(line) >= 140 or ":" in line:
        return None
    match = _HEADER_ONLY.match(line)
    if match:
        return " ".join(match.group("name").split()), match.group("meta")
    if _OPERATOR.match(line) or line in speakers:
        return line, None
    return None


def _listed_participants(text: str) -> list[Speaker]:
    """The call's participant list(s): `Name -- Title` or `Name -- Firm -- Analyst` lines under a heading."""
    listed: list[Speaker] = []
    section = None
    default_role = None
    for paragraph in split_paragraphs(text):
        heading = next((name for pattern, name in _SECTION_HEADINGS if pattern.match(paragraph.text)), None)
        if heading:
            section = heading
            default_role = (
                "analyst"
                if re.search(r"analysts", paragraph.text, re.IGNORECASE)
                else (
                    "executive"
                    if re.search(r"executives|corporate|company", paragraph.text, re.IGNORECASE)
                    else None
                )
            )
            continue
        if section != PARTICIPANTS:
            continue
        for line in paragraph.text.splitlines():
            match = _PARTICIPANT.match(line.strip())
            if not match:
                continue
            name = match.group("name") or match.group("single")
            role, title, firm = split_meta(match.group("meta"))
            firm = None if firm and person_key(firm) == person_key(name) else firm
            listed.append(Speaker(name, role or default_role or "other", title, firm))
    return listed


def parse_call(text: str) -> tuple[list[Turn], dict[str, Speaker], list[Speaker]]:
    """Turns, speakers with roles, titles and firms, and every participant (listed, introduced or speaking)."""
    listed = _listed_participants(text)
    known = {key for p in listed if (key := person_key(p.name))}
    turns: list[Turn] = []
    speakers: dict[str, Speaker] = {}
    section = PREPARED
    pending_header: tuple[str, str | None] | None = None
    for paragraph in split_paragraphs(text):
        heading = next((name for pattern, name in _SECTION_HEADINGS if pattern.match(paragraph.text)), None)
        if heading:
            section = heading
            continue
        if section == PARTICIPANTS:
            continue
        first_line, _, rest = paragraph.text.partition("\n")
        header = _header(first_line.strip(), speakers)
        if header and not is_person_label(header[0], known):
            header = None
        if header and not rest.strip():
            pending_header = header
            continue
        match = _SPEAKER_LINE.match(paragraph.text)
        name = meta = None
        speech_start = paragraph.start
        if header and rest.strip():
            name, meta = header
            speech_start = paragraph.start + len(first_line) + 1
        elif match and is_person_label(match.group("name"), known):
            name, meta = (
                " ".join(match.group("name").split()),
                match.group("meta") or match.group("bracketed"),
            )
            speech_start = paragraph.start + match.end()
        elif pending_header:
            name, meta = pending_header
        pending_header = None
        if name is None:
            if turns and turns[-1].end <= paragraph.start and not match:
                turns[-1].end = paragraph.end
            continue
        speaker = speakers.setdefault(name, Speaker(name))
        if meta:
            role, title, firm = split_meta(meta)
            speaker.role = role if role == "analyst" else speaker.role
            speaker.title = speaker.title or title
            speaker.firm = speaker.firm or firm
        speaker.turns.append(len(turns))
        turns.append(Turn(name, section, paragraph.start, paragraph.end, speech_start))
    _assign_roles(text, turns, speakers, listed)
    return turns, speakers, _participants(speakers, listed)


def _merge(speaker: Speaker, other: Speaker) -> None:
    if other.role == "analyst" or (other.role == "executive" and speaker.role == "other"):
        speaker.role = other.role
    speaker.title = speaker.title or other.title
    speaker.firm = speaker.firm or other.firm


def _introductions(text: str, turns: list[Turn], speakers: dict[str, Speaker]) -> None:
    """The operator's `Name with Firm` before a speaker's turn: that speaker is an analyst at that firm."""
    for index, turn in enumerate(turns[:-1]):
        if speakers[turn.speaker].role != "operator" and not _OPERATOR.match(turn.speaker):
            continue
        intro = text[turn.speech_start : turn.end]
        for following in turns[index + 1 : index + 3]:
            speaker = speakers[following.speaker]
            if _OPERATOR.match(speaker.name):
                break
            key = person_key(speaker.name)
            names = [speaker.name] + ([f"{key[0]} {key[1]}"] if key else []) + ([key[1]] if key else [])
            for name in names:
                found = re.search(rf"\b{re.escape(name)}\b", intro, re.IGNORECASE)
                if not found:
                    continue
                tail = _INTRO_TAIL.match(intro, found.end())
                firm = tail and (tail.group("firm") or tail.group("firm2"))
                if speaker.role == "executive" or (turn.section != QA and not firm):
                    break
                speaker.role = "analyst"
                if firm and not speaker.firm:
                    speaker.firm = re.sub(r"[ \t]+(?:and|&|of|de|du)$", "", firm.strip().rstrip("."))
                break
            break


def _assign_roles(text: str, turns: list[Turn], speakers: dict[str, Speaker], listed: list[Speaker]) -> None:
    for speaker in speakers.values():
        if _OPERATOR.match(speaker.name):
            speaker.role = "operator"
    by_key = {person_key(p.name): p for p in listed}
    for speaker in speakers.values():
        entry = by_key.get(person_key(speaker.name))
        if entry is not None:
            _merge(speaker, entry)
    _introductions(text, turns, speakers)
    for speaker in speakers.values():
        if speaker.role in ("operator", "analyst"):
            continue
        if (speaker.title and EXECUTIVE_TITLES.search(speaker.title)) or any(
            turns[i].section == PREPARED for i in speaker.turns
        ):
            speaker.role = "executive"
    qa_turns = [turn for turn in turns if turn.section == QA]
    for index, turn in enumerate(qa_turns):
        speaker = speakers[turn.speaker]
        if speaker.role != "other" or index == 0:
            continue
        if speakers[qa_turns[index - 1].speaker].role == "operator":
            speaker.role = "analyst"
    for speaker in speakers.values():
        if speaker.role == "other" and any(turns[i].section == QA for i in speaker.turns):
            speaker.role = "executive"


def _participants(speakers: dict[str, Speaker], listed: list[Speaker]) -> list[Speaker]:
    """Everyone the call names: its listed participants (filled from their turns), then unlisted speakers."""
    by_key = {person_key(s.name): s for s in speakers.values() if person_key(s.name)}
    people: list[Speaker] = []
    seen: set[tuple[str, str] | None] = set()
    for entry in listed:
        key = person_key(entry.name)
        person = Speaker(entry.name, entry.role, entry.title, entry.firm)
        if key in by_key:
            _merge(person, by_key[key])
            if person.role == "other":
                person.role = by_key[key].role
        seen.add(key)
        people.append(person)
    for speaker in speakers.values():
        key = person_key(speaker.name)
        if speaker.role == "operator" or (key is not None and key in seen):
            continue
        seen.add(key)
        people.append(Speaker(speaker.name, speaker.role, speaker.title, speaker.firm))
    return people
