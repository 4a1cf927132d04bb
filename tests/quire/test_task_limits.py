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
