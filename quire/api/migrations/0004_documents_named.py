import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

from quire.api.lookups import document_ids_fill


def fill(apps, schema_editor):
    """The documents each stored response names; one still being written keeps null and is read as before."""
    document_ids_fill(
        apps.get_model("api", "IdempotencyRecord")
        .objects.using(schema_editor.connection.alias)
        .filter(status_code__isnull=False),
        lambda row: row.response_text,
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("api", "0003_idempotency_secrets_removed"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencyrecord",
            name="document_ids",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=40), null=True, size=None
            ),
        ),
        migrations.AddIndex(
            model_name="idempotencyrecord",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["document_ids"], name="response_document_ids"
            ),
        ),
        migrations.AddIndex(
            model_name="idempotencyrecord",
            index=models.Index(
                condition=models.Q(("document_ids__isnull", True)), fields=["id"], name="response_unindexed"
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
