"""`tenant_dump` and `tenant_restore`: one tenant's schema to a pg_dump archive and back."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from quire.documents.models import Document, DocumentStatus


def _document(text: str) -> Document:
    return Document.objects.create(
        filename=f"{text}.txt",
        content_type="text/plain",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        size_bytes=len(text),
        file=f"documents/{text}.txt",
        status=DocumentStatus.READY,
        text=text,
        page_starts=[0],
    )


def _schemas_like(prefix: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [prefix + "%"])
        return sorted(name for (name,) in cursor.fetchall())


def test_a_tenant_dumped_and_restored_gets_back_its_rows_and_nothing_else(make_tenant, tenant_a, tmp_path):
    tenant = make_tenant("dumped").tenant
    archive = tmp_path / "dumped.dump"
    with tenant_context(tenant):
        kept = _document("kept")
    call_command("tenant_dump", "dumped", str(archive))
    with tenant_context(tenant):
        Document.objects.filter(pk=kept.pk).delete()
        _document("written-after-the-dump")

    with pytest.raises(CommandError, match="exists"):
        call_command("tenant_restore", "dumped", str(archive))
    with pytest.raises(CommandError, match="not 't_alpha'"):
        call_command("tenant_restore", tenant_a.tenant.slug, str(archive), "--replace")
    call_command("tenant_restore", "dumped", str(archive), "--replace")

    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["kept.txt"]
        assert Document.objects.get(pk=kept.pk).text == "kept"
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]


def test_an_archive_older_than_the_code_is_restored_and_migrated(make_tenant, tmp_path, capsys):
    from django.db.migrations.loader import MigrationLoader

    from tests.support.schemas import applied

    tenant = make_tenant("dumped-old").tenant
    graph = MigrationLoader(None).graph
    newest = graph.leaf_nodes("webhooks")[0]
    later = [
        f"{app}.{name}"
        for app, name in graph.forwards_plan(newest)
        if app == "webhooks" and name > "0004_delivery_redispatches"
    ]
    call_command(
        "migrate_schemas",
        "webhooks",
        "0004_delivery_redispatches",
        tenant=True,
        schema_name=tenant.schema_name,
    )
    assert newest not in applied(tenant.schema_name)
    archive = tmp_path / "old.dump"
    call_command("tenant_dump", "dumped-old", str(archive))
    call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, verbosity=0)

    capsys.readouterr()
    call_command("tenant_restore", "dumped-old", str(archive), "--replace")
    out = capsys.readouterr().out
    assert f"the archive predates {len(later)} migrations, applied since: {', '.join(later)}" in out
    assert newest in applied(tenant.schema_name)
    with tenant_context(tenant):
        from quire.webhooks.models import RetiredSecret

        assert RetiredSecret.objects.count() == 0

    capsys.readouterr()
    call_command("tenant_dump", "dumped-old", str(archive))
    call_command("tenant_restore", "dumped-old", str(archive), "--replace")
    assert "predates" not in capsys.readouterr().out


def test_the_client_programs_connect_with_every_libpq_option_of_the_database_quoted():
    from psycopg.conninfo import conninfo_to_dict

    from tenants.backups import conninfo

    options = {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/quire/ca.pem",
        "sslcert": "/etc/quire/client's cert.pem",
        "sslkey": "C:\\quire\\client.key",
        "sslcrl": "/etc/quire/crl.pem",
        "connect_timeout": 7,
        "options": "-c search_path='t_acme' -c statement_timeout=0",
        "target_session_attrs": "read-write",
        "application_name": "quire backup",
        "password": "not-on-the-command-line",
        "isolation_level": 2,
        "pool": {"max_size": 4},
    }
    settings_dict = {
        "NAME": "quire",
        "HOST": "db.internal",
        "PORT": "5432",
        "USER": "o'brien",
        "OPTIONS": options,
    }
    parsed = conninfo_to_dict(conninfo(settings_dict))
    expected = {k: str(v) for k, v in options.items() if k not in ("password", "isolation_level", "pool")}
    assert parsed == {"dbname": "quire", "host": "db.internal", "port": "5432", "user": "o'brien", **expected}


def test_a_restore_interrupted_while_pg_restore_runs_puts_the_schema_back_under_its_name(
    make_tenant, tmp_path, monkeypatch
):
    from tenants import backups

    tenant = make_tenant("interrupted").tenant
    archive = tmp_path / "interrupted.dump"
    with tenant_context(tenant):
        _document("before-the-interruption")
    call_command("tenant_dump", "interrupted", str(archive))
    run = backups._run

    def interrupted(command, env):
        if command[0].endswith("pg_restore") and "--list" not in command:
            raise KeyboardInterrupt
        return run(command, env)

    monkeypatch.setattr(backups, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        call_command("tenant_restore", "interrupted", str(archive), "--replace")
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["before-the-interruption.txt"]


def test_a_schema_left_aside_refuses_the_next_restore_and_goes_with_the_tenant(make_tenant, tmp_path):
    tenant = make_tenant("left-aside").tenant
    archive = tmp_path / "left-aside.dump"
    call_command("tenant_dump", "left-aside", str(archive))
    aside = f"{tenant.schema_name}_before_restore_1700000000"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{tenant.schema_name}" RENAME TO "{aside}"')
    with pytest.raises(
        CommandError, match=f'left aside by an interrupted restore; ALTER SCHEMA "{aside}" RENAME'
    ):
        call_command("tenant_restore", "left-aside", str(archive), "--replace")
    older = f"{tenant.schema_name}_before_restore_1600000000"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{tenant.schema_name}"')
        cursor.execute(f'CREATE SCHEMA "{older}"')
    with pytest.raises(CommandError, match=f'DROP SCHEMA "{older}" CASCADE once the current schema'):
        call_command("tenant_restore", "left-aside", str(archive), "--replace")

    import io

    call_command("tenant_erase", "left-aside", "--yes", stdout=io.StringIO())
    assert _schemas_like(tenant.schema_name) == []


def test_an_archive_of_a_newer_release_is_refused_and_the_schema_left_as_it_was(make_tenant, tmp_path):
    tenant = make_tenant("dumped-newer").tenant
    archive = tmp_path / "newer.dump"
    table = f'"{tenant.schema_name}".documents_document'
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{tenant.schema_name}".django_migrations (app, name, applied) '
            "VALUES ('documents', '9999_from_a_later_release', now())"
        )
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN later_release integer NOT NULL DEFAULT 0")
    call_command("tenant_dump", "dumped-newer", str(archive))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM \"{tenant.schema_name}\".django_migrations WHERE name = '9999_from_a_later_release'"
        )
        cursor.execute(f"ALTER TABLE {table} DROP COLUMN later_release")
    with tenant_context(tenant):
        _document("current")

    with pytest.raises(CommandError, match=r"made by a newer release.*documents\.9999_from_a_later_release"):
        call_command("tenant_restore", "dumped-newer", str(archive), "--replace")

    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["current.txt"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND column_name = %s",
            [tenant.schema_name, "later_release"],
        )
        assert cursor.fetchone() == (0,)


def test_an_older_archive_whose_migration_fails_leaves_the_schema_there_was(
    make_tenant, tmp_path, monkeypatch
):
    import importlib

    from django.db import migrations

    from tests.support.schemas import applied

    tenant = make_tenant("dumped-unmigratable").tenant
    call_command(
        "migrate_schemas",
        "webhooks",
        "0004_delivery_redispatches",
        tenant=True,
        schema_name=tenant.schema_name,
    )
    with tenant_context(tenant):
        _document("archived")
    archive = tmp_path / "unmigratable.dump"
    call_command("tenant_dump", "dumped-unmigratable", str(archive))
    call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, verbosity=0)
    with tenant_context(tenant):
        Document.objects.all().delete()
        _document("current")
    before = applied(tenant.schema_name)

    newest = importlib.import_module("quire.webhooks.migrations.0005_retired_secrets").Migration
    failing = migrations.RunSQL(
        "ALTER TABLE documents_document ADD CONSTRAINT later CHECK (filename <> 'archived.txt')"
    )
    monkeypatch.setattr(newest, "operations", [*newest.operations, failing])
    with pytest.raises(
        CommandError, match=r"could not be migrated .*\"later\".*the schema there was is back"
    ):
        call_command("tenant_restore", "dumped-unmigratable", str(archive), "--replace")

    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    assert applied(tenant.schema_name) == before
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["current.txt"]

    from tenants import backups

    def interrupted(schema_name):
        raise KeyboardInterrupt

    monkeypatch.setattr(backups, "schema_migrate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        call_command("tenant_restore", "dumped-unmigratable", str(archive), "--replace")
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["current.txt"]


def test_a_dump_that_fails_leaves_the_archive_already_at_its_path(make_tenant, tmp_path):
    tenant = make_tenant("dumped-twice").tenant
    archive = tmp_path / "dumped-twice.dump"
    call_command("tenant_dump", "dumped-twice", str(archive))
    earlier = archive.read_bytes()
    aside = f"{tenant.schema_name}_moved"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{tenant.schema_name}" RENAME TO "{aside}"')
    try:
        with pytest.raises(CommandError, match="pg_dump failed"):
            call_command("tenant_dump", "dumped-twice", str(archive))
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{tenant.schema_name}"')
    assert archive.read_bytes() == earlier
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dumped-twice.dump"]


def test_an_archive_of_an_erased_tenant_is_refused_by_the_tenant_made_since_with_its_slug(
    make_tenant, tmp_path
):
    import io

    from tenants.services import tenant_update

    erased = make_tenant("made-again").tenant
    archive = tmp_path / "made-again.dump"
    with tenant_context(erased):
        _document("the-erased-tenants")
    call_command("tenant_dump", "made-again", str(archive))
    call_command("tenant_erase", "made-again", "--yes", stdout=io.StringIO())
    tenant = make_tenant("made-again").tenant
    assert tenant.schema_name == erased.schema_name
    with tenant_context(tenant):
        _document("the-new-tenants")

    with pytest.raises(CommandError, match=f"archive is of tenant {erased.public_id}, not 'made-again'"):
        call_command("tenant_restore", "made-again", str(archive), "--replace")
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["the-new-tenants.txt"]

    call_command(
        "tenant_restore",
        "made-again",
        str(archive),
        "--replace",
        "--from-tenant",
        erased.public_id,
        stdout=io.StringIO(),
    )
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["the-erased-tenants.txt"]

    call_command("tenant_dump", "made-again", str(archive))
    tenant_update(tenant=tenant, slug="made-again-renamed")
    call_command("tenant_restore", "made-again-renamed", str(archive), "--replace", stdout=io.StringIO())
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["the-erased-tenants.txt"]


def test_a_restore_stopped_by_sigterm_puts_the_schema_back_under_its_name(make_tenant, tmp_path, monkeypatch):
    import os
    import signal

    from tenants import backups

    tenant = make_tenant("terminated").tenant
    archive = tmp_path / "terminated.dump"
    with tenant_context(tenant):
        _document("before-the-sigterm")
    call_command("tenant_dump", "terminated", str(archive))
    with tenant_context(tenant):
        _document("after-the-dump")
    run = backups._run
    unhandled = []

    def terminated(command, env):
        if command[0].endswith("pg_restore") and "--single-transaction" in command:
            os.kill(os.getpid(), signal.SIGTERM)
        return run(command, env)

    monkeypatch.setattr(backups, "_run", terminated)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: unhandled.append(signum))
    try:
        with pytest.raises(BaseException, match="SIGTERM"):
            call_command("tenant_restore", "terminated", str(archive), "--replace")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert unhandled == []
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    with tenant_context(tenant):
        assert sorted(Document.objects.values_list("filename", flat=True)) == [
            "after-the-dump.txt",
            "before-the-sigterm.txt",
        ]


def _maintenance_seen(provisioned, monkeypatch) -> dict:
    """What the API, the portal and a worker answer for the tenant while pg_restore runs in the restore."""
    from celery.exceptions import Retry
    from django.conf import settings
    from django.test import Client

    from quire.jobs import tasks
    from quire.metrics import exposition
    from tenants import backups
    from tenants.services import for_each_tenant
    from tests.support.api import Api

    tenant = provisioned.tenant
    run = backups._run
    seen: dict = {}

    def job_run(**kwargs):
        seen["job_ran"] = True

    def retry(*args, **kwargs):
        seen["job_retry"] = kwargs.get("countdown")
        raise Retry("retried")

    def watched(command, env):
        if command[0].endswith("pg_restore") and "--single-transaction" in command:
            seen["api"] = Api(provisioned.issued_key.secret).get("/v1/documents")
            seen["portal"] = Client(HTTP_HOST=f"{tenant.slug}.{settings.QUIRE_BASE_DOMAIN}").get("/login")
            monkeypatch.setattr(tasks, "job_run", job_run)
            monkeypatch.setattr(tasks.job_run_task, "retry", retry)
            with tenant_context(tenant):
                seen["job_state"] = tasks.job_run_task.apply(args=["job_during_restore"]).state
            monkeypatch.undo()
            seen["swept"] = for_each_tenant(lambda swept: swept.slug, include_inactive=True)
            seen["metrics"] = exposition()
        return run(command, env)

    monkeypatch.setattr(backups, "_run", watched)
    return seen


def test_a_tenant_is_in_maintenance_while_its_restore_runs_and_back_in_service_after(
    make_tenant, tmp_path, monkeypatch
):
    from tests.support.api import Api

    provisioned = make_tenant("restoring")
    tenant = provisioned.tenant
    archive = tmp_path / "restoring.dump"
    call_command("tenant_dump", "restoring", str(archive))
    seen = _maintenance_seen(provisioned, monkeypatch)
    call_command("tenant_restore", "restoring", str(archive), "--replace")

    assert seen["api"].status_code == 503
    assert seen["api"].json()["error"]["code"] == "workspace_maintenance"
    assert int(seen["api"]["Retry-After"]) > 0
    assert seen["portal"].status_code == 503
    assert b"maintenance" in seen["portal"].content
    assert int(seen["portal"]["Retry-After"]) > 0
    assert "job_ran" not in seen
    assert seen["job_state"] == "RETRY"
    assert seen["job_retry"] > 0
    assert "restoring" not in seen["swept"]
    assert "quire_tenants " in seen["metrics"]
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None
    assert tenant.is_active
    assert Api(provisioned.issued_key.secret).get("/v1/documents").status_code == 200


def test_a_failed_restore_ends_the_maintenance_and_keeps_a_deactivated_tenant_inactive(
    make_tenant, tmp_path, monkeypatch
):
    from tenants import backups
    from tenants.services import tenant_update

    provisioned = make_tenant("restore-fails")
    tenant = provisioned.tenant
    archive = tmp_path / "restore-fails.dump"
    call_command("tenant_dump", "restore-fails", str(archive))
    tenant_update(tenant=tenant, is_active=False)
    run = backups._run

    def interrupted(command, env):
        if command[0].endswith("pg_restore") and "--single-transaction" in command:
            tenant.refresh_from_db()
            assert tenant.maintenance_since is not None
            raise KeyboardInterrupt
        return run(command, env)

    monkeypatch.setattr(backups, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        call_command("tenant_restore", "restore-fails", str(archive), "--replace")
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None
    assert not tenant.is_active
    monkeypatch.setattr(backups, "_run", run)
    call_command("tenant_restore", "restore-fails", str(archive), "--replace")
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None
    assert not tenant.is_active


def test_a_tenant_left_in_maintenance_stays_so_after_a_restore_until_put_back(make_tenant, tmp_path):
    from tests.support.api import Api

    provisioned = make_tenant("left-in-maintenance")
    tenant = provisioned.tenant
    archive = tmp_path / "left-in-maintenance.dump"
    call_command("tenant_dump", "left-in-maintenance", str(archive))
    call_command("tenant_maintenance", "left-in-maintenance", "on", stdout=io.StringIO())
    call_command("tenant_restore", "left-in-maintenance", str(archive), "--replace", stdout=io.StringIO())
    assert Api(provisioned.issued_key.secret).get("/v1/documents").status_code == 503
    call_command("tenant_maintenance", "left-in-maintenance", "off", stdout=io.StringIO())
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None
    assert Api(provisioned.issued_key.secret).get("/v1/documents").status_code == 200


def _dumped(make_tenant, slug: str, tmp_path, *texts: str):
    """A tenant with a document of each of `texts`, dumped: the tenant and its archive."""
    tenant = make_tenant(slug).tenant
    with tenant_context(tenant):
        for text in texts:
            _document(text)
    archive = tmp_path / f"{slug}.dump"
    call_command("tenant_dump", slug, str(archive))
    return tenant, archive


def _held_transaction(schema_name: str):
    """Another backend's transaction that has read the tenant's documents and is still open (a request that is
    mid-transaction): it holds a lock on the table until it ends."""
    import os

    import psycopg

    held = psycopg.connect(os.environ["DATABASE_URL"])
    held.execute(f'SELECT count(*) FROM "{schema_name}".documents_document').fetchone()
    return held


def test_a_restore_waits_for_the_transactions_in_the_tenants_schema_before_swapping_it(
    make_tenant, tmp_path, monkeypatch
):
    import threading

    from tenants import backups
    from tests.support.polling import wait_for

    tenant, archive = _dumped(make_tenant, "restore-drains", tmp_path, "archived")
    with tenant_context(tenant):
        _document("written-after-the-dump")
    in_flight = backups._in_flight
    seen: list[list[str]] = []

    def watched(tenant):
        seen.append(in_flight(tenant))
        return seen[-1]

    monkeypatch.setattr(backups, "_in_flight", watched)
    held = _held_transaction(tenant.schema_name)
    ended: dict = {}

    def restore() -> None:
        try:
            backups.tenant_restore(tenant=tenant, path=archive, replace=True, drain_seconds=120)
        except BaseException as exc:
            ended["error"] = exc
        finally:
            connection.close()

    restoring = threading.Thread(target=restore)
    try:
        restoring.start()
        holder = f"backend {held.info.backend_pid} "
        wait_for(lambda: any(line.startswith(holder) for lines in seen for line in lines), timeout=60)
        assert restoring.is_alive()
        assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
        tenant.refresh_from_db()
        assert tenant.maintenance_since is not None
    finally:
        held.close()
        restoring.join(120)
    assert "error" not in ended, ended
    assert seen[-1] == []
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["archived.txt"]
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None


def test_a_restore_refuses_while_work_in_the_tenants_schema_outlasts_its_drain_unless_forced(
    make_tenant, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    from quire.jobs.models import Job, JobStatus

    tenant, archive = _dumped(make_tenant, "restore-busy", tmp_path)
    with tenant_context(tenant):
        _document("written-after-the-dump")
        job = Job.objects.create(
            connector="legal",
            document_ids=[],
            status=JobStatus.RUNNING,
            attempt=1,
            lease_until=timezone.now() + timedelta(hours=1),
        )
    held = _held_transaction(tenant.schema_name)
    holder = f"backend {held.info.backend_pid} "
    try:
        with pytest.raises(CommandError) as refused:
            call_command("tenant_restore", "restore-busy", str(archive), "--replace", "--drain-seconds", "1")
    finally:
        held.close()
    message = str(refused.value)
    assert holder in message
    assert f"job {job.pk} " in message
    assert "--force" in message
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]
    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["written-after-the-dump.txt"]
    tenant.refresh_from_db()
    assert tenant.maintenance_since is None

    call_command(
        "tenant_restore",
        "restore-busy",
        str(archive),
        "--replace",
        "--drain-seconds",
        "0",
        "--force",
        stdout=io.StringIO(),
    )
    with tenant_context(tenant):
        assert not Document.objects.exists()
        assert not Job.objects.filter(pk=job.pk).exists()
