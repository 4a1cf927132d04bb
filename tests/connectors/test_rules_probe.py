from pathlib import Path

import pytest

from connectors import rules_probe
from connectors.cli import main
from connectors.legal import analyzers


@pytest.mark.parametrize("vertical", rules_probe.VERTICALS)
def test_the_shipped_weights_were_made_on_todays_rules(vertical):
    assert rules_probe.recorded_probe(vertical) == rules_probe.rules_probe(vertical), (
        f"what {vertical}'s training reads from its rules changed since connectors/{vertical}/weights were made: "
        f"retrain them (python -m connectors train {vertical}, docs/training.md) or, having measured that the "
        f"shipped weights stay better, keep them with `python -m connectors probe {vertical} --record` and say "
        "so in docs/training.md"
    )


def test_a_rule_that_finds_one_clause_fewer_moves_the_probe(monkeypatch):
    before = rules_probe.rules_probe("legal")
    find = analyzers.find_rule_clauses

    def one_fewer(text, sentences):
        clauses, *rest = find(text, sentences)
        return (clauses[1:], *rest)

    monkeypatch.setattr(analyzers, "find_rule_clauses", one_fewer)
    assert rules_probe.rules_probe("legal") != before


def _train_earnings_on_five_calls(tmp_path: Path) -> tuple[int, Path]:
    data = tmp_path / "train"
    (data / "ects").mkdir(parents=True)
    (data / "gt_summaries").mkdir()
    for index in range(5):
        name = f"CO{index}_q2_2021"
        (data / "ects" / f"{name}.txt").write_text(
            f"Revenue for the quarter was ${100 + index} million.\nWe opened {10 + index} stores.",
            encoding="utf-8",
        )
        (data / "gt_summaries" / f"{name}.txt").write_text(f"q2 revenue ${100 + index} million.", "utf-8")
    out = tmp_path / "weights"
    return main(["train", "earnings", "--data", str(data), "--out", str(out), "--quiet"]), out


def test_training_records_the_rules_beside_the_weights(tmp_path):
    code, out = _train_earnings_on_five_calls(tmp_path)
    assert code == 0
    assert rules_probe.recorded_probe("earnings", out) == rules_probe.rules_probe("earnings")
    assert rules_probe.recorded_probe("earnings", tmp_path / "nothing") is None


def test_training_without_the_dev_split_still_writes_its_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rules_probe, "DEFAULT_DATA", tmp_path / "no-tests-data")
    code, out = _train_earnings_on_five_calls(tmp_path)
    assert code == 0
    assert (out / "earnings_figures.npz").exists() and not (out / rules_probe.PROBE_FILE).exists()
    assert f"no {rules_probe.PROBE_FILE} beside the weights" in capsys.readouterr().err


def test_the_probe_command_names_a_vertical_whose_rules_moved(monkeypatch, capsys):
    monkeypatch.setattr(rules_probe, "recorded_probe", lambda vertical, folder=None: "0" * 64)
    assert main(["probe", "literature"]) == 1
    assert (
        "literature: the rules changed since the weights were made (000000000000 then"
        in capsys.readouterr().out
    )
    assert main(["probe", "legl"]) == 2
    assert "no vertical legl" in capsys.readouterr().err
