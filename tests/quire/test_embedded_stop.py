import signal
import subprocess
import threading

from quire.embedded import EmbeddedServer


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
