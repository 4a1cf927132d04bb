from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0008_job_queued_seen_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="attempt_started_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
