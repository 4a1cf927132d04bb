"""Which worker process holds a claim, and whether it has died: `common.processes`."""

import socket
import subprocess
import sys

from common.processes import process_gone, process_identity

CHILD = "from common.processes import process_identity; print(process_identity(), flush=True); input()"


def test_a_live_process_is_not_gone_and_an_ended_one_is():
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        identity = child.stdout.readline().strip()
        host, _, pid, _ = identity.split(":")
        assert (host, pid) == (socket.gethostname(), str(child.pid))
        assert not process_gone(identity)
        assert not process_gone(process_identity())
    finally:
        child.kill()
        child.wait()
    assert process_gone(identity)


def test_a_reused_pid_reads_as_another_process():
    host, namespace, pid, start = process_identity().split(":")
    assert process_gone(f"{host}:{namespace}:{pid}:{int(start) + 1}")


def test_another_host_or_containers_process_or_no_identity_is_never_called_gone():
    host, namespace, _, _ = process_identity().split(":")
    assert not process_gone(f"not-{host}:{namespace}:999999999:1")
    assert not process_gone(f"{host}:{namespace}1:999999999:1")
    assert not process_gone("")
    assert process_gone(f"{host}:{namespace}:not-a-pid:1")
