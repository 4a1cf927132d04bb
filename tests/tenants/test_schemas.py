from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.utils import timezone

import tenants.schemas as schemas
from tenants.migrating import migrations_on_disk, schemas_behind
from tenants.models import Domain, SchemaScript, Tenant
from tenants.services import tenant_create, tenant_provision
from tests.support.schemas import applied, structure


def _schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


@pytest.fixture
def migrated_schema():
    name = "quire_test_migrated"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=0)
    connection.set_schema_to_public()
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def fresh_script(monkeypatch):
    """No script in this process's memory nor in the public schema, and a count of the migration runs."""
    monkeypatch.setattr(schemas, "_scripts", {})
    SchemaScript.objects.all().delete()
    runs = []
    migrate = schemas.schema_migrate
    monkeypatch.setattr(
        schemas, "schema_migrate", lambda schema_name: (runs.append(schema_name), migrate(schema_name))
    )
    return runs


def _drop(slug: str) -> None:
    existing = Tenant.objects.filter(slug=slug).first()
    if existing is not None:
        existing.delete(force_drop=True)


def test_a_replayed_schema_is_the_schema_migrating_builds(make_tenant, migrated_schema):
    replayed = make_tenant("schema-replayed").tenant.schema_name
    built = structure(replayed)
    assert built.count("CREATE TABLE") >= 15
    assert "USING hnsw" in built
    assert built == structure(migrated_schema)
    assert applied(replayed) == applied(migrated_schema)
    assert schemas_behind([replayed], alias="default", on_disk=migrations_on_disk("default")) == []


def test_the_first_schema_of_a_release_is_migrated_once_and_its_statements_replayed_after(fresh_script):
    for slug in ("script-first", "script-second"):
        _drop(slug)
    first = tenant_provision(name="Script first", slug="script-first").tenant
    assert len(fresh_script) == 1 and fresh_script[0].startswith("quire_scratch_")
    assert not _schema_exists(fresh_script[0])
    stored = SchemaScript.objects.get()
    assert stored.key == schemas.script_key()
    assert any(sql.startswith("CREATE TABLE") for sql, _, _ in stored.statements)
    assert not any(sql.startswith(("SAVEPOINT", "RELEASE")) for sql, _, _ in stored.statements)

    schemas._scripts.clear()
    before = timezone.now()
    second = tenant_provision(name="Script second", slug="script-second").tenant
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT min(applied) FROM "{second.schema_name}".django_migrations')
        assert cursor.fetchone()[0] >= before
    assert len(fresh_script) == 1
    assert applied(first.schema_name) == applied(second.schema_name)
    assert structure(first.schema_name) == structure(second.schema_name)


def test_storing_a_script_keeps_the_newest_few(fresh_script):
    old = [f"earlier-release-{n}" for n in range(schemas.SCRIPTS_KEPT + 1)]
    for age, key in enumerate(old):
        SchemaScript.objects.create(key=key, statements=[])
        SchemaScript.objects.filter(key=key).update(created_at=timezone.now() - timedelta(days=10 - age))
    assert schemas.schema_script()
    kept = list(SchemaScript.objects.order_by("-created_at").values_list("key", flat=True))
    assert kept == [schemas.script_key(), *reversed(old[-(schemas.SCRIPTS_KEPT - 1) :])]


def test_without_a_script_each_schema_is_migrated(fresh_script, monkeypatch):
    _drop("script-none")
    monkeypatch.setattr(schemas, "replayable", lambda statements, schema: None)
    tenant = tenant_provision(name="Script none", slug="script-none").tenant
    assert len(fresh_script) == 2
    assert fresh_script[1] == tenant.schema_name
    assert not SchemaScript.objects.exists()
    assert schemas_behind([tenant.schema_name], alias="default", on_disk=migrations_on_disk("default")) == []


def test_statements_acting_on_the_recorded_schema_are_not_replayable():
    recorded = [
        ('SET search_path = "quire_scratch_1","public"', None, False),
        ("SHOW search_path", None, False),
        ('SAVEPOINT "s1_x1"', None, False),
        ('RELEASE SAVEPOINT "s1_x1"', None, False),
        (
            "SELECT c.relname FROM pg_catalog.pg_class c WHERE pg_catalog.pg_table_is_visible(c.oid)",
            None,
            False,
        ),
        ('SELECT "django_migrations"."id", "django_migrations"."app" FROM "django_migrations"', (), False),
        ("SELECT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = %s)", ("quire_scratch_1",), False),
        ('CREATE TABLE "documents_document" ("id" bigint)', None, False),
        ("INSERT INTO django_migrations (app, name) VALUES (%s, %s)", ("documents", "0001_initial"), False),
    ]
    assert schemas.replayable(recorded, schema="quire_scratch_1") == recorded[7:]
    qualified = [*recorded, ('CREATE INDEX ON "quire_scratch_1"."documents_document" ("id")', None, False)]
    assert schemas.replayable(qualified, schema="quire_scratch_1") is None
    written = [*recorded, ("UPDATE t SET note = %s", ("made in quire_scratch_1",), False)]
    assert schemas.replayable(written, schema="quire_scratch_1") is None
    undone = [*recorded, ('ROLLBACK TO SAVEPOINT "s1_x1"', None, False)]
    assert schemas.replayable(undone, schema="quire_scratch_1") is None


def test_a_tenant_that_cannot_be_created_leaves_no_row_and_no_schema(tenant_a, monkeypatch):
    from tenants import services

    taken = tenant_a.tenant.domains.get().domain
    with pytest.raises(ValueError, match="is tenant 'alpha'"):
        tenant_create(name="Half made", slug="half-made", domains=["half-made.localhost", taken])
    assert not Tenant.objects.filter(slug="half-made").exists()
    built = services.schema_build

    def built_then_failed(*, schema_name: str) -> None:
        built(schema_name=schema_name)
        raise IntegrityError("a failure after the schema was built")

    monkeypatch.setattr(services, "schema_build", built_then_failed)
    with pytest.raises(IntegrityError):
        tenant_create(name="Half made", slug="half-made", domains=["half-made.localhost"])
    assert not Tenant.objects.filter(slug="half-made").exists()
    assert not Domain.objects.filter(domain="half-made.localhost").exists()
    assert not _schema_exists("t_half_made")
