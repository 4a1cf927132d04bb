"""`migrate_schemas` migrates only the tenant schemas missing a migration on disk: one with every migration
recorded is skipped, one missing a migration (or without a `django_migrations` table) is migrated."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django_tenants.migration_executors import MultiprocessingExecutor, StandardExecutor

from tenants.migrating import get_skipping_executor, migrations_on_disk, must_migrate, schemas_behind
from tenants.models import Tenant
from tests.support.schemas import applied, structure

LEAF = MigrationLoader(None).graph.leaf_nodes("billing")[0]


def _tenant_schemas() -> list[str]:
    return list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))


def _recorded(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(LEAF)
        )
        return cursor.fetchone()[0] == 1


def test_only_schemas_behind_the_migrations_on_disk_are_migrated(tenant_a, tenant_b, capsys):
    on_disk = migrations_on_disk("default")
    assert LEAF in on_disk and len(on_disk) > 20
    schemas = _tenant_schemas()
    assert schemas_behind(schemas, alias="default", on_disk=on_disk) == []

    schema = tenant_b.tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(LEAF))
        cursor.execute('CREATE SCHEMA "t_no_migrations_yet"')
    try:
        behind = schemas_behind([*schemas, "t_no_migrations_yet"], alias="default", on_disk=on_disk)
        assert behind == [schema, "t_no_migrations_yet"]

        capsys.readouterr()
        call_command("migrate_schemas", interactive=False, verbosity=1)
        out = capsys.readouterr().out
        assert f"1 of {len(schemas)} tenant schemas have migrations to apply." in out
        assert f":{schema}]" in out and f":{tenant_a.tenant.schema_name}]" not in out
        assert _recorded(schema)
        assert schemas_behind(schemas, alias="default", on_disk=on_disk) == []

        call_command("migrate_schemas", interactive=False, verbosity=1)
        assert f"0 of {len(schemas)} tenant schemas have migrations to apply." in capsys.readouterr().out
    finally:
        with connection.cursor() as cursor:
            cursor.execute('DROP SCHEMA IF EXISTS "t_no_migrations_yet" CASCADE')


def test_the_executor_wraps_the_one_asked_for():
    assert issubclass(get_skipping_executor("standard"), StandardExecutor)
    assert issubclass(get_skipping_executor("multiprocessing"), MultiprocessingExecutor)


def test_the_parallel_executor_migrates_only_the_schema_behind(tenant_b, capsys):
    schema = tenant_b.tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', list(LEAF))
    capsys.readouterr()
    call_command("migrate_schemas", tenant=True, executor="multiprocessing", interactive=False, verbosity=1)
    out = capsys.readouterr().out
    assert f"1 of {len(_tenant_schemas())} tenant schemas have migrations to apply." in out
    assert _recorded(schema)


BACK = (("jobs", "0008_job_queued_seen_at"),)


def _moved_back(make_tenant, slugs: list[str]) -> list[str]:
    schemas = [make_tenant(slug).tenant.schema_name for slug in slugs]
    for schema in schemas:
        for app, name in BACK:
            call_command(
                "migrate_schemas", app, name, tenant=True, schema_name=schema, interactive=False, verbosity=0
            )
    assert not any(_recorded_as(schema, "jobs", "0009_job_attempt_started_at") for schema in schemas)
    return schemas


def _recorded_as(schema: str, app: str, name: str) -> bool:
    return (app, name) in applied(schema)


def test_schemas_at_the_same_migrations_are_brought_up_to_date_by_one_migration_and_replays(
    make_tenant, tenant_a, capsys
):
    schemas = _moved_back(make_tenant, ["replay-up-1", "replay-up-2", "replay-up-3"])
    reference = structure(tenant_a.tenant.schema_name)
    assert structure(schemas[0]) != reference
    capsys.readouterr()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)
    out = capsys.readouterr().out
    assert f"3 of {len(_tenant_schemas())} tenant schemas have migrations to apply." in out
    assert "2 tenant schemas brought up to date by replaying a recorded migration." in out
    assert f":{schemas[0]}]" in out and f":{schemas[1]}]" not in out and f":{schemas[2]}]" not in out
    for schema in schemas:
        assert structure(schema) == reference
        assert applied(schema) == applied(tenant_a.tenant.schema_name)


def test_migrations_that_run_python_or_are_not_atomic_are_not_replayed(
    make_tenant, tenant_a, monkeypatch, capsys
):
    disk = MigrationLoader(connection, load=True).disk_migrations
    assert must_migrate([disk["webhooks", "0002_secrets_encrypted"]])
    assert not must_migrate(
        [disk["documents", "0008_document_ingest_attempts"], disk["billing", "0002_seed_plans"]]
    )
    concurrent = Migration("0009_concurrently", "documents")
    concurrent.atomic = False
    assert must_migrate([concurrent])

    schemas = _moved_back(make_tenant, ["replay-code-1", "replay-code-2"])
    monkeypatch.setattr("tenants.migrating.must_migrate", lambda migrations: True)
    capsys.readouterr()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)
    out = capsys.readouterr().out
    assert "brought up to date by replaying" not in out
    assert all(f":{schema}]" in out for schema in schemas)
    assert all(structure(schema) == structure(tenant_a.tenant.schema_name) for schema in schemas)


def test_a_schema_whose_replay_fails_is_migrated_from_where_it_was(
    make_tenant, tenant_a, monkeypatch, capsys
):
    import tenants.schemas

    schemas = _moved_back(make_tenant, ["replay-fail-1", "replay-fail-2", "replay-fail-3"])
    replay = tenants.schemas.replay
    failed: list[str] = []

    def failing_once(statements, *, schema_name, using):
        with transaction.atomic(using=using):
            replay(statements, schema_name=schema_name, using=using)
            if not failed:
                failed.append(schema_name)
                raise DatabaseError("the replay's last statement failed")

    monkeypatch.setattr(tenants.schemas, "replay", failing_once)
    capsys.readouterr()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=1)
    out = capsys.readouterr().out
    assert "1 tenant schemas brought up to date by replaying" in out
    # The group's first schema is migrated (whichever the executor lists first), the failed replay's is migrated
    # from where it was, and the third is replayed without a migration of its own.
    [broken] = failed
    assert broken in schemas and len([s for s in schemas if f":{s}]" in out]) == 2
    assert "Applying jobs.0009_job_attempt_started_at" in out.split(f":{broken}]", 1)[1]
    assert all(structure(schema) == structure(tenant_a.tenant.schema_name) for schema in schemas)


def test_a_named_migration_moves_every_tenant_schema_back_and_forth(tenant_a, tenant_b):
    schemas = [tenant_a.tenant.schema_name, tenant_b.tenant.schema_name]
    target = ("webhooks", "0002_secrets_encrypted")
    call_command("migrate_schemas", *target, tenant=True, interactive=False, verbosity=0)
    assert not any(("webhooks", "0003_announced_model") in applied(schema) for schema in schemas)
    call_command("migrate_schemas", "webhooks", tenant=True, interactive=False, verbosity=0)
    assert all(("webhooks", "0003_announced_model") in applied(schema) for schema in schemas)


@pytest.mark.parametrize("executor", ["standard", "multiprocessing"])
def test_a_schema_whose_migration_fails_is_named_and_the_others_are_migrated(
    make_tenant, monkeypatch, capsys, executor
):
    import importlib

    from django.core.management import CommandError
    from django.db import migrations
    from django_tenants.utils import tenant_context

    from tests.tenants.test_backups import _document

    schemas = _moved_back(make_tenant, [f"fails-{executor[:5]}-{i}" for i in range(4)])
    refused, missing = schemas[1], schemas[3]
    with tenant_context(Tenant.objects.get(schema_name=refused)):
        _document("refused-by-the-migration")
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{missing}" RENAME TO "{missing}_before_restore_1700000000"')
    newest = importlib.import_module("quire.jobs.migrations.0009_job_attempt_started_at").Migration
    failing = migrations.RunSQL(
        "ALTER TABLE documents_document ADD CONSTRAINT later "
        "CHECK (filename <> 'refused-by-the-migration.txt')"
    )
    monkeypatch.setattr(newest, "operations", [*newest.operations, failing])
    try:
        capsys.readouterr()
        with pytest.raises(CommandError) as failed:
            call_command("migrate_schemas", tenant=True, executor=executor, interactive=False, verbosity=1)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER SCHEMA "{missing}_before_restore_1700000000" RENAME TO "{missing}"')
    message = str(failed.value)
    assert message.startswith("2 tenant schemas failed to migrate")
    assert f"{refused}: " in message and '"later"' in message
    assert f"{missing}: " in message
    assert f"{refused}" in capsys.readouterr().err
    for schema in (schemas[0], schemas[2]):
        assert _recorded_as(schema, "jobs", "0009_job_attempt_started_at")
    for schema in (refused, missing):
        assert not _recorded_as(schema, "jobs", "0009_job_attempt_started_at")
        Tenant.objects.get(schema_name=schema).delete(force_drop=True)
