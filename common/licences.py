"""Whether this deployment may load a weights file, by the licences of the data it was trained on, and what every
shipped weights file says about itself.

Weights trained on data under a non-commercial licence say so in their metadata or card (`non_commercial`). A
commercial deployment (`QUIRE_COMMERCIAL`, true by default where `QUIRE_ENV` is `production`) treats them as
absent: the literature connector runs its rules, and ingest stores the full encoder's vectors where the chunk
encoder's adapter is so marked. `QUIRE_WITHHELD_LICENCES` names further licences a deployment will not load
weights derived from (`GPL-3.0`: the earnings model and the chunk encoder read ECTSum).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.env import env_bool, env_list, env_str

CARD_FILE = "MODEL_CARD.md"
TRAINED_ON_FILE = "TRAINED_ON.txt"


def commercial() -> bool:
    """Whether this deployment is commercial; read on every call."""
    return env_bool("QUIRE_COMMERCIAL", env_str("QUIRE_ENV", "development") == "production")


def withheld_licences() -> frozenset[str]:
    """The licences `QUIRE_WITHHELD_LICENCES` names (comma-separated, case ignored); read on every call."""
    return frozenset(name.casefold() for name in env_list("QUIRE_WITHHELD_LICENCES", []))


def withheld_because(*, non_commercial: bool, licences: tuple[str, ...] = ()) -> str | None:
    """Why weights so marked, trained on data under `licences`, may not be loaded here; None where they may."""
    if non_commercial and commercial():
        return (
            "The weights were trained on data under a non-commercial licence and this deployment is commercial "
            "(QUIRE_COMMERCIAL)"
        )
    named = [licence for licence in licences if licence.casefold() in withheld_licences()]
    if named:
        return f"This deployment withholds weights trained on {' and '.join(named)} data (QUIRE_WITHHELD_LICENCES)"
    return None


def may_load(*, non_commercial: bool, licences: tuple[str, ...] = ()) -> bool:
    """Whether weights so marked, trained on data under `licences`, may be loaded here."""
    return withheld_because(non_commercial=non_commercial, licences=licences) is None


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
    licences: tuple[str, ...]
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
        loadable = may_load(non_commercial=self.non_commercial, licences=self.licences)
        return ModelStatus.LOADED if loadable else ModelStatus.WITHHELD

    @property
    def loaded(self) -> bool:
        return self.status is ModelStatus.LOADED

    def status_reason(self) -> str | None:
        if not self.weights.exists():
            return f"This build does not include the weights; in their place: {self.fallback}."
        because = withheld_because(non_commercial=self.non_commercial, licences=self.licences)
        return None if because is None else f"{because}; in their place: {self.fallback}."

    def version(self) -> str | None:
        """The first 12 hex digits of the SHA-256 of the weights file and the files beside it that share its stem
        (`clauses.npz` and `clauses.json`), in name order; None where the build lacks the weights."""
        if not self.weights.exists():
            return None
        files = sorted(self.directory.glob(f"{self.weights.stem}.*"))
        return _digest(tuple((path, path.stat().st_mtime_ns) for path in files))

    def state(self) -> dict[str, str | None]:
        """What identifies the weights that run here: `{"version", "status"}`, as results record it
        (`context.models`) and `model.changed` compares it."""
        return {"version": self.version(), "status": str(self.status)}

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
