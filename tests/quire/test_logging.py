"""The console's filter of the beat schedule's sweeps: which lines it sends down to DEBUG and which it keeps."""

import logging

import pytest
from django.conf import settings

from quire.logging import PeriodicChatterFilter

SWEEP = "quire.webhooks.deliveries_dispatch_due_task"
JOB = "quire.jobs.job_run_task"


def _record(logger: str, level: int, msg: str, args=(), data: dict | None = None) -> logging.LogRecord:
    record = logging.LogRecord(logger, level, __file__, 1, msg, args, None)
    if data is not None:
        record.data = data
    return record


def _chatter() -> list[logging.LogRecord]:
    return [
        _record(
            "celery.beat",
            logging.INFO,
            "Scheduler: Sending due task %s (%s)",
            ("dispatch-due-webhooks", SWEEP),
        ),
        _record("celery.worker.strategy", logging.INFO, "Task received", data={"name": SWEEP}),
        _record("celery.app.trace", logging.INFO, "succeeded", data={"name": SWEEP, "return_value": "0"}),
    ]


@pytest.fixture
def sweep_filter() -> PeriodicChatterFilter:
    return PeriodicChatterFilter(tasks=[entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()])


@pytest.fixture
def celery_at(request):
    loggers = [
        logging.getLogger(name) for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(request.param)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.parametrize("celery_at", [logging.INFO], indirect=True)
def test_a_sweep_that_did_nothing_leaves_no_line_at_info(sweep_filter, celery_at):
    for record in _chatter():
        assert not sweep_filter.filter(record), record.name


@pytest.mark.parametrize("celery_at", [logging.DEBUG], indirect=True)
def test_at_debug_the_sweeps_lines_are_kept_as_debug(sweep_filter, celery_at):
    for record in _chatter():
        assert sweep_filter.filter(record) and record.levelname == "DEBUG", record.name


@pytest.mark.parametrize("celery_at", [logging.INFO], indirect=True)
def test_a_sweep_that_did_something_or_failed_and_other_tasks_are_kept(sweep_filter, celery_at):
    kept = [
        _record("celery.app.trace", logging.INFO, "succeeded", data={"name": SWEEP, "return_value": "3"}),
        _record("celery.app.trace", logging.ERROR, "failed", data={"name": SWEEP}),
        _record("celery.worker.strategy", logging.INFO, "Task received", data={"name": JOB}),
        _record("celery.app.trace", logging.INFO, "succeeded", data={"name": JOB, "return_value": "None"}),
        _record("celery.beat", logging.INFO, "Scheduler: Sending due task %s (%s)", ("x", JOB)),
    ]
    for record in kept:
        level = record.levelname
        assert sweep_filter.filter(record) and record.levelname == level, record.getMessage()


def test_the_console_handler_carries_the_filter():
    assert "periodic" in settings.LOGGING["handlers"]["console"]["filters"]
    assert SWEEP in settings.LOGGING["filters"]["periodic"]["tasks"]
