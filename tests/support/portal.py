"""The portal's test workspaces, its server under test, and clients signed in to it."""

from __future__ import annotations

import subprocess
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
    """A Django test client signed in on the workspace's host as its member with `role`."""
    from django.test import Client

    client = Client(HTTP_HOST=workspace.host)
    response = client.post("/login", {"username": workspace.emails[role], "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client
