import json

from django.db import migrations

from quire.api.lookups import document_ids_fill


def fill(apps, schema_editor):
    """The documents each event names."""
    document_ids_fill(
        apps.get_model("webhooks", "Event").objects.using(schema_editor.connection.alias),
        lambda row: json.dumps(row.data),
    )


class Migration(migrations.Migration):
    # Not atomic: a batch a transaction, and a run that stops midway goes on from the rows still null.
    atomic = False

    dependencies = [
        ("webhooks", "0006_documents_named"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
