from django.db import migrations
from django.db.models.functions import Length

BATCH = 1000


def fill_text_chars(apps, schema_editor):
    """Count the characters of documents ingested before 0014, a batch a transaction, so lists stop reading
    their texts."""
    document = apps.get_model("documents", "Document")
    rows = document.objects.using(schema_editor.connection.alias)
    while ids := list(rows.filter(text_chars__isnull=True).values_list("id", flat=True)[:BATCH]):
        rows.filter(id__in=ids).update(text_chars=Length("text"))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("documents", "0014_document_text_chars"),
    ]

    operations = [
        migrations.RunPython(fill_text_chars, migrations.RunPython.noop, elidable=True),
    ]
