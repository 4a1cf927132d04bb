"""Which worker process holds a claim, and whether it has died: `quire.heartbeat.process_identity/_gone`."""

import socket
import subprocess
import sys

from quire.heartbeat import process_gone, process_identity


def test_a_live_process_is_not_gone_and_an_ended_one_is():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        identity = process_identity(child.pid)
        assert identity.startswith(f"{socket.gethostname()}:{child.pid}:")
        assert not process_gone(identity)
        assert not process_gone(process_identity())
    finally:
        child.kill()
        child.wait()
    assert process_gone(identity)


def test_a_reused_pid_reads_as_another_process():
    host, pid, start = process_identity().split(":")
    assert process_gone(f"{host}:{pid}:{int(start) + 1}")


def test_another_hosts_process_or_no_identity_is_never_called_gone():
    assert not process_gone(f"not-{socket.gethostname()}:999999999:1")
    assert not process_gone("")
    assert not process_gone(f"{socket.gethostname()}:not-a-pid:1")
