"""One tenant's schema to a file and back, with PostgreSQL's own pg_dump and pg_restore.

The archive (pg_dump's custom format) holds the tenant's schema only: its tables, rows, sequences and
indexes. The tenant's rows in `public` (the tenant, its domains, members, API keys and billing) are not in
it; they stay where they are, and the restore puts back the schema of a tenant that still has them. Nor are
the stored files: the apps that keep files say, through `schema_restored`, what a restored row names that
storage no longer holds.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.dispatch import Signal
from django_tenants.utils import get_public_schema_name, tenant_context
from psycopg import pq

from tenants.migrating import applied_migrations, migrations_on_disk
from tenants.models import Tenant
from tenants.schemas import schema_migrate
from tenants.services import tenant_maintenance

# A dump labels the tenant's schema with this and the tenant's public id (`COMMENT ON SCHEMA`), so an archive
# names the tenant it was made of, not only the schema name, which a tenant made later with the slug of an erased
# one has again.
TENANT_LABEL = "quire tenant "
# A restore renames the schema it replaces to `<schema>_before_restore_<unix time>` until it has committed.
ASIDE_INFIX = "_before_restore_"
# Sent with `tenant` in its schema once a restore has committed; each receiver returns lines for the operator
# about what the archive could not bring back (a restored row whose stored file was deleted since the dump).
schema_restored = Signal()
# Sent with `tenant` in its schema while a restore waits to swap it; each receiver returns a line for each piece
# of work still running there that no lock shows between its transactions (a job whose attempt holds a lease).
schema_draining = Signal()
# How often a restore looks again whether the tenant's schema is still in use.
DRAIN_POLL_S = 0.2


class RestoreRefused(RuntimeError):
    """Work in the tenant's schema did not end within the restore's drain bound."""


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: in `QUIRE_PG_BIN_DIR`, else pgserver's (PostgreSQL 16, a
    dependency of the platform, so in every image), else on the PATH. pg_dump refuses a server newer than
    itself: for one, point `QUIRE_PG_BIN_DIR` at that version's client programs."""
    if settings.QUIRE_PG_BIN_DIR:
        return str(Path(settings.QUIRE_PG_BIN_DIR) / name)
    try:
        from pgserver import _commands
    except ImportError:
        return shutil.which(name) or name
    return str(Path(_commands.POSTGRES_BIN_PATH) / name)


def _conninfo_value(value: object) -> str:
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def conninfo(settings_dict: dict[str, Any]) -> str:
    """A libpq connection string for a Django database: its name, host, port and user, and every libpq
    keyword among its `OPTIONS` (TLS files, `connect_timeout`, `options`, `target_session_attrs`, ...), so
    a client program connects as Django does. The password is left out: it travels in `PGPASSWORD`."""
    keywords = {default.keyword.decode() for default in pq.Conninfo.get_defaults()} - {"password"}
    parts = {
        "dbname": settings_dict["NAME"],
        "host": settings_dict["HOST"],
        "port": settings_dict["PORT"],
        "user": settings_dict["USER"],
    }
    parts |= {k: v for k, v in settings_dict.get("OPTIONS", {}).items() if k in keywords}
    return " ".join(f"{k}={_conninfo_value(v)}" for k, v in parts.items() if v not in (None, ""))


def _libpq() -> tuple[list[str], dict[str, str]]:
    """The `--dbname` argument and environment that connect a client program to Django's database."""
    db = connection.settings_dict
    env = {**os.environ}
    password = db["PASSWORD"] or db.get("OPTIONS", {}).get("password")
    if password:
        env["PGPASSWORD"] = password
    return ["--dbname", conninfo(db)], env


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
    return result.stdout


def tenant_dump(*, tenant: Tenant, path: Path) -> Path:
    """Write the tenant's schema, structure and rows, to `path` in pg_dump's custom format. pg_dump writes a
    file beside it, which replaces `path` only once the dump is whole: a dump that fails or is stopped leaves
    what was at `path` (yesterday's archive) as it was."""
    _schema_label(tenant)
    dbname, env = _libpq()
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        _run(
            [
                pg_tool("pg_dump"),
                *dbname,
                "--format=custom",
                f"--schema={tenant.schema_name}",
                f"--file={partial}",
            ],
            env,
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _schema_label(tenant: Tenant) -> None:
    label = f"{TENANT_LABEL}{tenant.public_id}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            [tenant.schema_name],
        )
        row = cursor.fetchone()
        if row is not None and row[0] != label:
            cursor.execute(
                f"COMMENT ON SCHEMA {connection.ops.quote_name(tenant.schema_name)} IS %s", [label]
            )


def archive_tenant(path: Path, schema_name: str) -> str | None:
    """The public id of the tenant an archive was made of, from its schema's label; None for an archive made
    before dumps labelled the schema."""
    ddl = _run([pg_tool("pg_restore"), "--section=pre-data", "--file=-", str(path)], {**os.environ})
    prefix = f"COMMENT ON SCHEMA {schema_name} IS '{TENANT_LABEL}"
    for line in ddl.splitlines():
        if line.startswith(prefix) and line.endswith("';"):
            return line[len(prefix) : -2]
    return None


def archive_schemas(path: Path) -> set[str]:
    """The schemas an archive creates, read from its table of contents."""
    listing = _run([pg_tool("pg_restore"), "--list", str(path)], {**os.environ})
    return {line.split()[-2] for line in listing.splitlines() if " SCHEMA - " in line}


def archive_migrations(path: Path, schema_name: str) -> set[tuple[str, str]]:
    """The (app, migration) rows of the archive's `django_migrations` in `schema_name`."""
    data = _run(
        [
            pg_tool("pg_restore"),
            "--data-only",
            f"--schema={schema_name}",
            "--table=django_migrations",
            "--file=-",
            str(path),
        ],
        {**os.environ},
    )
    rows: set[tuple[str, str]] = set()
    columns: list[str] | None = None
    for line in data.splitlines():
        if columns is None:
            if line.startswith("COPY ") and ".django_migrations (" in line:
                header = line.split("(", 1)[1].split(")", 1)[0]
                columns = [column.strip().strip('"') for column in header.split(",")]
            continue
        if line == "\\.":
            break
        fields = dict(zip(columns, line.split("\t"), strict=False))
        rows.add((fields["app"], fields["name"]))
    return rows


def _unknown_migrations(path: Path, schema_name: str) -> list[tuple[str, str]]:
    """The migrations an archive records that this release neither ships nor has applied: those of a newer
    release, whose schema the code does not fit."""
    public = get_public_schema_name()
    known = migrations_on_disk(connection.alias) | applied_migrations([public], alias=connection.alias).get(
        public, frozenset()
    )
    return sorted(archive_migrations(path, schema_name) - known)


def restore_aside_schemas(schema_name: str) -> list[str]:
    """The schemas a restore of `schema_name` renamed aside (`<schema>_before_restore_<time>`) and left: a restore
    stopped between its rename and its end, which neither put its schema back nor dropped it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) ORDER BY nspname",
            [f"{schema_name}{ASIDE_INFIX}"],
        )
        return [name for (name,) in cursor.fetchall()]


def tenant_restore(
    *,
    tenant: Tenant,
    path: Path,
    replace: bool = False,
    from_tenant: str | None = None,
    drain_seconds: float = 30,
    force: bool = False,
) -> list[tuple[str, str]]:
    """Put the tenant's schema back from an archive of `tenant_dump`, in one transaction, then apply the
    migrations the archive predates (one taken before a release that added some), so the schema fits the code
    that runs; returns those migrations, (app, name), none for an archive of this release.

    An existing schema is kept aside under another name while the archive is restored and migrated, dropped
    once both have committed, and put back if either does not, whatever stopped it (an error, a migration that
    fails on the archive's rows, Ctrl-C, a signal that Python sees); without `replace`, an existing schema is
    refused. A schema still aside from a restore that was killed outright is refused too, with what to do about
    it, and so is an archive of a newer release (migrations this one neither ships nor has applied), before
    anything changes. So is an archive of another tenant with the same schema name (one erased since, whose slug
    the tenant was made with): `from_tenant`, that tenant's public id, says it is meant.

    Once those checks pass, the tenant is in maintenance until the restore ends, however it ends
    (`tenant_maintenance`): nothing reads or writes the schema while it is swapped. Work that began before
    is waited for, `drain_seconds` at most, before the schema is touched: another backend's transaction
    holding a lock on one of its relations, and a job whose attempt still holds its lease (the running
    attempts stop and queue their jobs again once they see the maintenance). Past that bound the restore is
    refused (RestoreRefused, naming that work) and the tenant put back as it was, unless `force`.
    """
    schemas = archive_schemas(path)
    if schemas != {tenant.schema_name}:
        raise ValueError(f"the archive holds schemas {sorted(schemas)}, not {tenant.schema_name!r}")
    made_of = archive_tenant(path, tenant.schema_name)
    if made_of is not None and made_of not in (tenant.public_id, from_tenant):
        raise ValueError(
            f"the archive is of tenant {made_of}, not {tenant.slug!r} ({tenant.public_id}), though its schema "
            f"has the same name (a tenant erased since, whose slug this one was made with); to put that "
            f"tenant's data in this one, restore with --from-tenant {made_of}"
        )
    unknown = _unknown_migrations(path, tenant.schema_name)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ValueError(
            f"the archive was made by a newer release: it records migrations this release does not have "
            f"({names}{more}); restore it with that release"
        )
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [tenant.schema_name])
        exists = cursor.fetchone() is not None
    left = restore_aside_schemas(tenant.schema_name)
    if left:
        if exists:
            advice = f'DROP SCHEMA "{left[-1]}" CASCADE once the current schema is the one to keep'
        else:
            advice = (
                f'ALTER SCHEMA "{left[-1]}" RENAME TO "{tenant.schema_name}" to put the tenant\'s data back'
            )
        raise ValueError(
            f"schema {left[-1]!r} was left aside by an interrupted restore; {advice}, then restore again"
        )
    if exists and not replace:
        raise ValueError(f"schema {tenant.schema_name!r} exists; restore with replace to swap it")
    with _stopped_by_signals(), tenant_maintenance(tenant=tenant):
        if exists:
            _drained(tenant=tenant, seconds=drain_seconds, force=force)
        return _swapped(tenant=tenant, path=path, exists=exists)


def _drained(*, tenant: Tenant, seconds: float, force: bool) -> None:
    """Wait until nothing runs in the tenant's schema (`_in_flight`), `seconds` at most; then RestoreRefused
    naming what still does, unless `force`."""
    deadline = time.monotonic() + seconds
    while running := _in_flight(tenant):
        if time.monotonic() >= deadline:
            if force:
                return
            raise RestoreRefused(
                f"work in schema {tenant.schema_name!r} was still running after {seconds:g} s, so nothing was "
                "restored and the tenant is back as it was: "
                + "; ".join(running)
                + ". Restore again once it has ended, with a longer --drain-seconds, or with --force to swap "
                "the schema from under it (its writes are lost)"
            )
        time.sleep(DRAIN_POLL_S)


def _in_flight(tenant: Tenant) -> list[str]:
    """A line for each other backend holding or awaiting a lock on a relation of the tenant's schema, and each
    piece of work the apps say still runs there (`schema_draining`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.state, ''),
                   left(regexp_replace(coalesce(a.query, ''), '[[:space:]]+', ' ', 'g'), 120),
                   coalesce(
                       string_agg(DISTINCT c.relname, ', ' ORDER BY c.relname) FILTER (WHERE c.relkind <> 'i'),
                       'indexes'
                   )
            FROM pg_locks l
            JOIN pg_class c ON c.oid = l.relation
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'relation'
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND n.nspname = %s
              AND l.pid IS DISTINCT FROM pg_backend_pid()
              AND a.backend_type IS DISTINCT FROM 'autovacuum worker'
            GROUP BY l.pid, a.application_name, a.state, a.query
            ORDER BY l.pid
            """,
            [tenant.schema_name],
        )
        backends = [
            f"backend {pid} ({application or 'no application name'}, {state or 'prepared'}, on {relations}): "
            f"{query}"
            for pid, application, state, query, relations in cursor.fetchall()
        ]
    with tenant_context(tenant):
        work = [line for _, lines in schema_draining.send(sender=Tenant, tenant=tenant) for line in lines]
    return backends + work


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a pod deleted, a terminal closed) raise KeyboardInterrupt meanwhile, as Ctrl-C does,
    so the restore puts the schema back rather than dying with it aside; a second one waits for that."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopped: list[int] = []

    def stop(signum: int, frame: object) -> None:
        if not stopped:
            stopped.append(signum)
            raise KeyboardInterrupt(f"the restore was stopped by {signal.Signals(signum).name}")

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _swapped(*, tenant: Tenant, path: Path, exists: bool) -> list[tuple[str, str]]:
    aside = f"{tenant.schema_name}{ASIDE_INFIX}{int(time.time())}"
    dbname, env = _libpq()
    done = False
    try:
        if exists:
            with connection.cursor() as cursor:
                cursor.execute(f'ALTER SCHEMA "{tenant.schema_name}" RENAME TO "{aside}"')
        _run(
            [
                pg_tool("pg_restore"),
                *dbname,
                "--single-transaction",
                "--exit-on-error",
                "--no-owner",
                str(path),
            ],
            env,
        )
        try:
            applied = _brought_up_to_date(tenant.schema_name)
        except DatabaseError as exc:
            before = "the schema there was is back" if exists else "the tenant has no schema, as before"
            raise RuntimeError(
                f"the restored schema could not be migrated to this release's ({exc}); {before}"
            ) from exc
        done = True
    finally:
        if not done:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [aside])
                renamed = cursor.fetchone() is not None
                if renamed or not exists:
                    cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
                if renamed:
                    cursor.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{tenant.schema_name}"')
    if exists:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{aside}" CASCADE')
    _schema_label(tenant)
    return applied


def restore_notes(*, tenant: Tenant) -> list[str]:
    """What the apps find amiss in the tenant's restored schema (`schema_restored`), one line each."""
    from django_tenants.utils import tenant_context

    with tenant_context(tenant):
        return [line for _, lines in schema_restored.send(sender=Tenant, tenant=tenant) for line in lines]


def _brought_up_to_date(schema_name: str) -> list[tuple[str, str]]:
    missing = migrations_on_disk(connection.alias) - applied_migrations(
        [schema_name], alias=connection.alias
    ).get(schema_name, frozenset())
    if missing:
        schema_migrate(schema_name)
    return sorted(missing)
