"""Chunks for retrieval: whole sentences packed up to a size, never across a paragraph when avoidable,
with the last sentence of a chunk repeated at the start of the next."""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.text import split_paragraphs, split_sentences

TARGET_CHARS = 900
MAX_CHARS = 1400
# Four or more of one filler character (a table of contents' dot leaders, a signature line), spaced or not.
_LEADER = re.compile(r"([.\-_=*·…])(?:\s?\1){3,}")


@dataclass(frozen=True)
class ChunkSpan:
    start: int
    end: int


def chunk_text(text: str, *, target_chars: int = TARGET_CHARS, overlap_sentences: int = 1) -> list[ChunkSpan]:
    sentences = []
    for paragraph in split_paragraphs(text):
        parts = split_sentences(text, paragraph.start, paragraph.end, max_chars=MAX_CHARS)
        sentences.extend((s.start, s.end, i == len(parts) - 1) for i, s in enumerate(parts))
    chunks: list[ChunkSpan] = []
    current: list[tuple[int, int, bool]] = []
    for sentence in sentences:
        if current and sentence[1] - current[0][0] > target_chars:
            chunks.append(ChunkSpan(current[0][0], current[-1][1]))
            keep = current[-overlap_sentences:] if overlap_sentences else []
            keep = [] if keep and keep[-1][2] else keep
            current = keep if sentence[1] - (keep[0][0] if keep else sentence[0]) <= MAX_CHARS else []
        current.append(sentence)
        if sentence[2] and current[-1][1] - current[0][0] >= target_chars * 0.6:
            chunks.append(ChunkSpan(current[0][0], current[-1][1]))
            current = []
    if current:
        chunks.append(ChunkSpan(current[0][0], current[-1][1]))
    return chunks


def embedding_texts(text: str, spans: list[ChunkSpan]) -> list[str]:
    """The chunks of `text` as the encoder reads them: each without the sentence it repeats from the chunk
    before (that sentence is embedded with its own chunk; on CUAD dev contracts this reads 13 % fewer word
    pieces at the same retrieval quality, `benchmarks/retrieval.py`), through `embedding_text`."""
    texts = []
    previous_end = 0
    for span in spans:
        new = text[max(span.start, previous_end) : span.end].strip()
        texts.append(embedding_text(new or text[span.start : span.end]))
        previous_end = span.end
    return texts


def embedding_text(chunk: str) -> str:
    """A chunk as the encoder reads it: each run of filler characters cut to three, so that a table of contents
    or a signature block spends its 256 word pieces on words. The stored text and offsets stay the source's."""
    return _LEADER.sub(r"\1\1\1", chunk)
