"""How many threads torch gets: a worker's pool children share the cores, the web process runs one."""

import os
import subprocess
import sys

import pytest

from tests.support import ROOT


def test_pool_children_share_the_cores_for_torch(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from quire import celery
    from quire.celery import _share_cores, available_cores, torch_threads_per_child

    assert [torch_threads_per_child(n, 8) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert torch_threads_per_child("auto", 8) == 1
    assert torch_threads_per_child(None, 2) == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    cpu_max = tmp_path / "cpu.max"
    for written, cores in [
        ("max 100000", 4),
        ("150000 100000", 2),
        ("800000 100000", 4),
        ("50000 100000", 1),
    ]:
        cpu_max.write_text(written + "\n")
        assert available_cores(cpu_max) == cores
    assert available_cores(tmp_path / "absent") == 4
    monkeypatch.setattr(celery, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _share_cores(sender=SimpleNamespace(concurrency=2))
    assert os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    _share_cores(sender=SimpleNamespace(concurrency=4))
    assert os.environ["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize(("given", "setting"), [(None, "1"), ("3", "3")])
def test_the_web_process_runs_torch_on_one_thread_unless_told(given, setting):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if given is not None:
        env["OMP_NUM_THREADS"] = given
    code = "import os, quire.webserver, torch; print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads())"
    printed, threads = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert printed == setting
    if given is None:
        assert threads == "1"
