"""The production settings pass Django's deployment checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.support import ROOT


def test_manage_py_check_deploy_is_clean_in_production():
    env = {
        **os.environ,
        "QUIRE_ENV": "production",
        "QUIRE_SECRET_KEY": "k" * 20 + "production-check-" + "x7#Q" * 8,
        "QUIRE_ALLOWED_HOSTS": ".quire.example.com",
        "DATABASE_URL": "postgresql://quire@db.invalid/quire",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        # Off by default (joining the browsers' preload list is hard to undo); the one warning otherwise.
        "QUIRE_HSTS_PRELOAD": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docs_deploy_names_every_quire_variable_the_code_reads():
    reads = re.compile(
        r"""(?:env_(?:str|int|bool|list)\(|environ\.get\(|environ\[|getenv\()\s*"(QUIRE_[A-Z0-9_]+)\""""
    )
    names = set()
    for package in ("quire", "tenants", "billing", "connectors", "inference", "kernels", "common", "deploy"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(reads.findall(path.read_text()))
    names.add("QUIRE_KERNELS")
    documented = set(re.findall(r"`(QUIRE_[A-Z0-9_]+)`", (ROOT / "docs" / "deploy.md").read_text()))
    assert len(names) > 50
    assert names - documented == set()
