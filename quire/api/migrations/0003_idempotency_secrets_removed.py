"""Responses stored before secrets were left out of them: each JSON object's `secret` becomes null, marked
`secret_shown_once`, as `quire.api.idempotency` stores them now."""

from django.db import migrations

REMOVE_SECRETS = """
UPDATE api_idempotencyrecord
SET response_text = (response_text::jsonb || '{"secret": null, "secret_shown_once": true}'::jsonb)::text
WHERE CASE
    WHEN starts_with(content_type, 'application/json') AND left(response_text, 1) = '{'
        THEN jsonb_typeof(response_text::jsonb -> 'secret') = 'string'
    ELSE false
END
"""


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_idempotency_response_bytes"),
    ]

    operations = [migrations.RunSQL(REMOVE_SECRETS, migrations.RunSQL.noop)]
