"""The webhook tasks are registered under the names the outbox and the beat schedule send, on the
`webhooks` queue."""

from __future__ import annotations

import pytest
from django.conf import settings

from quire.webhooks.services.outbox import DELIVERY_ATTEMPT_TASK

BEAT_TASKS = sorted(
    entry["task"]
    for entry in settings.CELERY_BEAT_SCHEDULE.values()
    if entry["task"].startswith("quire.webhooks.")
)


@pytest.mark.parametrize("name", [DELIVERY_ATTEMPT_TASK, *BEAT_TASKS])
def test_sent_names_are_registered_webhook_tasks(name):
    from quire.celery import app

    app.loader.import_default_modules()
    assert name in app.tasks
    assert app.amqp.router.route({}, name)["queue"].name == "webhooks"


def test_beat_runs_the_sweeper_the_purge_and_the_model_announcements():
    assert BEAT_TASKS == [
        "quire.webhooks.deliveries_dispatch_due_task",
        "quire.webhooks.events_purge_expired_task",
        "quire.webhooks.models_announce_changes_task",
    ]
