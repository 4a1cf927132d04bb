"""Which deployments may load weights trained on non-commercial data, and what a shipped model says of itself."""

import hashlib
import os

import pytest

from common.licences import ModelStatus, ShippedModel, commercial, may_load, withheld_licences


@pytest.mark.parametrize(
    ("quire_env", "flag", "expected"),
    [
        ("production", None, True),
        ("production", "false", False),
        ("development", None, False),
        ("test", "true", True),
        (None, None, False),
    ],
)
def test_production_is_commercial_unless_it_says_otherwise(monkeypatch, quire_env, flag, expected):
    for name, value in (("QUIRE_ENV", quire_env), ("QUIRE_COMMERCIAL", flag)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert commercial() is expected
    assert may_load(non_commercial=True) is not expected
    assert may_load(non_commercial=False) is True


def test_an_unreadable_flag_is_refused(monkeypatch):
    monkeypatch.setenv("QUIRE_COMMERCIAL", "perhaps")
    with pytest.raises(RuntimeError, match="QUIRE_COMMERCIAL must be a boolean"):
        commercial()


def _model(weights, **fields) -> ShippedModel:
    return ShippedModel(
        key="toy",
        purpose="a toy",
        connectors=("legal",),
        data="toy data",
        licences=fields.pop("licences", ("CC BY-NC 2.0",)),
        weights=weights,
        non_commercial=fields.pop("non_commercial", True),
        fallback="the rules",
        **fields,
    )


def test_a_marked_model_is_withheld_only_where_the_deployment_is_commercial(monkeypatch, tmp_path):
    weights = tmp_path / "toy.npz"
    model = _model(weights)
    assert model.status is ModelStatus.ABSENT and model.version() is None
    assert model.status_reason() == "This build does not include the weights; in their place: the rules."
    weights.write_bytes(b"weights")
    monkeypatch.setenv("QUIRE_COMMERCIAL", "false")
    assert model.status is ModelStatus.LOADED and model.loaded and model.status_reason() is None
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    assert model.status is ModelStatus.WITHHELD and not model.loaded
    assert "non-commercial licence" in model.status_reason()
    assert _model(weights, non_commercial=False).loaded


def test_the_version_covers_the_files_that_share_the_weights_stem(tmp_path):
    weights, card, other = tmp_path / "toy.npz", tmp_path / "toy.json", tmp_path / "other.bin"
    weights.write_bytes(b"weights")
    alone = _model(weights).version()
    assert alone == hashlib.sha256(b"weights").hexdigest()[:12]
    card.write_text("{}")
    with_card = _model(weights).version()
    assert with_card != alone
    other.write_bytes(b"unrelated")
    assert _model(weights).version() == with_card
    card.write_text('{"threshold": 1}')
    os.utime(card, ns=(1, 1))
    assert _model(weights).version() not in (alone, with_card)


def test_trained_on_lists_the_file_and_is_none_for_weights_trained_elsewhere(tmp_path):
    weights = tmp_path / "toy.npz"
    weights.write_bytes(b"weights")
    (tmp_path / "TRAINED_ON.txt").write_text("doc_1\ndoc_2\n\n")
    (tmp_path / "MODEL_CARD.md").write_text("# Toy\n")
    assert _model(weights).trained_on() == ["doc_1", "doc_2"]
    assert _model(weights).card() == "# Toy\n"
    assert _model(weights, trained_here=False).trained_on() is None
    assert _model(weights, card_file="README.md").card() is None


def test_a_deployment_can_withhold_weights_by_their_data_licence(monkeypatch, tmp_path):
    weights = tmp_path / "toy.npz"
    weights.write_bytes(b"weights")
    monkeypatch.setenv("QUIRE_COMMERCIAL", "true")
    copyleft = _model(weights, non_commercial=False, licences=("CC BY 4.0", "GPL-3.0"))
    assert copyleft.loaded
    monkeypatch.setenv("QUIRE_WITHHELD_LICENCES", "gpl-3.0, AGPL-3.0")
    assert withheld_licences() == {"gpl-3.0", "agpl-3.0"}
    assert copyleft.status is ModelStatus.WITHHELD
    assert copyleft.status_reason() == (
        "This deployment withholds weights trained on GPL-3.0 data (QUIRE_WITHHELD_LICENCES); "
        "in their place: the rules."
    )
    assert _model(weights, non_commercial=False, licences=("CC BY 4.0",)).loaded
    assert not may_load(non_commercial=False, licences=("GPL-3.0",))
    monkeypatch.setenv("QUIRE_WITHHELD_LICENCES", "")
    assert copyleft.loaded
