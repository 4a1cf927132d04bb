"""The portal's test workspaces, its server under test, and clients signed in to it."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "correct horse battery staple 7"


@dataclass(frozen=True)
class Workspace:
    tenant: object
    host: str
    emails: dict[str, str]  # role -> e-mail of the member with that role

    def member(self, role: str):
        from tenants.models import Member

        return Member.objects.select_related("user").get(tenant=self.tenant, user__username=self.emails[role])


@dataclass
class PortalServer:
    port: int
    proc: subprocess.Popen
    log_path: Path

    def url(self, workspace: Workspace, path: str = "/") -> str:
        return f"http://{workspace.host}:{self.port}{path}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def signed_in(workspace: Workspace, role: str):
    """A Django test client signed in on the workspace's host as its member with `role`. The member's sign-in
    window is emptied first: the suite signs the same members in more often than `QUIRE_SIGN_IN_RATE` lets a
    person (the limit has its own test, which counts its attempts on another member)."""
    from django.conf import settings
    from django.test import Client

    from quire.api.throttling import sliding_key
    from quire.portal.forms import sign_in_key
    from quire.redisclient import redis_client

    email = workspace.emails[role]
    redis_client(settings.REDIS_URL).delete(sliding_key(sign_in_key(email.lower())))
    client = Client(HTTP_HOST=workspace.host)
    response = client.post("/login", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def stored_document(workspace: Workspace, filename: str, text: str, metadata: dict | None = None):
    """A ready text document saved straight into the workspace's schema (no ingest)."""
    from django_tenants.utils import tenant_context

    from quire.documents.models import Document

    with tenant_context(workspace.tenant):
        return Document.objects.create(
            filename=filename,
            content_type="text/plain",
            sha256=hashlib.sha256(filename.encode()).hexdigest(),
            size_bytes=len(text),
            text=text,
            status="ready",
            metadata=metadata or {},
        )


def job_with_result(
    workspace: Workspace,
    *,
    connector: str,
    filename: str,
    context: Callable[[str], dict] | None = None,
    mode: str = "analyzers",
    text: str | None = None,
    output: Callable[[str], dict] | None = None,
) -> str:
    """A succeeded job over one ready text document (`text`, by default its `filename`), saved straight into the
    workspace's schema with `context(document_id)` as its result's context (by default a run of the analyzers
    that read no document) and `output(document_id)` beside it in its output; returns the job's id."""
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job, JobResult

    document = stored_document(workspace, filename, text or filename)
    with tenant_context(workspace.tenant):
        job = Job.objects.create(
            connector=connector, document_ids=[document.pk], mode=mode, status="succeeded"
        )
        record = context(document.pk) if context else {"strategy": "analyzers", "documents": []}
        JobResult.objects.create(
            job=job,
            output={"connector": connector, **(output(document.pk) if output else {}), "context": record},
            context=record,
            attempt=1,
        )
    return job.pk
