"""Every Triton kernel compiles for sm_90 (H100) with the tile shapes the launchers use there, without spills
and within the shared memory a block may have.

Triton compiles for a GPU target on a machine without one; ``_compile_h100.py`` does it in a process of its
own (the interpreter, on in this one, replaces the compiled kernels) and reports the register and stack use
read with the cuobjdump shipped in the triton wheel.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import triton.backends.nvidia  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
# Shared memory one thread block may use on an H100 (227 KiB).
H100_SHARED_BYTES = 232448


@pytest.fixture(scope="module")
def h100_usage() -> dict:
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("_compile_h100.py"))],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {line["kernel"]: line["usage"] for line in lines}


KERNELS = [
    "flash d128 causal 128x64 w8",
    "flash d64 window 128x64 w4",
    "flash d128 full 64x64 w4",
    "flash d80 causal 128x64 w8",
    "flash d96 full 64x64 w4",
    "block-sparse attention d128 B512",
    "block-sparse attention d256 B512",
    "block-sparse attention d256 B64",
    "block-sparse attention d96 B512",
    "block-sparse attention d192 B64",
    "block gate",
    "block mean",
    "block mean B48",
    "block mean d80",
    "paged decode split",
    "paged decode split d80",
    "paged decode merge",
    "paged decode merge d80",
    "rope",
]


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_compiles_for_h100_without_spills(h100_usage, kernel):
    assert kernel in h100_usage
    usage = h100_usage[kernel]
    assert "STACK" in usage, f"cuobjdump reported no resource usage for {kernel}: {usage}"
    trig_frame = h100_usage["sin cos"]["STACK"] if kernel == "rope" else 0
    assert usage["STACK"] <= trig_frame, f"{kernel} spills registers: {usage}"
    assert usage["DYNAMIC_SHARED"] <= H100_SHARED_BYTES, f"{kernel} needs more shared memory: {usage}"


def test_sin_cos_frame_is_at_most_the_argument_reduction_table(h100_usage):
    assert h100_usage["sin cos"]["STACK"] <= 32
