"""Earnings-call transcripts: JSON turns to text, and text to sections, turns and speakers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from connectors.text import split_paragraphs

PREPARED = "prepared_remarks"
QA = "questions_and_answers"
_SECTION_HEADINGS = (
    (
        re.compile(r"^\s*(?:prepared remarks|presentation|management discussion)\s*:?\s*$", re.IGNORECASE),
        PREPARED,
    ),
    (
        re.compile(
            r"^\s*(?:questions?\s*(?:and|&)\s*answers?|question-and-answer session|q\s*&\s*a(?: session)?)\s*:?\s*$",
            re.IGNORECASE,
        ),
        QA,
    ),
)
_SPEAKER_LINE = re.compile(
    r"^(?P<name>[A-Z][\w.'\u2019-]*(?:\s+[A-Z][\w.'\u2019-]*){0,4})(?:\s*(?:--|\u2014|\u2013|,)\s*(?P<meta>[^:\n]{2,120}))?\s*:\s+(?=\S)"
)
_HEADER_ONLY = re.compile(
    r"^(?P<name>[A-Z][\w.'\u2019-]*(?:\s+[A-Z][\w.'\u2019-]*){0,4})\s*(?:--|\u2014|\u2013)\s*(?P<meta>[^\n:]{2,120})$"
)
EXECUTIVE_TITLES = re.compile(
    r"\b(?:chief|ceo|cfo|coo|cto|president|chairman|chairwoman|chair|vice president|vp|svp|evp|treasurer|"
    r"controller|head of|director|officer|investor relations|founder|managing director|general counsel|secretary)\b",
    re.IGNORECASE,
)
_OPERATOR = re.compile(r"^(?:operator|moderator|conference operator)$", re.IGNORECASE)
_ANALYST_INTRO = re.compile(
    r"\b(?:question|line)\s+(?:comes|is coming|will come|is)\s+from\s+(?:the line of\s+)?"
    r"(?P<name>[A-Z][\w.'\u2019-]*(?:[ \t]+[A-Z][\w.'\u2019-]*){0,3})"
    r"(?:[ \t]+(?:with|from|of|at)[ \t]+(?P<firm>[A-Z][\w&'\u2019-]*(?:[ \t]+(?:[A-Z&][\w&.'\u2019-]*|and|&))*))?",
)
_PARTICIPANT = re.compile(
    r"^(?P<name>[A-Z][\w.'\u2019-]*(?:\s+[A-Z][\w.'\u2019-]*){1,3})\s*(?:--|\u2014|\u2013|-|,)\s*(?P<meta>[^\n]{2,120})$"
)


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


def turns_json_to_text(raw: str) -> str:
    """The JSON turns format (a list of turns, or {"turns": [...]}) as `Speaker: speech` paragraphs."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"transcript JSON does not parse: {error}") from error
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


def _header(line: str, speakers: dict[str, Speaker]) -> tuple[str, str | None] | None:
    """(name, title/firm) when a line is a speaker header: `Name -- Title`, `Operator`, or a known name."""
    if len(line) >= 140 or ":" in line:
        return None
    match = _HEADER_ONLY.match(line)
    if match:
        return match.group("name"), match.group("meta")
    if _OPERATOR.match(line) or line in speakers:
        return line, None
    return None


def parse_transcript(text: str) -> tuple[list[Turn], dict[str, Speaker]]:
    """Turns (who speaks where) and speakers with roles; both empty when the text names no speakers."""
    turns: list[Turn] = []
    speakers: dict[str, Speaker] = {}
    section = PREPARED
    pending_header: tuple[str, str | None] | None = None
    for paragraph in split_paragraphs(text):
        heading = next((name for pattern, name in _SECTION_HEADINGS if pattern.match(paragraph.text)), None)
        if heading:
            section = heading
            continue
        first_line, _, rest = paragraph.text.partition("\n")
        header = _header(first_line.strip(), speakers)
        if header and not rest.strip():
            pending_header = header
            continue
        match = _SPEAKER_LINE.match(paragraph.text)
        name = meta = None
        speech_start = paragraph.start
        if header and rest.strip():
            name, meta = header
            speech_start = paragraph.start + len(first_line) + 1
        elif match and not re.match(
            r"^(?:Note|Thank you|Thanks|Okay|Yes|So|And|But|Well|Q\d|Page)\b", match.group("name")
        ):
            name, meta = match.group("name"), match.group("meta")
            speech_start = paragraph.start + match.end()
        elif pending_header:
            name, meta = pending_header
        pending_header = None
        if name is None:
            if turns and turns[-1].end <= paragraph.start:
                turns[-1].end = paragraph.end
            continue
        speaker = speakers.setdefault(name, Speaker(name))
        _apply_meta(speaker, meta)
        speaker.turns.append(len(turns))
        turns.append(Turn(name, section, paragraph.start, paragraph.end, speech_start))
    _assign_roles(text, turns, speakers)
    return turns, speakers


def _apply_meta(speaker: Speaker, meta: str | None) -> None:
    if not meta:
        return
    parts = [p.strip() for p in re.split(r"\s*(?:--|\u2014|\u2013)\s*|,\s*", meta) if p.strip()]
    for part in parts:
        if re.fullmatch(r"analyst", part, re.IGNORECASE):
            speaker.role = "analyst"
        elif EXECUTIVE_TITLES.search(part):
            speaker.title = speaker.title or part
        elif speaker.firm is None:
            speaker.firm = part


def _assign_roles(text: str, turns: list[Turn], speakers: dict[str, Speaker]) -> None:
    for match in _ANALYST_INTRO.finditer(text):
        name = match.group("name")
        for speaker in speakers.values():
            if speaker.name == name or (
                speaker.name.split()[-1] == name.split()[-1] and name.split()[0] == speaker.name.split()[0]
            ):
                speaker.role = "analyst"
                if match.group("firm") and not speaker.firm:
                    speaker.firm = match.group("firm").strip().rstrip(".")
    for paragraph_line in text.splitlines()[:200]:
        line = paragraph_line.strip()
        participant = _PARTICIPANT.match(line)
        if participant and participant.group("name") in speakers:
            _apply_meta(speakers[participant.group("name")], participant.group("meta"))
    for speaker in speakers.values():
        if _OPERATOR.match(speaker.name):
            speaker.role = "operator"
        elif speaker.role == "analyst":
            continue
        elif (speaker.title and EXECUTIVE_TITLES.search(speaker.title)) or any(
            turns[i].section == PREPARED for i in speaker.turns
        ):
            speaker.role = "executive"
    qa_turns = [turn for turn in turns if turn.section == QA]
    for index, turn in enumerate(qa_turns):
        speaker = speakers[turn.speaker]
        if speaker.role != "other" or index == 0:
            continue
        previous = speakers[qa_turns[index - 1].speaker]
        if previous.role == "operator":
            speaker.role = "analyst"
    for speaker in speakers.values():
        if speaker.role == "other" and any(turns[i].section == QA for i in speaker.turns):
            speaker.role = "executive"
