from django.db import migrations, models

INDEXES = {
    "audit_tenant_object": ("tenant_id", "object_id", "created_at"),
    "audit_tenant_actor": ("tenant_id", "actor_id", "created_at"),
}


class Migration(migrations.Migration):
    # CONCURRENTLY: every tenant's audited writes go on while the indexes are built. The SQL runs in the public
    # schema only (the router skips a shared app's operations in tenant schemas, where a new schema's recorded
    # migration is one transaction).
    atomic = False

    dependencies = [
        ("tenants", "0006_audit_staff_actor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        fields=["tenant", "object_id", "created_at"], name="audit_tenant_object"
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(
                        fields=["tenant", "actor_id", "created_at"], name="audit_tenant_actor"
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "tenants_auditevent" ({", ".join(columns)})',
                    reverse_sql=f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"',
                )
                for name, columns in INDEXES.items()
            ],
        ),
    ]
