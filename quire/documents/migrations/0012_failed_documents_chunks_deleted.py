from django.db import migrations

# A failed document's chunks are deleted when it fails (`_fail_locked`); documents that failed before that
# rule kept the chunks their ingest had embedded, which a search's index scan still took as candidates.
DELETE_FAILED_CHUNKS = "DELETE FROM documents_chunk WHERE document_id IN (SELECT id FROM documents_document WHERE status = 'failed')"
RESET_FAILED_COUNTS = (
    "UPDATE documents_document SET chunk_count = 0 WHERE status = 'failed' AND chunk_count <> 0"
)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0011_queued_seen_at"),
    ]

    operations = [
        migrations.RunSQL(DELETE_FAILED_CHUNKS, migrations.RunSQL.noop),
        migrations.RunSQL(RESET_FAILED_COUNTS, migrations.RunSQL.noop),
    ]
