"""deploy/compose.yaml: valid against the Compose specification, every service checked and unprivileged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.support import ROOT

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
