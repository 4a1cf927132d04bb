import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_job_metadata")]

    operations = [
        migrations.CreateModel(
            name="CellCorrection",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("document_id", models.CharField(max_length=40)),
                ("key", models.CharField(max_length=60)),
                ("corrected_value", models.JSONField(blank=True, null=True)),
                ("verified", models.BooleanField(default=False)),
                ("by", models.CharField(max_length=254)),
                ("at", models.DateTimeField()),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="corrections", to="jobs.job"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("job", "document_id", "key"), name="one_correction_per_cell"
                    )
                ]
            },
        ),
    ]
