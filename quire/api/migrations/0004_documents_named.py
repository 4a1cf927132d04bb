import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
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
    ]
