"""`migrate_schemas` migrates only the tenant schemas missing a migration on disk: one with every migration
recorded is skipped, one missing a migration (or without a `django_migrations` table) is migrated."""

from __future__ import annotations

from django.core.management import call_command
from django.db import connection
from django_tenants.migration_executors import MultiprocessingExecutor, StandardExecutor

from tenants.migrating import get_skipping_executor, migrations_on_disk, schemas_behind
from tenants.models import Tenant
from tests.support.schemas import applied

LEAF = ("billing", "0009_meter_batch_refusal")


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


def test_a_named_migration_moves_every_tenant_schema_back_and_forth(tenant_a, tenant_b):
    schemas = [tenant_a.tenant.schema_name, tenant_b.tenant.schema_name]
    target = ("webhooks", "0002_secrets_encrypted")
    call_command("migrate_schemas", *target, tenant=True, interactive=False, verbosity=0)
    assert not any(("webhooks", "0003_announced_model") in applied(schema) for schema in schemas)
    call_command("migrate_schemas", "webhooks", tenant=True, interactive=False, verbosity=0)
    assert all(("webhooks", "0003_announced_model") in applied(schema) for schema in schemas)
