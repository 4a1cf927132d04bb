"""Tiny random Llama checkpoints (`tests.support.checkpoints`), built once per session and options."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.checkpoints import build_checkpoint


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    built: dict[tuple, Path] = {}

    def factory(**options: Any) -> Path:
        key = tuple(sorted(options.items()))
        if key not in built:
            name = "-".join(f"{k}={v}" for k, v in key) or "default"
            built[key] = build_checkpoint(tmp_path_factory.mktemp(name), **options)
        return built[key]

    return factory


@pytest.fixture(scope="session")
def tiny_checkpoint(checkpoint_factory: Callable[..., Path]) -> Path:
    return checkpoint_factory()
