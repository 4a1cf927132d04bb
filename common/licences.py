"""Whether this deployment may load model weights trained on data under a non-commercial licence.

Such weights say so in their metadata or card (`non_commercial`). A commercial deployment sets
`QUIRE_COMMERCIAL=true`, and the loaders then treat them as absent: the literature connector runs its rules and
ingest stores the full encoder's vectors.
"""

from common.env import env_bool


def commercial() -> bool:
    """Whether this deployment is commercial (`QUIRE_COMMERCIAL`, read on every call)."""
    return env_bool("QUIRE_COMMERCIAL", False)


def may_load(*, non_commercial: bool) -> bool:
    """Whether weights so marked may be loaded here."""
    return not (non_commercial and commercial())
