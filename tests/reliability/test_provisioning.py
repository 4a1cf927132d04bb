"""`create_tenant` SIGKILLed midway: after the schema is built, while its first API key is being written (the
test holds a lock on the keys' table, so the command waits there). Nothing of the tenant stays, and the same
command run again provisions it whole."""

from __future__ import annotations

import subprocess
import sys

from django.db import connection, transaction

from tenants.models import ApiKey, Member, Tenant
from tests.support import ROOT, spawn, wait_for
from tests.support.processes import kill_process

SLUG = "rel-half-made"
COMMAND = [
    sys.executable,
    "manage.py",
    "create_tenant",
    "Half Made",
    "--slug",
    SLUG,
    "--owner",
    "o@half.test",
]


def _waiting_to_insert_a_key() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            ['INSERT INTO "tenants_apikey"%'],
        )
        return cursor.fetchone()[0] > 0


def _schema_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", ["t_" + SLUG.replace("-", "_")])
        return cursor.fetchone() is not None


def test_a_provisioning_killed_before_its_first_key_leaves_nothing_and_runs_again(tmp_path):
    stale = Tenant.objects.filter(slug=SLUG).first()
    if stale is not None:
        stale.delete(force_drop=True)
    log = tmp_path / "create_tenant.log"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE tenants_apikey IN SHARE MODE")
        victim = spawn(COMMAND, log)
        try:
            wait_for(_waiting_to_insert_a_key, timeout=60, message=lambda: log.read_text(errors="replace"))
        finally:
            kill_process(victim)

    again = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    tenant = Tenant.objects.get(slug=SLUG)
    assert ApiKey.objects.filter(tenant=tenant).count() == 1
    assert Member.objects.filter(tenant=tenant, role="owner").count() == 1
    assert _schema_exists()
