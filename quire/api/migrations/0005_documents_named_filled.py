from django.db import migrations

from quire.api.lookups import document_ids_fill


def fill(apps, schema_editor):
    """The documents each stored response names; one still being written keeps null and is read as before."""
    document_ids_fill(
        apps.get_model("api", "IdempotencyRecord")
        .objects.using(schema_editor.connection.alias)
        .filter(status_code__isnull=False),
        lambda row: row.response_text,
    )


class Migration(migrations.Migration):
    # Not atomic: a batch a transaction, and a run that stops midway goes on from the rows still null.
    atomic = False

    dependencies = [
        ("api", "0004_documents_named"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
