"""Render the Helm chart with Helm itself (its Go SDK, through `helm-python-sdk`) into `deploy/rendered/`.

    python deploy/render.py          # rewrite the renderings
    python deploy/render.py --check  # exit 1 when a rendering is out of date

One file per values set, release `quire` in namespace `quire`; the tests render again and compare:

- `default.yaml`: the chart's values plus the one value they lack, `storage.mediaClaim: quire-media`. The chart
  refuses to render without shared document storage (S3 or a ReadWriteMany claim), so this is the smallest
  release that works: documents on local disk, on a claim web and the ingest and jobs workers mount.
- `production.yaml`: plus `values-production.yaml` (documents on S3, no claim).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent
CHART = DEPLOY / "helm" / "quire"
RENDERED = DEPLOY / "rendered"
VALUES: dict[str, dict | Path] = {
    "default": {"storage": {"mediaClaim": "quire-media"}},
    "production": CHART / "values-production.yaml",
}
RELEASE, NAMESPACE = "quire", "quire"


def render(values: dict | Path) -> str:
    """The chart's manifests for these values (or a values file), as one YAML stream ordered by template path."""
    import helm_python as helm

    if isinstance(values, Path):
        values = yaml.safe_load(values.read_text())
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    parts = []
    for source, text in sorted(manifests.items()):
        if source.endswith("NOTES.txt"):
            continue
        for document in text.split("\n---\n"):
            body = document.strip().removeprefix("---").strip()
            if any(line.strip() and not line.lstrip().startswith("#") for line in body.splitlines()):
                parts.append(f"# Source: {source}\n{body}\n")
    return "---\n" + "---\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name, values in VALUES.items():
        path = RENDERED / f"{name}.yaml"
        text = render(values)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)}; run python deploy/render.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
