import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0009_job_attempt_started_at"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="job",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["document_ids"], name="job_document_ids_gin", opclasses=["jsonb_path_ops"]
            ),
        ),
    ]
