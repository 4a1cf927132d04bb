"""Test bootstrap for the platform's tests: real PostgreSQL+pgvector, real Redis, real Celery workers.

`DATABASE_URL` / `REDIS_URL` name servers to use; when unset, the embedded servers under `.quire/`
start. Each test process (every pytest-xdist worker) runs in a database of its own (`<name>_test_<pid>`,
created fresh), Redis database 15 under a key prefix of its own, and a media folder of its own. Folders that
need no Django (kernels, inference, connectors) start nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import torch

from tests.support import Api, FakeClock, WorkerProcess

# Without a GPU the Triton kernels run through Triton's interpreter. It must be chosen before any kernel
# module is imported, and the inference and connectors folders import `kernels` before tests/kernels runs.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

ROOT = Path(__file__).resolve().parent.parent
STANDALONE = ("kernels", "inference", "connectors", "common", "deploy")
# Where `limiter_clock` starts: midnight UTC, so the start of a window of every rate period.
LIMITER_CLOCK_START = 1_800_057_600
_started_servers: list = []
_test_database: list[str] = []


def _needs_platform(config: pytest.Config) -> bool:
    args = [a for a in config.args if not a.startswith("-")] or ["tests"]
    for arg in args:
        rel = Path(arg.split("::")[0]).resolve().relative_to(ROOT) if Path(arg).is_absolute() else Path(arg)
        parts = rel.parts
        if len(parts) < 2 or parts[0] != "tests" or parts[1] not in STANDALONE:
            return True
    return False


def _with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path="/" + name))


def _with_redis_db(url: str, db: int) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{db}"))


def _xdist_controller(config: pytest.Config) -> bool:
    """Under `-n`, the process that hands tests to the workers; each worker sets up its own platform."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if not _needs_platform(config) or _xdist_controller(config):
        return
    try:
        import django
    except ImportError:
        pytest.exit("the platform tests need the platform extra: pip install -e .[dev]", returncode=4)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    os.environ.setdefault("QUIRE_ENV", "test")
    os.environ.setdefault("QUIRE_LOG_FORMAT", "text")
    os.environ.setdefault("QUIRE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("QUIRE_BROKER_VISIBILITY_TIMEOUT", "30")
    os.environ.setdefault("QUIRE_JOB_LEASE_SECONDS", "6")
    os.environ.setdefault("QUIRE_BROKER_RESTORE_INTERVAL", "2")
    from quire.embedded import ensure_service_urls

    _started_servers.extend(ensure_service_urls())
    base_db = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/") or "quire"
    test_db = f"{base_db}_test_{os.getpid()}"
    _recreate_database(os.environ["DATABASE_URL"], test_db)
    _test_database.append(os.environ["DATABASE_URL"])
    _test_database.append(test_db)
    os.environ["DATABASE_URL"] = _with_database(os.environ["DATABASE_URL"], test_db)
    os.environ["REDIS_URL"] = _with_redis_db(os.environ["REDIS_URL"], 15)
    os.environ["QUIRE_REDIS_PREFIX"] = f"test{os.getpid()}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ.setdefault("QUIRE_MEDIA_ROOT", str(ROOT / ".quire" / "test-media" / worker))

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)


def _recreate_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(match=f"{os.environ['QUIRE_REDIS_PREFIX']}:*", count=1000):
        client.delete(key)


# Tests that walk every tenant schema cost in proportion to the schemas the suite has made (about eighty by its
# end): they run first, before the other tests have made theirs.
EVERY_SCHEMA = ("tests/tenants/test_migrating.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(EVERY_SCHEMA))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _test_database:
        from django.db import connections

        connections.close_all()
        _drop_database(*_test_database)
    for server in _started_servers:
        server.stop()


@pytest.fixture(scope="session")
def celery_worker():
    # Every test's tenants share this worker's two children: a tenant may take both, as a test's documents
    # ingest side by side (tests/quire/jobs/test_fair_shares.py runs a worker with the default).
    worker = WorkerProcess(env={"QUIRE_TENANT_FREE_CHILDREN": "0"}).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def make_tenant():
    from tenants.services import tenant_provision

    def _make(slug: str):
        from tenants.models import Tenant

        existing = Tenant.objects.filter(slug=slug).first()
        if existing is not None:
            existing.delete(force_drop=True)
        return tenant_provision(name=slug.replace("-", " ").title(), slug=slug)

    return _make


@pytest.fixture(scope="session")
def tenant_a(make_tenant):
    return make_tenant("alpha")


@pytest.fixture(scope="session")
def tenant_b(make_tenant):
    return make_tenant("beta")


@pytest.fixture
def api_a(tenant_a) -> Api:
    return Api(tenant_a.issued_key.secret)


@pytest.fixture
def api_b(tenant_b) -> Api:
    return Api(tenant_b.issued_key.secret)


@pytest.fixture
def anonymous() -> Api:
    return Api(None)


@pytest.fixture
def uncached_loaders():
    """The clause and literature loaders read the weights afresh, before and after."""
    from connectors.legal.learned import read_shipped as legal_weights
    from connectors.literature.learned import read_shipped as literature_weights

    for loader in (legal_weights, literature_weights):
        loader.cache_clear()
    yield
    for loader in (legal_weights, literature_weights):
        loader.cache_clear()


@pytest.fixture
def limiter_clock(monkeypatch) -> FakeClock:
    """The rate limiters' clock, stopped at the start of a day (and so of every window); the test moves it."""
    from quire.api import throttling

    clock = FakeClock(LIMITER_CLOCK_START)
    monkeypatch.setattr(throttling, "clock", clock)
    return clock
