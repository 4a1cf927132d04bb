"""A heartbeat thread for long work in a tenant's schema: the job's lease renewal, ingestion's liveness
mark for the stuck-document sweep."""

from __future__ import annotations

import threading
from collections.abc import Callable

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
