"""Which process holds a claim, and whether it has ended: a worker that finds work claimed by a process of its
own host and container that no longer exists can take it over at once rather than wait for a heartbeat to go
stale; and a pool process's own end after a time limit interrupted it."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import NoReturn


def process_identity() -> str:
    """`host:pid-namespace:pid:start` of this process, `start` its start time in clock ticks since boot (so
    a reused pid reads as another process); empty where /proc cannot say."""
    pid = os.getpid()
    start = _start_ticks(pid)
    namespace = _pid_namespace()
    if not start or not namespace:
        return ""
    return f"{socket.gethostname()}:{namespace}:{pid}:{start}"


def process_gone(identity: str) -> bool:
    """Whether the process `identity` names is known to have ended: it ran on this host in this pid namespace
    and its pid is now free or another process's. False where nothing is known: another host's or another
    container's process, or an empty identity."""
    parts = identity.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[1] != _pid_namespace():
        return False
    pid, start = parts[2], parts[3]
    return not pid.isdigit() or _start_ticks(int(pid)) != start


def _start_ticks(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return ""


def pool_process_retire(reason: str) -> NoReturn:
    """End this worker pool process after a soft time limit interrupted its task: the limit's exception may
    have landed inside a native library (pdfium, torch) or a first import, leaving the process unfit for another
    task. The pool starts a fresh one, and the message, redelivered, finds its work finished."""
    logging.getLogger(__name__).warning("worker process %s exits: %s", os.getpid(), reason)
    logging.shutdown()
    os._exit(0)
