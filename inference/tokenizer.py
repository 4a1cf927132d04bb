"""Tokenizer and chat template of a Hugging Face model directory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from inference.config import CheckpointError


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
