import signal
import subprocess
import threading

from quire.embedded import EmbeddedServer
from tests.support.paths import server_tmp_path  # noqa: F401  (the servers' tmp_path)


def _sleeper() -> subprocess.Popen:
    proc = subprocess.Popen(["sleep", "60"])
    threading.Thread(target=proc.wait, daemon=True).start()
    return proc


def test_a_server_whose_stop_command_fails_is_signalled_to_stop(capsys):
    proc = _sleeper()
    server = EmbeddedServer("postgres", "", started_here=True, stop_command=["false"], pid=proc.pid)
    server.stop()
    assert proc.wait(timeout=5) == -signal.SIGINT
    assert "postgres: stop failed" in capsys.readouterr().err


def test_a_server_stopped_by_its_command_is_not_signalled():
    proc = _sleeper()
    server = EmbeddedServer("postgres", "", started_here=True, stop_command=["true"], pid=proc.pid)
    server.stop()
    assert proc.poll() is None
    proc.kill()


def test_a_server_not_started_here_is_left_running():
    proc = _sleeper()
    EmbeddedServer("postgres", "", started_here=False, stop_command=["false"], pid=proc.pid).stop()
    assert proc.poll() is None
    proc.kill()


_HOLDER = """
import sys
from quire.embedded import start_redis
server = start_redis()
print(server.url, server.started_here, flush=True)
sys.stdin.readline()
server.stop()
"""


def _holder(data: str) -> tuple[subprocess.Popen, str, bool]:
    import os
    import sys

    from tests.support import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER],
        cwd=ROOT,
        env={**os.environ, "QUIRE_DATA_DIR": data},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    url, started = proc.stdout.readline().split()
    return proc, url, started == "True"


def _release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0


def test_a_server_stays_up_while_another_process_holds_it_and_stops_with_the_last(tmp_path):
    import redis

    first, url, first_started = _holder(str(tmp_path))
    second, second_url, second_started = _holder(str(tmp_path))
    assert (first_started, second_started, second_url) == (True, False, url)
    try:
        _release(first)
        assert redis.Redis.from_url(url, socket_timeout=5).ping()
    finally:
        if first.poll() is None:
            first.kill()
        _release(second)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        raise AssertionError("the last holder left the server running")
    except redis.ConnectionError:
        pass
