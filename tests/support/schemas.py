"""What a tenant schema holds, to compare two schemas built different ways."""

from __future__ import annotations

import re
import subprocess

from django.db import connection

from tenants.backups import _libpq, pg_tool


def structure(schema: str) -> str:
    """`pg_dump --schema-only` of the schema, comments left out and its name replaced by `SCHEMA`."""
    dbname, env = _libpq()
    dump = subprocess.run(
        [pg_tool("pg_dump"), *dbname, "--schema-only", f"--schema={schema}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in dump.splitlines() if line and not line.startswith("--")]
    return re.sub(rf"\b{schema}\b", "SCHEMA", "\n".join(lines))


def applied(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())
