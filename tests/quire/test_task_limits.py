"""Every task has a soft and a hard time limit, its own or the app's default: a sweep or a delivery that hangs
(a lock never granted, a peer that never answers) gives its worker child back instead of holding it for good."""


def test_every_task_has_a_soft_and_a_hard_time_limit():
    from quire.celery import app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert ours
    for name, task in ours.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft and hard and soft < hard, name


def test_a_task_retried_past_celerys_default_of_three_is_retried_again(monkeypatch):
    """An ingest put off by its tenant's share, a database that was briefly down or a maintenance window retries
    for as long as it needs: Celery's default of three retries ended it, its document left pending for hours."""
    import pytest
    from celery.exceptions import Retry

    from quire.celery import app

    app.loader.import_default_modules()
    bounded = {"billing.stripe_customer_provision_task": 8}
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        assert task.max_retries == bounded.get(name), name
        if name in bounded:
            continue
        sent = []
        monkeypatch.setattr(task, "apply_async", lambda *args, sent=sent, **kwargs: sent.append(kwargs))
        task.push_request(id=f"{name}-retried", retries=9, called_directly=False, is_eager=False)
        try:
            with pytest.raises(Retry):
                task.retry(countdown=1)
        finally:
            task.pop_request()
        assert sent, name
