"""Whether this deployment may load model weights trained on data under a non-commercial licence.

Such weights say so in their metadata or card (`non_commercial`). A commercial deployment (`QUIRE_COMMERCIAL`,
true by default where `QUIRE_ENV` is `production`) treats them as absent: the literature connector runs its
rules, and ingest stores the full encoder's vectors where the chunk encoder's adapter is so marked.
"""

from common.env import env_bool, env_str


def commercial() -> bool:
    """Whether this deployment is commercial; read on every call."""
    return env_bool("QUIRE_COMMERCIAL", env_str("QUIRE_ENV", "development") == "production")


def may_load(*, non_commercial: bool) -> bool:
    """Whether weights so marked may be loaded here."""
    return not (non_commercial and commercial())
