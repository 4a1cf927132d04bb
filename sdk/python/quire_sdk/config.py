"""The command line's stored login: `$XDG_CONFIG_HOME/quire/config.json` (else `~/.config/quire/`), mode
0600."""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quire" / "config.json"


def load_config() -> dict:
    path = config_path()
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def save_config(values: dict) -> Path:
    """Write `values` readable by the user only (the directory 0700, the file 0600, never wider even for
    a moment)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(values, out, indent=2)
    return path
