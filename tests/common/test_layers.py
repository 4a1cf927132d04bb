"""The layer diagram is a contract: `lint-imports` checks pyproject's [tool.importlinter] contracts, so the
suite (and CI, which runs it) fails on an import that points up a layer."""

import subprocess
import sys
from pathlib import Path

from common.refusals import ErrorCode, Refusal

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_every_error_code_maps_to_a_client_gateway_or_storage_status():
    assert {code.status for code in ErrorCode} <= {400, 402, 404, 409, 413, 415, 502, 503, 507}
    refusal = Refusal(ErrorCode.QUOTA_EXCEEDED, "over", "documents")
    assert (refusal.status, str(refusal), refusal.param) == (402, "over", "documents")
