"""Whether this deployment may load model weights trained on data under a non-commercial licence, and what every
shipped weights file says about itself.

Such weights say so in their metadata or card (`non_commercial`). A commercial deployment (`QUIRE_COMMERCIAL`,
true by default where `QUIRE_ENV` is `production`) treats them as absent: the literature connector runs its
rules, and ingest stores the full encoder's vectors where the chunk encoder's adapter is so marked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.env import env_bool, env_str

CARD_FILE = "MODEL_CARD.md"
TRAINED_ON_FILE = "TRAINED_ON.txt"


def commercial() -> bool:
    """Whether this deployment is commercial; read on every call."""
    return env_bool("QUIRE_COMMERCIAL", env_str("QUIRE_ENV", "development") == "production")


def may_load(*, non_commercial: bool) -> bool:
    """Whether weights so marked may be loaded here."""
    return not (non_commercial and commercial())


class ModelStatus(StrEnum):
    LOADED = "loaded"
    ABSENT = "absent"
    WITHHELD = "withheld"


@dataclass(frozen=True)
class ShippedModel:
    """One weights file of the build: what it does, what it was trained on and under which licence. Its loader
    loads it exactly when `status` is LOADED. `non_commercial` is the file's own mark, read by the package that
    ships it; `directory` holds the model card and, for weights trained here, TRAINED_ON.txt; `fallback` is
    what runs in its place when it is not loaded."""

    key: str
    purpose: str
    connectors: tuple[str, ...]
    data: str
    licence: str
    weights: Path
    non_commercial: bool
    fallback: str
    trained_here: bool = True
    card_file: str = CARD_FILE

    @property
    def directory(self) -> Path:
        return self.weights.parent

    @property
    def status(self) -> ModelStatus:
        if not self.weights.exists():
            return ModelStatus.ABSENT
        return ModelStatus.LOADED if may_load(non_commercial=self.non_commercial) else ModelStatus.WITHHELD

    @property
    def loaded(self) -> bool:
        return self.status is ModelStatus.LOADED

    def status_reason(self) -> str | None:
        status = self.status
        if status is ModelStatus.ABSENT:
            return f"This build does not include the weights; in their place: {self.fallback}."
        if status is ModelStatus.WITHHELD:
            return (
                "The weights were trained on data under a non-commercial licence and this deployment is "
                f"commercial (QUIRE_COMMERCIAL); in their place: {self.fallback}."
            )
        return None

    def version(self) -> str | None:
        """The first 12 hex digits of the SHA-256 of the weights file and the files beside it that share its stem
        (`clauses.npz` and `clauses.json`), in name order; None where the build lacks the weights."""
        if not self.weights.exists():
            return None
        files = sorted(self.directory.glob(f"{self.weights.stem}.*"))
        return _digest(tuple((path, path.stat().st_mtime_ns) for path in files))

    def card(self) -> str | None:
        path = self.directory / self.card_file
        return path.read_text(encoding="utf-8") if path.exists() else None

    def trained_on(self) -> list[str] | None:
        """Every training document or claim by its data set's own name or id, or None for weights not trained
        here."""
        path = self.directory / TRAINED_ON_FILE
        if not self.trained_here or not path.exists():
            return None
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


_digests: dict[tuple[tuple[Path, int], ...], str] = {}


def _digest(files: tuple[tuple[Path, int], ...]) -> str:
    if files not in _digests:
        hasher = hashlib.sha256()
        for path, _ in files:
            with path.open("rb") as stream:
                for block in iter(lambda stream=stream: stream.read(1 << 20), b""):
                    hasher.update(block)
        _digests[files] = hasher.hexdigest()[:12]
    return _digests[files]
