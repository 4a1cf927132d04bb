"""`/readyz`, the web pods' readiness probe: 200 while the database, Redis and the broker answer, 503 naming
the one that does not; `/healthz`, the liveness probe, answers 200 either way."""

import json
import os
import subprocess
import sys

from django.db import OperationalError
from django.test import Client, override_settings

from tests.support import ROOT, free_port

PROBE = {"HTTP_HOST": "localhost"}


def test_ready_when_the_database_redis_and_the_broker_answer():
    response = Client().get("/readyz", **PROBE)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}


def test_a_broker_that_does_not_answer_is_named_in_a_503_and_liveness_is_unaffected():
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(CELERY_BROKER_URL=closed):
        response = Client().get("/readyz", **PROBE)
        live = Client().get("/healthz", **PROBE)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failing"] == ["broker"]
    assert body["checks"] == {"database": "ok", "redis": "ok", "broker": "unavailable"}
    assert str(closed.split(":")[2].split("/")[0]) not in response.content.decode(), "no address is disclosed"
    assert live.status_code == 200


def test_a_redis_that_does_not_answer_is_named_in_a_503():
    from django.conf import settings

    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(REDIS_URL=closed, CELERY_BROKER_URL=settings.CELERY_BROKER_URL):
        response = Client().get("/readyz", **PROBE)
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


def test_a_database_that_does_not_answer_is_named_in_a_503(monkeypatch):
    from quire.api import health

    def refused() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(health, "_database", refused)
    response = Client().get("/readyz", **PROBE)
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


def _production_redirect_exemptions() -> list[str]:
    env = {**os.environ, "QUIRE_ENV": "production", "QUIRE_SECRET_KEY": "s" * 60}
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, quire.settings as s; print(json.dumps(s.SECURE_REDIRECT_EXEMPT))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(shown.stdout)


def test_the_probes_are_not_redirected_to_https_in_production():
    with override_settings(
        SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=_production_redirect_exemptions()
    ):
        assert Client().get("/readyz", **PROBE).status_code == 200
        assert Client().get("/healthz", **PROBE).status_code == 200
        assert Client().get("/readyzz", **PROBE).status_code == 301
