from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0007_cellcorrection_corrected"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="queued_seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
