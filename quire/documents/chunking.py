"""Chunks for retrieval: whole sentences packed up to a size, never across a paragraph when avoidable,
with the last sentence of a chunk repeated at the start of the next."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.text import split_paragraphs, split_sentences

TARGET_CHARS = 900
MAX_CHARS = 1400


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
