"""Disk full on upload: the storage is a 64 KiB tmpfs, so writing a larger document fails with ENOSPC
part-way through. The API answers 507 `storage_full` in the error shape, and neither a document row nor a
partial file is left behind."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django_tenants.utils import tenant_context

from quire.documents.models import Document
from tests.support import Api


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mount = tmp_path / "media"
    mount.mkdir()
    if not shutil.which("mount") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def _files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_a_full_disk_refuses_the_upload_with_507_and_leaves_nothing(tiny_disk: Path, tenant_a):
    content = b"".join(b"Clause %d: the supplier keeps the disk full of words.\n" % n for n in range(4000))
    assert len(content) > 3 * 64 * 1024
    api = Api(tenant_a.issued_key.secret)
    with override_settings(MEDIA_ROOT=str(tiny_disk)):
        response = api.client.post(
            "/v1/documents",
            {"file": SimpleUploadedFile("full.txt", content, content_type="text/plain")},
            **api._headers(None),
        )
    assert response.status_code == 507, response.content
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "storage_full" and "no room" in error["message"], error
    with tenant_context(tenant_a.tenant):
        assert not Document.objects.filter(sha256=hashlib.sha256(content).hexdigest()).exists()
    assert _files(tiny_disk) == []
    assert shutil.disk_usage(tiny_disk).used == 0
