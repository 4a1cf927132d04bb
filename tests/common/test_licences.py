"""Which deployments may load weights trained on non-commercial data."""

import pytest

from common.licences import commercial, may_load


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
