import django.db.models.deletion
from django.db import migrations, models


def parents_to_attachments(apps, schema_editor) -> None:
    """Each child document becomes an attachment of its `parent`, in the order the children were created."""
    Document = apps.get_model("documents", "Document")
    Attachment = apps.get_model("documents", "Attachment")
    positions: dict[str, int] = {}
    rows = []
    Document.objects.filter(parent__isnull=False).update(arrived_as_attachment=True)
    for child in Document.objects.filter(parent__isnull=False).order_by("created_at", "pk").iterator():
        position = positions.get(child.parent_id, 0)
        positions[child.parent_id] = position + 1
        rows.append(
            Attachment(
                email_id=child.parent_id, document_id=child.pk, position=position, filename=child.filename
            )
        )
    Attachment.objects.bulk_create(rows, batch_size=1000)


def attachments_to_parents(apps, schema_editor) -> None:
    """Back to one parent a document: the e-mail that first listed it."""
    Document = apps.get_model("documents", "Document")
    Attachment = apps.get_model("documents", "Attachment")
    for link in Attachment.objects.order_by("-pk").iterator():
        Document.objects.filter(pk=link.document_id).update(parent_id=link.email_id)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0004_document_ingest_unqueued"),
    ]

    operations = [
        migrations.CreateModel(
            name="Attachment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("filename", models.CharField(max_length=255)),
                (
                    "document",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="documents.document"
                    ),
                ),
                (
                    "email",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attachment_links",
                        to="documents.document",
                    ),
                ),
            ],
            options={"ordering": ["email", "position"]},
        ),
        migrations.AddConstraint(
            model_name="attachment",
            constraint=models.UniqueConstraint(
                fields=("email", "document"), name="unique_attachment_document"
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="attachments",
            field=models.ManyToManyField(
                blank=True,
                related_name="attached_to",
                through="documents.Attachment",
                through_fields=("email", "document"),
                to="documents.document",
            ),
        ),
        migrations.AddField(
            model_name="document",
            name="arrived_as_attachment",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(parents_to_attachments, attachments_to_parents),
        migrations.RemoveField(model_name="document", name="parent"),
    ]
