"""A heartbeat thread for long work in a tenant's schema: the job's lease renewal, ingestion's liveness
mark for the stuck-document sweep."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tenants.models import Tenant

logger = logging.getLogger(__name__)


class TenantHeartbeat(threading.Thread):
    """Calls `beat()` every `interval` seconds, whatever the caller is doing, with a connection of its own
    in `tenant`'s schema, until the `with` block ends; when `beat()` returns False it stops and sets
    `lost` (the work was taken away: canceled, or claimed by another attempt). A beat that raises (the
    database restarting, a dropped connection) is logged and the next one tried on a new connection: the
    thread stopping silently would let a live worker's lease lapse."""

    def __init__(self, name: str, tenant: Tenant, interval: float, beat: Callable[[], bool]):
        super().__init__(name=name, daemon=True)
        self.tenant, self.interval, self.beat = tenant, interval, beat
        self.stop_event, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        from django.db import connection as thread_connection

        thread_connection.set_tenant(self.tenant)
        try:
            while not self.stop_event.wait(self.interval):
                try:
                    alive = self.beat()
                except Exception:
                    logger.warning(
                        "%s: a beat failed; the next is tried on a new connection", self.name, exc_info=True
                    )
                    thread_connection.close()
                    thread_connection.set_tenant(self.tenant)
                    continue
                if not alive:
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
