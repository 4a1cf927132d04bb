"""The read-replica router against a second PostgreSQL server started here, standing in for a replica.

The second server gets a copy of the primary's public schema and of one tenant's schema (structure and
rows), then a document that only it holds: wherever that document is visible, the read went to the replica.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import shutil
import subprocess

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings
from django_tenants.utils import tenant_context

from quire.documents.models import Document, DocumentStatus
from quire.embedded import start_postgres
from quire.replicas import REPLICA, replica_reads
from tenants.backups import pg_tool
from tests.support import ROOT, Api


def _document(text: str, using: str = "default") -> Document:
    document = Document(
        filename=f"{text}.txt",
        content_type="text/plain",
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        size_bytes=len(text),
        file=f"documents/{text}.txt",
        status=DocumentStatus.READY,
        text=text,
        page_starts=[0],
    )
    document.save(using=using)
    return document


@pytest.fixture(scope="module")
def replica(tenant_a):
    root = ROOT / ".quire" / f"test-replica-{os.getpid()}"
    primary = connection.settings_dict
    server = start_postgres(root=root, database=primary["NAME"])
    try:
        replica_url = server.url
        subprocess.run([pg_tool("psql"), replica_url, "-qc", "CREATE EXTENSION vector"], check=True)
        source = f"host={primary['HOST']} user={primary['USER']} dbname={primary['NAME']}"
        schemas = ["--schema=public", f"--schema={tenant_a.tenant.schema_name}"]
        dump = subprocess.run(
            [pg_tool("pg_dump"), "--dbname", source, *schemas, "--no-owner"], check=True, capture_output=True
        ).stdout
        subprocess.run([pg_tool("psql"), replica_url, "-q"], input=dump, capture_output=True, check=True)
        connections.settings[REPLICA] = {
            **connections.settings["default"],
            "HOST": replica_url.split("host=")[1],
        }
        with override_settings(
            DATABASE_ROUTERS=["quire.replicas.ReplicaRouter", *settings.DATABASE_ROUTERS],
            MIDDLEWARE=["quire.replicas.ReplicaReadsMiddleware", *settings.MIDDLEWARE],
        ):
            yield
    finally:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_safe_v1_requests_read_the_replica_in_the_keys_tenant_and_writes_go_to_the_primary(replica, tenant_a):
    tenant = tenant_a.tenant
    connections[REPLICA].set_tenant(tenant)
    on_replica = _document("only-on-the-replica", using=REPLICA)
    with tenant_context(tenant):
        on_primary = _document("only-on-the-primary")
    api = Api(tenant_a.issued_key.secret)

    assert api.get(f"/v1/documents/{on_replica.pk}").status_code == 200
    assert api.get(f"/v1/documents/{on_primary.pk}").status_code == 404
    updated = api.post(f"/v1/documents/{on_primary.pk}", {"metadata": {"copy": "primary"}})
    assert updated.status_code == 200, updated.content
    assert api.post(f"/v1/documents/{on_replica.pk}", {"metadata": {"copy": "primary"}}).status_code == 404

    connections[REPLICA].set_tenant(tenant)
    assert Document.objects.using(REPLICA).get(pk=on_replica.pk).metadata == {}
    assert not Document.objects.using(REPLICA).filter(pk=on_primary.pk).exists()
    with tenant_context(tenant):
        assert Document.objects.get(pk=on_primary.pk).metadata == {"copy": "primary"}


def test_reads_stay_on_the_primary_outside_the_scope_and_inside_transactions(replica, tenant_a):
    tenant = tenant_a.tenant
    connections[REPLICA].set_schema_to_public()
    with tenant_context(tenant):
        on_primary = _document("primary-for-the-router")
        assert Document.objects.filter(pk=on_primary.pk).exists()
        with replica_reads():
            assert not Document.objects.filter(pk=on_primary.pk).exists()
            assert connections[REPLICA].schema_name == tenant.schema_name
            with transaction.atomic():
                assert Document.objects.filter(pk=on_primary.pk).exists()
            written = _document("written-in-the-scope")
        assert Document.objects.filter(pk=written.pk).exists()


def test_the_replica_url_adds_the_database_router_and_middleware(monkeypatch):
    monkeypatch.setenv("QUIRE_DATABASE_REPLICA_URL", "postgresql://reader@replica.internal:5432/quire")
    configured = runpy.run_path(str(ROOT / "quire" / "settings.py"))
    assert configured["DATABASES"]["replica"]["HOST"] == "replica.internal"
    assert configured["DATABASE_ROUTERS"][0] == "quire.replicas.ReplicaRouter"
    assert configured["MIDDLEWARE"][0] == "quire.replicas.ReplicaReadsMiddleware"
    assert configured["QUIRE_DATABASE_REPLICA_PATHS"] == ("/v1/",)
