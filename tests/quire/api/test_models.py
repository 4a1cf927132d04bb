"""`GET /v1/models`: every model file of the build, with its training data, licence, version and whether this
deployment loads it, in agreement with the loaders themselves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from connectors.earnings import learned as earnings_learned
from connectors.legal.learned import WEIGHTS_DIR as LEGAL_WEIGHTS
from connectors.legal.learned import shipped_model
from connectors.literature.learned import load_model
from inference.embeddings import chunk_adapter
from tenants.services import api_key_issue
from tests.support import Api

KEYS = ["legal-clauses", "earnings-figures", "literature-stance", "all-MiniLM-L6-v2", "chunk-encoder"]


@pytest.fixture
def viewer(tenant_a) -> Api:
    return Api(api_key_issue(tenant=tenant_a.tenant, name="models viewer", role="viewer").secret)


def _models(api: Api) -> dict[str, dict]:
    response = api.get("/v1/models")
    assert response.status_code == 200, response.content
    page = response.json()
    assert page["has_more"] is False and page["next_cursor"] is None
    return {model["id"]: model for model in page["data"]}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_a_viewer_key_lists_every_model_with_its_provenance(viewer, monkeypatch):
    monkeypatch.setenv("QUIRE_COMMERCIAL", "false")
    models = _models(viewer)
    assert list(models) == KEYS
    legal = models["legal-clauses"]
    assert legal["object"] == "model"
    assert legal["licences"] == ["CC BY 4.0"] and legal["commercial_use"] is True
    assert legal["training_documents"] == len(_lines(LEGAL_WEIGHTS / "TRAINED_ON.txt")) == 401
    digest = hashlib.sha256()
    for name in ("clauses.json", "clauses.npz"):
        digest.update((LEGAL_WEIGHTS / name).read_bytes())
    assert legal["version"] == digest.hexdigest()[:12]
    assert models["literature-stance"]["commercial_use"] is False
    assert models["all-MiniLM-L6-v2"]["trained_here"] is False
    assert models["all-MiniLM-L6-v2"]["training_documents"] is None
    assert {m["status"] for m in models.values()} == {"loaded"}
    assert all(m["status_reason"] is None for m in models.values())


def test_the_detail_carries_the_card_and_every_training_document(viewer):
    response = viewer.get("/v1/models/legal-clauses")
    assert response.status_code == 200, response.content
    legal = response.json()
    assert legal["model_card"].startswith("# Legal clause model")
    assert legal["trained_on"] == _lines(LEGAL_WEIGHTS / "TRAINED_ON.txt")
    encoder = viewer.get("/v1/models/all-MiniLM-L6-v2").json()
    assert encoder["trained_on"] is None and "apache-2.0" in encoder["model_card"]


def test_an_unknown_model_is_a_404_naming_it(viewer):
    response = viewer.get("/v1/models/gpt-9")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
    assert response.json()["error"]["param"] == "model_id"


@pytest.mark.parametrize(("commercial", "withheld"), [("false", ""), ("true", ""), ("false", "GPL-3.0")])
def test_the_status_is_what_the_loaders_do(viewer, monkeypatch, uncached_loaders, commercial, withheld):
    monkeypatch.setenv("QUIRE_COMMERCIAL", commercial)
    monkeypatch.setenv("QUIRE_WITHHELD_LICENCES", withheld)
    models = _models(viewer)
    loaded = {
        "legal-clauses": shipped_model() is not None,
        "earnings-figures": earnings_learned.available(),
        "literature-stance": load_model() is not None,
        "chunk-encoder": chunk_adapter() is not None,
    }
    assert {key: models[key]["status"] == "loaded" for key in loaded} == loaded
    statuses = {key: model["status"] for key, model in models.items()}
    literature = models["literature-stance"]
    if commercial == "true":
        assert (
            "QUIRE_COMMERCIAL" in literature["status_reason"] and "the rules" in literature["status_reason"]
        )
        assert statuses == {**dict.fromkeys(KEYS, "loaded"), "literature-stance": "withheld"}
    elif withheld:
        reason = models["chunk-encoder"]["status_reason"]
        assert "GPL-3.0" in reason and "all-MiniLM-L6-v2" in reason
        expected = {"earnings-figures": "withheld", "chunk-encoder": "withheld"}
        assert statuses == {**dict.fromkeys(KEYS, "loaded"), **expected}
    else:
        assert statuses == dict.fromkeys(KEYS, "loaded")


def test_weights_left_out_of_the_build_are_absent(viewer, monkeypatch, tmp_path):
    monkeypatch.setattr(earnings_learned, "WEIGHTS", tmp_path / "earnings_figures.npz")
    earnings = viewer.get("/v1/models/earnings-figures").json()
    assert earnings["status"] == "absent" and earnings["version"] is None
    assert earnings["status_reason"] == "This build does not include the weights; in their place: the rules."
    assert earnings_learned.available() is False
