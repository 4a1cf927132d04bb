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


def test_the_image_binds_every_address_and_recycles_its_processes():
    env = {**os.environ, "QUIRE_WEB_BIND": "0.0.0.0:8000", "QUIRE_WEB_FORWARDED_ALLOW_IPS": "*"}
    env.pop("QUIRE_WEB_MAX_REQUESTS", None)
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import quire.webserver as w; print(w.bind, w.max_requests, w.max_requests_jitter, w.forwarded_allow_ips)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["0.0.0.0:8000", "5000", "500", "*"]


def test_every_probe_of_a_rendering_sends_a_host_its_allowed_hosts_admit():
    import yaml

    for rendering in ("default", "production"):
        documents = list(yaml.safe_load_all((ROOT / "deploy" / "rendered" / f"{rendering}.yaml").read_text()))
        allowed = next(
            d["data"]["QUIRE_ALLOWED_HOSTS"]
            for d in documents
            if d and d["kind"] == "ConfigMap" and "QUIRE_ALLOWED_HOSTS" in d.get("data", {})
        ).split(",")
        hosts = [
            header["value"]
            for d in documents
            if d and d["kind"] == "Deployment"
            for container in d["spec"]["template"]["spec"]["containers"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe")
            for header in (container.get(probe) or {}).get("httpGet", {}).get("httpHeaders", [])
            if header["name"].lower() == "host"
        ]
        assert hosts, rendering
        for host in hosts:
            assert any(host == a or (a.startswith(".") and host.endswith(a)) for a in allowed), (
                rendering,
                host,
            )


def test_an_unknown_quire_env_is_refused_at_start():
    env = {**os.environ, "QUIRE_ENV": "prod"}
    result = subprocess.run(
        [sys.executable, "-c", "import quire.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "QUIRE_ENV is 'prod'" in result.stderr


def test_the_images_collectstatic_step_runs_with_the_environment_it_sets(tmp_path):
    import re
    import shlex

    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text().replace("\\\n", " ")
    step = next(line for line in dockerfile.splitlines() if "collectstatic" in line)
    words = shlex.split(step.removeprefix("RUN "))
    assignments = dict(word.split("=", 1) for word in words if re.match(r"[A-Z_]+=", word))
    command = [word for word in words if not re.match(r"[A-Z_]+=", word)]
    assert command[:2] == ["python", "manage.py"], command
    env = {**os.environ, **assignments, "QUIRE_STATIC_ROOT": str(tmp_path / "static")}
    result = subprocess.run(
        [sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert any((tmp_path / "static").rglob("*.css"))


def _settings_loaded(**variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUIRE_S3_", "QUIRE_STORAGE_"))}
    env |= {"QUIRE_ENV": "development", **variables}
    return subprocess.run(
        [sys.executable, "-c", "import quire.settings as s; print(s.STORAGES['default']['BACKEND'])"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_settings_refuse_values_that_would_fail_every_request_later():
    refused = {
        "QUIRE_TOKEN_PRICES": {"QUIRE_TOKEN_PRICES": "0.50,1.50"},
        "QUIRE_INGEST_TIME_LIMIT": {"QUIRE_INGEST_SOFT_TIME_LIMIT": "600", "QUIRE_INGEST_TIME_LIMIT": "600"},
        "QUIRE_JOB_TIME_LIMIT": {"QUIRE_JOB_SOFT_TIME_LIMIT": "600", "QUIRE_JOB_TIME_LIMIT": "300"},
        "QUIRE_STORAGE_BACKEND": {
            "QUIRE_S3_BUCKET": "quire-documents",
            "QUIRE_STORAGE_BACKEND": "django.core.files.storage.FileSystemStorage",
        },
    }
    for name, variables in refused.items():
        result = _settings_loaded(**variables)
        assert result.returncode != 0, name
        assert "RuntimeError" in result.stderr and name in result.stderr.splitlines()[-1], result.stderr


def test_a_bucket_alone_stores_documents_in_s3():
    result = _settings_loaded(QUIRE_S3_BUCKET="quire-documents")
    assert result.stdout.split() == ["storages.backends.s3.S3Storage"], result.stderr


def test_mail_goes_to_the_smtp_server_the_settings_name_with_its_credentials():
    import base64
    import socketserver
    import threading

    received: list[dict] = []

    class Smtp(socketserver.StreamRequestHandler):
        def handle(self):
            message = {"auth": None, "data": b""}
            self.wfile.write(b"220 test ESMTP\r\n")
            while line := self.rfile.readline():
                verb = line.split(b" ", 1)[0].strip().upper()
                if verb == b"EHLO":
                    self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
                elif verb == b"AUTH":
                    message["auth"] = base64.b64decode(line.split()[2]).split(b"\0")[1:]
                    self.wfile.write(b"235 ok\r\n")
                elif verb == b"DATA":
                    self.wfile.write(b"354 go on\r\n")
                    while (body := self.rfile.readline()) != b".\r\n":
                        message["data"] += body
                    received.append(message)
                    self.wfile.write(b"250 queued\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Smtp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "QUIRE_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "QUIRE_EMAIL_HOST": "127.0.0.1",
        "QUIRE_EMAIL_PORT": str(server.server_address[1]),
        "QUIRE_EMAIL_HOST_USER": "quire-mailer",
        "QUIRE_EMAIL_HOST_PASSWORD": "mail-secret",
        "QUIRE_EMAIL_FROM": "Quire <noreply@quire.example.com>",
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "sendtestemail", "ops@quire.example.com"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    [message] = received
    assert message["auth"] == [b"quire-mailer", b"mail-secret"]
    assert b"To: ops@quire.example.com" in message["data"]
    assert b"From: Quire <noreply@quire.example.com>" in message["data"]


def test_an_encryption_key_that_is_not_a_fernet_key_stops_every_process_at_start_naming_its_place():
    from cryptography.fernet import Fernet

    bad = "not-a-key-but-a-passphrase-of-44-characters!"
    env = {**os.environ, "QUIRE_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{bad}"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "QUIRE_ENCRYPTION_KEYS: key 2 of 2 is not a Fernet key" in result.stderr, result.stderr
    assert bad not in result.stdout + result.stderr
