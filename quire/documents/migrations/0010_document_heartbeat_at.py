from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0009_document_file_per_tenant"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "UPDATE documents_document SET heartbeat_at = updated_at WHERE status IN ('parsing', 'embedding')",
            migrations.RunSQL.noop,
        ),
    ]
