from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0013_document_ready_encoder"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="text_chars",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
