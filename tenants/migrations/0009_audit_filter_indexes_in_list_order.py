from django.db import migrations, models

# Each filter's index in the audit list's order (`created_at`, then `id`), so a filtered page is read in order
# and stops at its limit; it replaces the index without `id`, whose pages were sorted.
REPLACED = {
    "audit_tenant_action": ("audit_tenant_action_id", "action"),
    "audit_tenant_object": ("audit_tenant_object_id", "object_id"),
    "audit_tenant_actor": ("audit_tenant_actor_id", "actor_id"),
}


class Migration(migrations.Migration):
    # CONCURRENTLY: every tenant's audited writes go on while the indexes are built and dropped. The SQL runs in
    # the public schema only (the router skips a shared app's operations in tenant schemas).
    atomic = False

    dependencies = [
        ("tenants", "0008_tenant_maintenance_since"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                operation
                for old, (new, column) in REPLACED.items()
                for operation in (
                    migrations.RemoveIndex(model_name="auditevent", name=old),
                    migrations.AddIndex(
                        model_name="auditevent",
                        index=models.Index(fields=["tenant", column, "created_at", "id"], name=new),
                    ),
                )
            ],
            database_operations=[
                operation
                for old, (new, column) in REPLACED.items()
                for operation in (
                    migrations.RunSQL(
                        f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{new}" ON "tenants_auditevent" '
                        f"(tenant_id, {column}, created_at, id)",
                        reverse_sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{new}"',
                    ),
                    migrations.RunSQL(
                        f'DROP INDEX CONCURRENTLY IF EXISTS "{old}"',
                        reverse_sql=f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{old}" ON "tenants_auditevent" '
                        f"(tenant_id, {column}, created_at)",
                    ),
                )
            ],
        ),
    ]
