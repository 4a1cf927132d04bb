from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0007_document_ingest_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="ingest_attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
