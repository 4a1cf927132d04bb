"""Services enqueue tasks by name (no service imports its tasks module): every such name is a registered
task, routed to the queue its worker listens on."""

import pytest


@pytest.mark.parametrize(
    ("module", "constant", "queue"),
    [
        ("quire.jobs.services", "JOB_RUN_TASK", "jobs"),
        ("quire.clauses.services", "CLAUSE_TYPE_TRAIN_TASK", "jobs"),
        ("quire.documents.services", "DOCUMENT_INGEST_TASK", "ingest"),
        ("billing.stripe_gateway", "SUBSCRIPTION_CANCEL_TASK", "billing"),
    ],
)
def test_enqueued_names_are_registered_tasks(module, constant, queue):
    import importlib

    from quire.celery import app

    name = getattr(importlib.import_module(module), constant)
    app.loader.import_default_modules()
    assert name in app.tasks
    assert app.amqp.router.route({}, name)["queue"].name == queue
