"""Helpers shared by the tests, one module per concern:

- `api`: the in-process /v1 client and rate-limit assertions;
- `jobs`: documents ingested and jobs run through a real worker;
- `processes`: child processes in sessions of their own (the Celery worker, beat, servers);
- `net`: free loopback ports, loopback HTTP servers, waiting for a server to answer;
- `polling`: `wait_for`;
- `concurrency`: a second writer in a thread of its own, paused inside its transaction, and waiting until one
  of them waits on a lock;
- `clock`: a clock the tests move by hand, put in place of the rate limiters' clock;
- `documents`: small documents of every supported type;
- `server`: the web app under a real `runserver` process;
- `portal` and `browser`: the portal's workspaces, signed-in clients and browser steps.

Nothing imported here imports Django or Playwright at import time, so the folders that need no platform
(kernels, inference, connectors) use it too.
"""

from tests.support.api import Api, assert_rate_limited
from tests.support.clock import FakeClock
from tests.support.jobs import (
    literature_job,
    ready_document,
    redelivering_worker,
    start_job_and_kill_its_worker,
    wait_job,
)
from tests.support.net import LocalServer, free_port, wait_http
from tests.support.paths import ROOT
from tests.support.polling import wait_for
from tests.support.processes import WorkerProcess, spawn, start_beat, stop_process

__all__ = [
    "ROOT",
    "Api",
    "FakeClock",
    "LocalServer",
    "WorkerProcess",
    "assert_rate_limited",
    "free_port",
    "literature_job",
    "ready_document",
    "redelivering_worker",
    "spawn",
    "start_beat",
    "start_job_and_kill_its_worker",
    "stop_process",
    "wait_for",
    "wait_http",
    "wait_job",
]
