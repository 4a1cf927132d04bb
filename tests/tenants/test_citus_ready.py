"""Citus's schema-based sharding makes each tenant schema a unit of distribution, placed on any node: no
foreign key may cross from a tenant schema into `public` (or another tenant's schema), nor back."""

from __future__ import annotations

from django.db import connection

CROSSING_FOREIGN_KEYS = """
SELECT src_ns.nspname || '.' || src.relname, con.conname, dst_ns.nspname || '.' || dst.relname
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid
JOIN pg_namespace src_ns ON src_ns.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = con.confrelid
JOIN pg_namespace dst_ns ON dst_ns.oid = dst.relnamespace
WHERE con.contype = 'f' AND src_ns.nspname <> dst_ns.nspname
ORDER BY 1, 2
"""


def test_no_foreign_key_crosses_between_schemas(tenant_a, tenant_b):
    with connection.cursor() as cursor:
        cursor.execute(CROSSING_FOREIGN_KEYS)
        assert cursor.fetchall() == []
        cursor.execute(
            "SELECT count(*) FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.contype = 'f' AND n.nspname = %s",
            [tenant_a.tenant.schema_name],
        )
        assert cursor.fetchone()[0] > 0, "the query sees the foreign keys inside a tenant schema"
