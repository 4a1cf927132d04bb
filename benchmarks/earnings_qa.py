"""Q&A and participant quality of the earnings connector on published transcripts with participant lists.

Reads `tests/data/ectsum/transcripts/*.json` (speaker turns and the call's participant list), runs the
connector on each call's text, and checks it against what the JSON says independently of the connector:

- questions_quoted: of the analysts' Q&A turns that ask something (a `?` or a request cue of the judge's own
  list below), the share with a reported question span inside the turn;
- reported_are_questions: of the reported question spans, the share the same judge calls a question;
- titles_filled / analyst_firms_filled: of the listed participants, the share whose title is filled, and of
  the listed analysts, the share whose firm is filled;
- roles_right: of the listed participants who speak, the share whose role is right (`-- Analyst` in the list:
  analyst; otherwise executive);
- non_person_speakers: speakers that are no speaker of the JSON turns.

    PYTHONPATH=. python benchmarks/earnings_qa.py [--data tests/data/ectsum/transcripts] [--show]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_ASKS = re.compile(
    r"\?|\b(?:wondering|curious|(?:can|could|would) you|talk (?:about|to|through)|help (?:us|me)|walk (?:us|me)|"
    r"colou?r on|give us|any (?:update|thoughts|commentary)|(?:like|love|want(?:ed)?|hoping|trying) to (?:ask|talk|follow up|"
    r"get|understand)|"
    r"(?:question|one) (?:is )?(?:on|about|around)|if you could)",
    re.IGNORECASE,
)


def _render(data: dict) -> str:
    """The same layout as the connector's own reading of this JSON, for measuring code that predates it."""
    paragraphs = []
    for key, heading in (("prepared_remarks", "Prepared Remarks:"), ("q_and_a", "Questions and Answers:")):
        paragraphs.append(heading)
        paragraphs.extend(
            f"{t['speaker'].strip()}: {' '.join(t['speech'].split())}"
            if t["speech"].strip()
            else t["speaker"]
            for t in data[key]
        )
    paragraphs.append("Call participants:")
    paragraphs.extend(re.sub(r"\s*--\s*", " -- ", " ".join(p.split())) for p in data["participants"])
    return "\n\n".join(paragraphs)


def _key(name: str) -> tuple[str, str]:
    tokens = [t.strip(".,").lower() for t in name.split() if len(t.strip(".,")) > 1]
    tokens = [t for t in tokens if t not in ("jr", "sr", "ii", "iii")]
    return (tokens[0][0] if tokens else "", tokens[-1] if tokens else "")


def _questions(result: dict) -> list[dict]:
    spans = []
    for pair in result["qa"]:
        for entry in [pair, *pair.get("follow_ups", [])]:
            spans.extend(entry["question"].get("questions") or [entry["question"]["span"]])
    return spans


def measure(path: Path, show: bool) -> dict[str, list[int]]:
    from connectors import Document, run_connector
    from connectors.earnings import transcript

    raw = path.read_text(encoding="utf-8")
    data = json.loads(raw)
    try:
        text = transcript.turns_json_to_text(raw)
    except ValueError:
        text = _render(data)
    result = run_connector("earnings", [Document(path.stem, text, kind="transcript")])
    analysts = {_key(p.split("--")[0]) for p in data["participants"] if re.search(r"--\s*Analyst\s*$", p)}
    questions = _questions(result)
    counts = {"asking_turns": [0, 0], "questions": [0, 0], "titles": [0, 0], "firms": [0, 0], "roles": [0, 0]}
    cursor = 0
    for turn in data["q_and_a"]:
        speech = " ".join(turn["speech"].split())
        start = text.find(speech, cursor)
        cursor = max(cursor, start)
        if _key(turn["speaker"]) not in analysts or not _ASKS.search(speech):
            continue
        quoted = any(start <= q["start"] and q["end"] <= start + len(speech) for q in questions)
        counts["asking_turns"][0] += quoted
        counts["asking_turns"][1] += 1
        if show and not quoted:
            print(f"  unquoted {path.stem} {turn['speaker']}: {speech[:160]}")
    for span in questions:
        judged = bool(_ASKS.search(span["quote"]))
        counts["questions"][0] += judged
        counts["questions"][1] += 1
        if show and not judged:
            print(f"  not a question {path.stem}: {span['quote'][:160]}")
    people = {_key(p["name"]): p for p in result.get("participants") or result["speakers"]}
    for line in data["participants"]:
        name = line.split("--")[0]
        person = people.get(_key(name), {})
        counts["titles"][0] += bool(person.get("title"))
        counts["titles"][1] += 1
        if _key(name) in analysts:
            counts["firms"][0] += bool(person.get("firm"))
            counts["firms"][1] += 1
        if show and not (person.get("title") and (person.get("firm") or _key(name) not in analysts)):
            print(f"  unfilled {path.stem}: {line} -> {person}")
    roles = {_key(s["name"]): s["role"] for s in result["speakers"]}
    for line in data["participants"]:
        key = _key(line.split("--")[0])
        if key in roles:
            expected = "analyst" if key in analysts else "executive"
            counts["roles"][0] += roles[key] == expected
            counts["roles"][1] += 1
            if show and roles[key] != expected:
                print(f"  role {path.stem}: {line} -> {roles[key]}")
    voices = {_key(t["speaker"]) for t in data["prepared_remarks"] + data["q_and_a"] if t["speech"].strip()}
    strangers = [s["name"] for s in result["speakers"] if _key(s["name"]) not in voices]
    counts["non_person_speakers"] = [len(strangers), 0]
    if show and strangers:
        print(f"  non-person speakers {path.stem}: {strangers}")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "tests" / "data" / "ectsum" / "transcripts")
    parser.add_argument("--show", action="store_true", help="print every miss")
    args = parser.parse_args()
    totals: dict[str, list[int]] = {}
    for path in sorted(args.data.glob("*.json")):
        for name, (hit, total) in measure(path, args.show).items():
            totals.setdefault(name, [0, 0])
            totals[name][0] += hit
            totals[name][1] += total
    rows = [
        ("questions_quoted", "asking_turns"),
        ("reported_are_questions", "questions"),
        ("titles_filled", "titles"),
        ("analyst_firms_filled", "firms"),
        ("roles_right", "roles"),
    ]
    for label, key in rows:
        hit, total = totals[key]
        print(f"{label:<24} {hit / total if total else 0.0:6.3f}  ({hit}/{total})")
    print(f"{'non_person_speakers':<24} {totals['non_person_speakers'][0]:6d}")


if __name__ == "__main__":
    main()
