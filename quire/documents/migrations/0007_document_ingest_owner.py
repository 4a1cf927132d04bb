from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0006_document_encoder"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="ingest_owner",
            field=models.CharField(blank=True, max_length=120),
        ),
    ]
