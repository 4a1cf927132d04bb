from django.db import migrations, models

import quire.documents.models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0008_document_ingest_attempts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="document",
            name="file",
            field=models.FileField(max_length=200, upload_to=quire.documents.models.document_file_name),
        ),
    ]
