"""The Helm chart: its renderings are up to date (rendered again here with Helm's own Go SDK) and valid
Kubernetes objects, and they hold what the chart promises."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from tests.support import ROOT

RENDERED = ROOT / "deploy" / "rendered"
QUEUES = {"ingest", "jobs", "webhooks", "billing"}
# The smallest values that render: documents need shared storage, S3 or a ReadWriteMany claim.
CLAIM = {"storage": {"mediaClaim": "quire-media"}}
# The pods that read or write stored documents and page images: web stores uploads and renders page images,
# ingest workers read uploads and delete orphaned files, jobs workers delete documents past their retention.
MEDIA_PODS = {"quire-web", "quire-worker-ingest", "quire-worker-jobs"}


# kubernetes-validate parses its 5 MB definitions file on every call; the schemas are only read, so once.
_schema_contents = functools.cache(kubernetes_validate.utils.schema_contents)


def _objects(name: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((RENDERED / f"{name}.yaml").read_text()) if doc]


def _by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_the_committed_renderings_are_what_helm_renders_now():
    result = subprocess.run(
        [sys.executable, "deploy/render.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["default", "production"])
def test_the_renderings_are_valid_kubernetes_objects(name: str, monkeypatch):
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _schema_contents)
    version = kubernetes_validate.latest_version()
    for obj in _objects(name):
        if obj["apiVersion"].startswith(("keda.sh/", "monitoring.coreos.com/")):
            continue
        kubernetes_validate.validate(obj, version, strict=True)
    # kubernetes-validate has no schema for KEDA's objects: check the fields KEDA needs here.
    objects = _objects(name)
    deployments = _by_kind(objects, "Deployment")
    for scaled in _by_kind(objects, "ScaledObject").values():
        assert scaled["spec"]["scaleTargetRef"]["name"] in deployments
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis"
        assert {"address", "listName", "listLength"} <= trigger["metadata"].keys()


def test_every_pod_is_covered_by_a_network_policy_probes_and_resources():
    for name in ("default", "production"):
        objects = _objects(name)
        policies = [
            p["spec"]["podSelector"]["matchLabels"] for p in _by_kind(objects, "NetworkPolicy").values()
        ]
        budgets = [
            b["spec"]["selector"]["matchLabels"] for b in _by_kind(objects, "PodDisruptionBudget").values()
        ]
        for kind in ("Deployment", "Job"):
            for workload in _by_kind(objects, kind).values():
                pod = workload["spec"]["template"]
                labels = pod["metadata"]["labels"]
                assert any(sel.items() <= labels.items() for sel in policies), workload["metadata"]["name"]
                if kind == "Deployment":
                    assert any(sel.items() <= labels.items() for sel in budgets), workload["metadata"]["name"]
                for container in pod["spec"]["containers"]:
                    assert container["resources"]["requests"] and container["resources"]["limits"]
                    assert container["securityContext"]["allowPrivilegeEscalation"] is False
                    if kind == "Deployment":
                        assert "livenessProbe" in container


def test_the_production_values_scale_workers_on_their_queues_and_put_inference_on_gpus():
    objects = _objects("production")
    scaled = _by_kind(objects, "ScaledObject")
    assert {o["spec"]["triggers"][0]["metadata"]["listName"] for o in scaled.values()} == {
        f"quire:{q}" for q in QUEUES
    }
    deployments = _by_kind(objects, "Deployment")
    assert deployments["quire-beat"]["spec"]["replicas"] == 1
    inference = deployments["quire-inference"]["spec"]["template"]["spec"]
    assert inference["nodeSelector"] and inference["tolerations"]
    (container,) = inference["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    (job,) = _by_kind(objects, "Job").values()
    assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert "migrate_schemas" in job["spec"]["template"]["spec"]["containers"][0]["args"]
    for deployment in deployments.values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for source in container.get("envFrom", []):
                assert "secretRef" not in source or source["secretRef"]["name"] == "quire-secrets"
    assert not _by_kind(objects, "Secret")
    assert _by_kind(objects, "Ingress") and _by_kind(objects, "HorizontalPodAutoscaler")


def test_production_monitoring_scrapes_the_web_service_and_alerts_on_metrics_the_platform_exposes():
    assert not [o for o in _objects("default") if o["apiVersion"].startswith("monitoring.coreos.com/")]
    objects = _objects("production")
    (monitor,) = _by_kind(objects, "ServiceMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    (service,) = [
        s
        for s in _by_kind(objects, "Service").values()
        if selector.items() <= s["metadata"]["labels"].items()
    ]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert service["metadata"]["name"] == "quire-web" and endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert endpoint["authorization"]["credentials"]["key"] == "QUIRE_METRICS_TOKEN"
    (rules,) = _by_kind(objects, "PrometheusRule").values()
    exposed = set(re.findall(r'"(quire_[a-z_]+)"', (ROOT / "quire" / "metrics.py").read_text()))
    alerts = [rule for group in rules["spec"]["groups"] for rule in group["rules"]]
    assert len(alerts) >= 5
    for alert in alerts:
        named = set(re.findall(r"\bquire_[a-z_]+", alert["expr"]))
        assert named and named <= exposed, (alert["alert"], named - exposed)
        assert alert["for"] and alert["labels"]["severity"] in ("warning", "critical")


def _routes() -> set[str]:
    """The paths quire/urls.py routes outside /v1 to a view (read as text: these tests load no Django)."""
    return set(re.findall(r'path\("([a-z]+)", [a-z_]+, name=', (ROOT / "quire" / "urls.py").read_text()))


def test_web_is_ready_only_while_its_dependencies_answer_and_alive_without_them():
    assert {"healthz", "readyz"} <= _routes()
    for name in ("default", "production"):
        (web,) = [d for n, d in _by_kind(_objects(name), "Deployment").items() if n.endswith("-web")]
        (container,) = web["spec"]["template"]["spec"]["containers"]
        port = container["ports"][0]
        paths = {}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] in (port["name"], port["containerPort"]), (name, probe)
            paths[probe] = get["path"]
        assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}


def _render(values: dict, release: str) -> list[dict]:
    import helm_python as helm

    with helm.Chart.load(str(ROOT / "deploy" / "helm" / "quire")) as chart:
        manifests = chart.render(values, name=release, namespace=release)
    return [
        doc
        for source, text in manifests.items()
        if source.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def test_gunicorn_listens_on_the_port_the_container_service_and_probes_name():
    objects = _render({**CLAIM, "web": {"port": 9000}}, "quire")
    (config,) = _by_kind(objects, "ConfigMap").values()
    web = _by_kind(objects, "Deployment")["quire-web"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["ports"][0]["containerPort"] == 9000
    assert config["data"]["QUIRE_WEB_BIND"].rsplit(":", 1)[1] == "9000"


def test_the_platform_reaches_the_inference_service_of_its_own_release():
    objects = _render({**CLAIM, "inference": {"enabled": True, "port": 8101}}, "acme")
    (config,) = _by_kind(objects, "ConfigMap").values()
    (service,) = [s for n, s in _by_kind(objects, "Service").items() if n.endswith("-inference")]
    assert config["data"]["QUIRE_INFERENCE_URL"] == f"http://{service['metadata']['name']}:8101/v1"
    explicit = _render(
        {**CLAIM, "inference": {"enabled": True}, "config": {"QUIRE_INFERENCE_URL": "http://gpu:1/v1"}}, "a"
    )
    (config,) = _by_kind(explicit, "ConfigMap").values()
    assert config["data"]["QUIRE_INFERENCE_URL"] == "http://gpu:1/v1"


def _refusal(values: dict) -> str:
    from helm_python.errors import HelmRenderError

    with pytest.raises(HelmRenderError) as refused:
        _render(values, "quire")
    return str(refused.value)


def test_the_chart_refuses_to_render_without_storage_every_pod_shares():
    # The chart's own values store documents on each pod's own disk: an ingest worker would never see an upload.
    message = _refusal({})
    assert "config.QUIRE_S3_BUCKET" in message and "storage.mediaClaim" in message, message
    assert "ReadWriteMany" in message
    # Both: the claim would be mounted and never written, documents going to the bucket.
    message = _refusal({**CLAIM, "config": {"QUIRE_S3_BUCKET": "quire-documents"}})
    assert "both set" in message and "quire-media" in message, message


def _pods(objects: list[dict]) -> dict[str, dict]:
    """The Quire pods (inference aside) by their workload's name."""
    return {
        name: workload["spec"]["template"]["spec"]
        for kind in ("Deployment", "Job")
        for name, workload in _by_kind(objects, kind).items()
        if not name.endswith("-inference")
    }


def _mounts(pod: dict) -> dict[str, str]:
    """What each mount path of the pod's one container holds: `emptyDir` or the claim's name."""
    volumes = {}
    for volume in pod["volumes"]:
        claim = volume.get("persistentVolumeClaim")
        volumes[volume["name"]] = (
            claim["claimName"] if claim else "emptyDir" if "emptyDir" in volume else "other"
        )
    (container,) = pod["containers"]
    return {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}


def _media_root(config: dict[str, str]) -> str:
    """MEDIA_ROOT as quire/settings.py makes it in a pod: the image's environment, then the ConfigMap's."""
    image = dict(re.findall(r"\b(QUIRE_[A-Z_]+)=(\S+)", (ROOT / "deploy" / "Dockerfile").read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env |= {**image, **config, "QUIRE_ENV": "development"}
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import quire.settings as s; print(s.MEDIA_ROOT, s.STORAGES['default']['BACKEND'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    root, backend = shown.stdout.split()
    assert backend == "django.core.files.storage.FileSystemStorage"
    return root


def test_a_media_claim_is_mounted_where_documents_are_stored_in_every_pod_that_reads_or_writes_them():
    for objects, claim in (
        (_objects("default"), "quire-media"),
        (_render({"storage": {"mediaClaim": "shared-docs"}}, "quire"), "shared-docs"),
    ):
        (config,) = _by_kind(objects, "ConfigMap").values()
        root = _media_root(config["data"])
        assert root == "/var/lib/quire/media"
        pods = _pods(objects)
        assert pods.keys() > MEDIA_PODS
        for name, pod in pods.items():
            mounts = _mounts(pod)
            # Scratch space stays each pod's own.
            assert mounts["/tmp"] == "emptyDir" and mounts["/var/lib/quire"] == "emptyDir", name
            if name in MEDIA_PODS:
                assert mounts[root] == claim, name
            else:
                assert claim not in mounts.values() and len(mounts) == 2, name
    # Documents stored elsewhere: the claim follows them.
    objects = _render(
        {"storage": {"mediaClaim": "docs"}, "config": {"QUIRE_MEDIA_ROOT": "/srv/documents"}}, "q"
    )
    (config,) = _by_kind(objects, "ConfigMap").values()
    assert _media_root(config["data"]) == "/srv/documents"
    for name in ("q-quire-web", "q-quire-worker-ingest", "q-quire-worker-jobs"):
        assert _mounts(_pods(objects)[name])["/srv/documents"] == "docs"


def test_with_documents_on_s3_no_claim_is_mounted():
    for objects in (_objects("production"), _render({"config": {"QUIRE_S3_BUCKET": "docs"}}, "quire")):
        (config,) = _by_kind(objects, "ConfigMap").values()
        assert config["data"]["QUIRE_S3_BUCKET"] and "QUIRE_MEDIA_ROOT" not in config["data"]
        for name, pod in _pods(objects).items():
            assert set(_mounts(pod).values()) == {"emptyDir"}, name
