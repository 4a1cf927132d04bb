"""A fresh platform for a benchmark: embedded PostgreSQL and Redis under a data directory of its own, Django set
up on them, the public schema migrated."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextmanager
def fresh_platform(data_dir: Path) -> Iterator[None]:
    """Removes `data_dir`, starts PostgreSQL and Redis under it, sets Django up and migrates the public schema;
    stops both servers on the way out."""
    shutil.rmtree(data_dir, ignore_errors=True)
    os.environ.update(
        QUIRE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="quire.settings",
        QUIRE_LOG_LEVEL="WARNING",
        QUIRE_DEBUG="false",
    )
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    from quire.embedded import ensure_service_urls

    servers = ensure_service_urls()
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        yield
    finally:
        for server in servers:
            server.stop()
