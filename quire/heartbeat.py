"""A heartbeat thread for long work in a tenant's schema: the job's lease renewal, ingestion's liveness
mark for the stuck-document sweep; and the identity of the process doing the work, so that a process on the
same host can tell when the worker holding a claim has died."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tenants.models import Tenant


class TenantHeartbeat(threading.Thread):
    """Calls `beat()` every `interval` seconds, whatever the caller is doing, with a connection of its own
    in `tenant`'s schema, until the `with` block ends; when `beat()` returns False it stops and sets
    `lost` (the work was taken away: canceled, or claimed by another attempt)."""

    def __init__(self, name: str, tenant: Tenant, interval: float, beat: Callable[[], bool]):
        super().__init__(name=name, daemon=True)
        self.tenant, self.interval, self.beat = tenant, interval, beat
        self.stop_event, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        from django.db import connection as thread_connection

        thread_connection.set_tenant(self.tenant)
        try:
            while not self.stop_event.wait(self.interval):
                if not self.beat():
                    self.lost.set()
                    return
        finally:
            thread_connection.close()

    def __enter__(self) -> TenantHeartbeat:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        self.join()


def process_identity(pid: int | None = None) -> str:
    """`host:pid:start` of a process of this host (this one by default), `start` its start time in clock ticks
    since boot (so a reused pid reads as another process); empty where /proc cannot say."""
    pid = os.getpid() if pid is None else pid
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    start = stat.rsplit(")", 1)[1].split()[19]
    return f"{socket.gethostname()}:{pid}:{start}"


def process_gone(identity: str) -> bool:
    """Whether the process `identity` names is known to have ended: it ran on this host and its pid is now
    free or another process's. False for another host's process or an empty identity (nothing is known)."""
    host, _, rest = identity.partition(":")
    pid, _, _ = rest.partition(":")
    if not identity or host != socket.gethostname() or not pid.isdigit():
        return False
    return process_identity(int(pid)) != identity
