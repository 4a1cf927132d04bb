"""Beat's periodic tasks: a sweep still waiting in its queue when the next is sent (its workers down or behind a
backlog) expires, so workers that come back run each sweep once, not once per period they missed."""

from celery.beat import Scheduler


def test_every_periodic_task_expires_once_its_next_run_is_due():
    from quire.celery import app

    scheduler = Scheduler(app, lazy=True)
    scheduler.merge_inplace(app.conf.beat_schedule)
    assert app.conf.beat_schedule
    for name in app.conf.beat_schedule:
        entry = scheduler.schedule[name]
        period = entry.schedule.run_every.total_seconds()
        assert 0 < entry.options.get("expires", 0) <= max(period, 60), name
