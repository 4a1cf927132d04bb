"""Tokenizer and chat template of a Hugging Face model directory."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from inference.config import CheckpointError

# A SentencePiece byte-fallback piece, one byte of a character the vocabulary lacks.
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
SENTENCEPIECE_SPACE = "\u2581"


def _byte_alphabet() -> dict[str, int]:
    """Byte-level BPE's alphabet (GPT-2's `bytes_to_unicode`): the character each byte is written as, inverted.
    Printable Latin-1 bytes stand for themselves; the others, in order, for the characters from U+0100 on."""
    kept = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("\u00a1"), ord("\u00ac") + 1),
        *range(ord("\u00ae"), 256),
    ]
    moved = [b for b in range(256) if b not in kept]
    return {chr(b): b for b in kept} | {chr(256 + n): b for n, b in enumerate(moved)}


_BYTE_LEVEL = _byte_alphabet()


def _has_byte_level(decoder: Any) -> bool:
    if isinstance(decoder, dict):
        return decoder.get("type") == "ByteLevel" or any(
            _has_byte_level(d) for d in decoder.get("decoders") or []
        )
    return False


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value


class ChatTokenizer:
    """`tokenizers.Tokenizer` plus the special tokens and Jinja chat template of `tokenizer_config.json`."""

    def __init__(self, tokenizer: Tokenizer, tokenizer_config: dict[str, Any]) -> None:
        self.tokenizer = tokenizer
        self.config = tokenizer_config
        self.bos_token = _token_text(tokenizer_config.get("bos_token"))
        self.eos_token = _token_text(tokenizer_config.get("eos_token"))
        self.add_bos_token = bool(tokenizer_config.get("add_bos_token", False))
        self.chat_template: str | None = tokenizer_config.get("chat_template")
        self._compiled_template = None

    @classmethod
    def from_dir(cls, model_dir: str | Path) -> ChatTokenizer:
        directory = Path(model_dir)
        tokenizer_path = directory / "tokenizer.json"
        if not tokenizer_path.is_file():
            raise CheckpointError(f"{tokenizer_path} not found: a model directory needs tokenizer.json")
        config_path = directory / "tokenizer_config.json"
        tokenizer_config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        template_path = directory / "chat_template.jinja"
        if "chat_template" not in tokenizer_config and template_path.is_file():
            tokenizer_config["chat_template"] = template_path.read_text()
        return cls(Tokenizer.from_file(str(tokenizer_path)), tokenizer_config)

    @property
    def bos_token_id(self) -> int | None:
        return None if self.bos_token is None else self.tokenizer.token_to_id(self.bos_token)

    @property
    def eos_token_id(self) -> int | None:
        return None if self.eos_token is None else self.tokenizer.token_to_id(self.eos_token)

    def encode(self, text: str, *, add_bos: bool | None = None) -> list[int]:
        """Token ids; BOS as `add_bos` says, else as `add_bos_token` says, else as the tokenizer's post-processor."""
        if add_bos is None and "add_bos_token" not in self.config:
            return self.tokenizer.encode(text, add_special_tokens=True).ids
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        bos_id = self.bos_token_id
        wants_bos = self.add_bos_token if add_bos is None else add_bos
        if wants_bos and bos_id is not None and (not ids or ids[0] != bos_id):
            ids = [bos_id, *ids]
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    @cached_property
    def _byte_level(self) -> bool:
        return _has_byte_level(json.loads(self.tokenizer.to_str()).get("decoder"))

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for, so that a character split over tokens comes back whole from theirs: a
        byte-level BPE piece through its byte alphabet, a byte-fallback piece (`<0xE6>`) as its byte, any other
        piece as its text in UTF-8 (SentencePiece's word mark as a space)."""
        piece = self.tokenizer.id_to_token(token_id)
        if piece is None:
            return b""
        if match := _BYTE_PIECE.fullmatch(piece):
            return bytes([int(match[1], 16)])
        if self._byte_level and all(char in _BYTE_LEVEL for char in piece):
            return bytes(_BYTE_LEVEL[char] for char in piece)
        return piece.replace(SENTENCEPIECE_SPACE, " ").encode()

    def apply_chat_template(
        self, messages: list[dict[str, Any]], *, add_generation_prompt: bool = True
    ) -> str:
        if not self.chat_template:
            raise ValueError("this model has no chat_template in tokenizer_config.json; use /v1/completions")
        from jinja2 import TemplateError

        if self._compiled_template is None:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            def raise_exception(message: str) -> None:
                raise ValueError(message)

            environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            environment.globals["raise_exception"] = raise_exception
            environment.globals["strftime_now"] = lambda fmt: datetime.now(UTC).strftime(fmt)
            try:
                self._compiled_template = environment.from_string(self.chat_template)
            except TemplateError as exc:
                raise ValueError(f"the chat template does not parse: {exc}") from exc
        try:
            return self._compiled_template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token or "",
                eos_token=self.eos_token or "",
            )
        except TemplateError as exc:
            raise ValueError(f"the chat template failed on these messages: {exc}") from exc

    def encode_chat(self, messages: list[dict[str, Any]]) -> list[int]:
        """Token ids of a rendered chat; the template writes its own BOS, so none is added here."""
        return self.encode(self.apply_chat_template(messages), add_bos=False)
