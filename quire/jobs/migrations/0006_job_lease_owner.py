from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0005_job_run_unqueued"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="lease_owner",
            field=models.CharField(blank=True, max_length=120),
        ),
    ]
