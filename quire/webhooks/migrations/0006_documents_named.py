import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0005_retired_secrets"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="document_ids",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=40), null=True, size=None
            ),
        ),
        migrations.AddIndex(
            model_name="event",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["document_ids"], name="event_document_ids"
            ),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                condition=models.Q(("document_ids__isnull", True)), fields=["id"], name="event_unindexed"
            ),
        ),
    ]
