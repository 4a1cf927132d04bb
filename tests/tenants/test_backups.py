"""`tenant_dump` and `tenant_restore`: one tenant's schema to a pg_dump archive and back."""

from __future__ import annotations

import hashlib

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from quire.documents.models import Document, DocumentStatus


def _document(text: str) -> Document:
    return Document.objects.create(
        filename=f"{text}.txt",
        content_type="text/plain",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        size_bytes=len(text),
        file=f"documents/{text}.txt",
        status=DocumentStatus.READY,
        text=text,
        page_starts=[0],
    )


def _schemas_like(prefix: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [prefix + "%"])
        return sorted(name for (name,) in cursor.fetchall())


def test_a_tenant_dumped_and_restored_gets_back_its_rows_and_nothing_else(make_tenant, tenant_a, tmp_path):
    tenant = make_tenant("dumped").tenant
    archive = tmp_path / "dumped.dump"
    with tenant_context(tenant):
        kept = _document("kept")
    call_command("tenant_dump", "dumped", str(archive))
    with tenant_context(tenant):
        Document.objects.filter(pk=kept.pk).delete()
        _document("written-after-the-dump")

    with pytest.raises(CommandError, match="exists"):
        call_command("tenant_restore", "dumped", str(archive))
    with pytest.raises(CommandError, match="not 't_alpha'"):
        call_command("tenant_restore", tenant_a.tenant.slug, str(archive), "--replace")
    call_command("tenant_restore", "dumped", str(archive), "--replace")

    with tenant_context(tenant):
        assert list(Document.objects.values_list("filename", flat=True)) == ["kept.txt"]
        assert Document.objects.get(pk=kept.pk).text == "kept"
    assert _schemas_like(tenant.schema_name) == [tenant.schema_name]


def test_an_archive_older_than_the_code_is_restored_and_migrated(make_tenant, tmp_path, capsys):
    from tests.support.schemas import applied

    tenant = make_tenant("dumped-old").tenant
    newest = ("webhooks", "0003_announced_model")
    call_command(
        "migrate_schemas", "webhooks", "0002_secrets_encrypted", tenant=True, schema_name=tenant.schema_name
    )
    assert newest not in applied(tenant.schema_name)
    archive = tmp_path / "old.dump"
    call_command("tenant_dump", "dumped-old", str(archive))
    call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, verbosity=0)

    capsys.readouterr()
    call_command("tenant_restore", "dumped-old", str(archive), "--replace")
    out = capsys.readouterr().out
    assert "the archive predates 1 migration, applied since: webhooks.0003_announced_model" in out
    assert newest in applied(tenant.schema_name)
    with tenant_context(tenant):
        from quire.webhooks.models import AnnouncedModel

        assert AnnouncedModel.objects.count() == 0

    capsys.readouterr()
    call_command("tenant_dump", "dumped-old", str(archive))
    call_command("tenant_restore", "dumped-old", str(archive), "--replace")
    assert "predates" not in capsys.readouterr().out
