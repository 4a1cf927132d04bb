"""The import graph of our packages: arrows between top-level packages and between the platform's apps,
arrows that point up the layer diagram, and two-module cycles. Prints tables; `--root DIR` reads another
checkout.

    python benchmarks/import_graph.py [--root DIR]
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import grimp

PACKAGES = ("quire", "tenants", "billing", "connectors", "inference", "kernels", "common")
# Higher index = lower layer; an arrow from a lower layer to a higher one is a back-arrow.
PLATFORM = ("quire", "billing", "tenants", "common")
MODELS = ("quire", "connectors", "inference", "kernels", "common")


def _top(module: str) -> str:
    return module.split(".")[0]


def _back(source: str, target: str) -> bool:
    for layers in (PLATFORM, MODELS):
        if source in layers and target in layers and layers.index(source) > layers.index(target):
            return True
    return (source in PLATFORM[1:] and target in MODELS[1:-1]) or (
        source in MODELS[1:-1] and target in PLATFORM[1:-1]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    root = parser.parse_args().root.resolve()
    sys.path.insert(0, str(root))
    present = [p for p in PACKAGES if (root / p / "__init__.py").exists()]
    graph = grimp.build_graph(*present)
    arrows: collections.Counter[tuple[str, str]] = collections.Counter()
    back: list[tuple[str, str]] = []
    cycles: set[tuple[str, str]] = set()
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = _top(module), _top(imported)
            if source != target:
                arrows[(source, target)] += 1
                if _back(source, target):
                    back.append((module, imported))
            if module in graph.find_modules_directly_imported_by(imported):
                cycles.add(tuple(sorted((module, imported))))
    print(f"{'from':<12}{'to':<12}{'imports':>8}")
    for (source, target), count in sorted(arrows.items()):
        print(f"{source:<12}{target:<12}{count:>8}{'  back-arrow' if _back(source, target) else ''}")
    print(f"\nback-arrows: {len(back)}")
    for source, target in back:
        print(f"  {source} -> {target}")
    print(f"two-module cycles: {len(cycles)}")
    for a, b in sorted(cycles):
        print(f"  {a} <-> {b}")


if __name__ == "__main__":
    main()
