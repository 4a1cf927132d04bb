"""Where the repository and the tests' data are."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"


def server_dir(name: str) -> Iterator[Path]:
    """A fresh folder for the embedded servers a test starts, removed after it: under `.quire/`, not pytest's
    base temp, whose root pytest makes private (0700) when any session starts, shutting the `pgserver` user
    (PostgreSQL's, when tests run as root) out of a server another session started there meanwhile."""
    base = ROOT / ".quire" / "test-servers"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name[:40]}-", dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(name="tmp_path")
def server_tmp_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    """`tmp_path` for a module whose tests start servers: their `server_dir`. Imported, it takes pytest's place."""
    yield from server_dir(request.node.name)
