"""No installed distribution but ours provides one of our top-level import names: one that did would shadow our
package, or ours it (transformers 5.25 requires `kernels`, a distribution of that import name)."""

from __future__ import annotations

import tomllib
from importlib.metadata import packages_distributions

from tests.support import ROOT


def test_our_import_names_belong_to_our_distribution_alone():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    ours = config["tool"]["importlinter"]["root_packages"]
    provided = packages_distributions()
    others = {name: sorted(set(provided.get(name, [])) - {"quire"}) for name in ours}
    assert not any(others.values()), (
        f"installed distributions that provide our import names: { {k: v for k, v in others.items() if v} }; "
        "uninstall them and pin whatever requires them"
    )
