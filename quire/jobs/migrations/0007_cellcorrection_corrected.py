from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_lease_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="cellcorrection",
            name="corrected",
            field=models.BooleanField(default=False),
        ),
        migrations.RunSQL(
            "UPDATE jobs_cellcorrection SET corrected = corrected_value IS NOT NULL",
            migrations.RunSQL.noop,
        ),
    ]
