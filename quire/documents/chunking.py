"""Chunks for retrieval: whole sentences packed up to a size, never across a paragraph when avoidable,
with the last sentence of a chunk repeated at the start of the next."""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from common.scripts import CJK
from connectors.text import split_paragraphs, split_sentences

TARGET_CHARS = 900
MAX_CHARS = 1400
# The encoder reads 256 word pieces, [CLS] and [SEP] among them. A CJK character is about one word piece (a
# Hangul syllable two or three: the uncased tokenizer splits it into its letters), where English averages
# about five characters a piece; so a CJK character counts as this many characters towards a chunk's size,
# and a chunk of them stays within what the encoder reads. Scripts its vocabulary splits into a piece or
# two per letter (Cyrillic, Greek, Hebrew, Arabic, Devanagari) and runs of figures are held to it by their
# word pieces: a span of more than `CONTENT_PIECES` (all the encoder reads but [CLS] and [SEP]) is over
# `MAX_CHARS`.
ENCODER_PIECES = 250
CONTENT_PIECES = 256 - 2
CJK_CHARS = -(-MAX_CHARS // ENCODER_PIECES)
HANGUL_CHARS = 3 * CJK_CHARS
_CJK = re.compile(f"[{CJK}]")
_HANGUL = re.compile("[\uac00-\ud7af]")
_LINE = re.compile(r"[^\n]+")
_THROUGH_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
TOKENIZE_BATCH_CHARS = 1 << 20
TOKENIZE_SEGMENT_CHARS = 1 << 14
# Four or more of one filler character (a table of contents' dot leaders, a signature line), spaced or not.
_LEADER = re.compile(r"([.\-_=*·…])(?:\s?\1){3,}")


@dataclass(frozen=True)
class ChunkSpan:
    start: int
    end: int


def chunk_text(text: str, *, target_chars: int = TARGET_CHARS, overlap_sentences: int = 1) -> list[ChunkSpan]:
    """Chunks of `text`, sized in characters, a CJK character counting as `CJK_CHARS` (`chunk_size`)."""
    size = chunk_size(text)
    sentences = []
    for paragraph in split_paragraphs(text):
        parts = [
            piece
            for s in split_sentences(text, paragraph.start, paragraph.end, max_chars=MAX_CHARS)
            for piece in _within(s.start, s.end, size)
        ]
        sentences.extend((start, end, i == len(parts) - 1) for i, (start, end) in enumerate(parts))
    chunks: list[ChunkSpan] = []
    current: list[tuple[int, int, bool]] = []
    for sentence in sentences:
        if current and size(current[0][0], sentence[1]) > target_chars:
            chunks.append(ChunkSpan(current[0][0], current[-1][1]))
            keep = current[-overlap_sentences:] if overlap_sentences else []
            keep = [] if keep and keep[-1][2] else keep
            current = keep if size(keep[0][0] if keep else sentence[0], sentence[1]) <= MAX_CHARS else []
        current.append(sentence)
        if sentence[2] and size(current[0][0], current[-1][1]) >= target_chars * 0.6:
            chunks.append(ChunkSpan(current[0][0], current[-1][1]))
            current = []
    if current:
        chunks.append(ChunkSpan(current[0][0], current[-1][1]))
    return chunks


def chunk_size(text: str) -> Callable[[int, int], int]:
    """`(start, end) ->` the size of `text[start:end]` as a chunk: its characters, each CJK character counted as
    `CJK_CHARS` and each Hangul syllable as `HANGUL_CHARS`, about their word pieces' worth of English; and a span
    of more than `CONTENT_PIECES` word pieces (as the encoder's tokenizer splits the text) is over `MAX_CHARS`
    whatever its characters, so no chunk holds more than the encoder reads in any script. Text the character
    count already keeps within that (English, CJK) is cut as before."""
    pieces = _word_piece_starts(text)
    cjk = array("q", (m.start() for m in _CJK.finditer(text)))
    hangul = array("q", (m.start() for m in _HANGUL.finditer(text)))

    def size(start: int, end: int) -> int:
        counted = bisect_left(cjk, end) - bisect_left(cjk, start)
        syllables = bisect_left(hangul, end) - bisect_left(hangul, start)
        chars = end - start + (CJK_CHARS - 1) * counted + (HANGUL_CHARS - CJK_CHARS) * syllables
        read = bisect_left(pieces, end) - bisect_left(pieces, start)
        return chars if read <= CONTENT_PIECES else max(chars, MAX_CHARS + 1)

    return size


def _word_piece_starts(text: str) -> array:
    """The offset in `text` of each of its word pieces, its lines (a line break splits no word piece) tokenized
    in batches of about `TOKENIZE_BATCH_CHARS`, a longer line in parts (`_segments`)."""
    from inference.embeddings import word_piece_starts

    starts = array("q")
    for batch in _segment_batches(text):
        found_in_batch = word_piece_starts([text[start:end] for start, end in batch])
        for (start, _), found in zip(batch, found_in_batch, strict=True):
            starts.extend(start + offset for offset in found)
    return starts


def _segment_batches(text: str) -> Iterator[list[tuple[int, int]]]:
    batch, chars = [], 0
    for start, end in _segments(text):
        batch.append((start, end))
        chars += end - start
        if chars >= TOKENIZE_BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """`(start, end)` of each line of `text`, a line of more than `TOKENIZE_SEGMENT_CHARS` cut after its last
    whitespace within them (whitespace splits no word piece either), or at them where it has none: the tokenizer
    holds over a hundred bytes a character of one long text it reads, so a document of one 20 MB line took 2.8 GB
    where the same text in lines takes 0.2."""
    for line in _LINE.finditer(text):
        start, end = line.span()
        while end - start > TOKENIZE_SEGMENT_CHARS:
            spaced = _THROUGH_LAST_SPACE.match(text, start, start + TOKENIZE_SEGMENT_CHARS)
            cut = spaced.end() if spaced else start + TOKENIZE_SEGMENT_CHARS
            yield start, cut
            start = cut
        yield start, end


def _within(start: int, end: int, size: Callable[[int, int], int]) -> list[tuple[int, int]]:
    """`[start, end)` cut into pieces of at most `MAX_CHARS` by `size` (a sentence of CJK characters that
    `split_sentences`, counting characters, left longer than a chunk)."""
    pieces = []
    while size(start, end) > MAX_CHARS:
        low, high = start + 1, end
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if size(start, middle) <= MAX_CHARS else (low, middle - 1)
        pieces.append((start, low))
        start = low
    pieces.append((start, end))
    return pieces


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
