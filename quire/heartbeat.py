"""A heartbeat thread for long work in a tenant's schema: the job's lease renewal, ingestion's and clause
training's liveness marks for their sweeps, and their stop when the tenant enters maintenance."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class PutOffBeat:
    """A beat for work that its tenant's maintenance stops: each beat reads whether the tenant is in maintenance,
    and then calls `put_off` (whether it gave the work back, kept in `released`) and returns False; otherwise it
    calls `renew` every `renew_every` seconds and returns what it returns (False: the work was taken away), and
    between renewals `held`, when given (whether the work is still this run's)."""

    tenant: Tenant
    renew: Callable[[], bool]
    put_off: Callable[[], bool]
    renew_every: float
    held: Callable[[], bool] | None = None
    renewed: float = field(default_factory=time.monotonic)
    released: bool = False

    def __call__(self) -> bool:
        if Tenant.objects.filter(pk=self.tenant.pk, maintenance_since__isnull=False).exists():
            self.released = self.put_off()
            return False
        if time.monotonic() - self.renewed < self.renew_every:
            return self.held() if self.held is not None else True
        self.renewed = time.monotonic()
        return self.renew()
