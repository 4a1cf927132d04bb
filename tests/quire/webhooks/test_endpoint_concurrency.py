"""Concurrent DELETE, PATCH and rotate_secret on one endpoint: each answers 200 or 404, never a 500."""

from __future__ import annotations

import threading
from collections import Counter

from django.db import connection

from tests.support import Api

THREADS = 30


def _hammer(secret: str, endpoint_id: str, url: str) -> list[tuple[str, int, bytes]]:
    path = f"/v1/webhook_endpoints/{endpoint_id}"
    calls = [
        ("delete", lambda api: api.delete(path)),
        (
            "patch",
            lambda api: api.request(
                "PATCH", path, data={"description": "x"}, content_type="application/json"
            ),
        ),
        ("rotate", lambda api: api.post(f"{path}/rotate_secret", {"grace_period_seconds": 60})),
        (
            "disable",
            lambda api: api.request(
                "PATCH", path, data={"enabled": False, "url": url}, content_type="application/json"
            ),
        ),
    ]
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[str, int, bytes]] = []

    def one(position: int) -> None:
        name, call = calls[position % len(calls)]
        api = Api(secret)
        try:
            barrier.wait(timeout=30)
            response = call(api)
            answers.append((name, response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_concurrent_delete_update_and_rotate_never_answer_500(api_hooks: Api, endpoints, receiver):
    seen: Counter = Counter()
    for _ in range(3):
        endpoint = endpoints(receiver.url, ["job.succeeded"])
        answers = _hammer(api_hooks.secret, endpoint["id"], receiver.url)
        assert len(answers) == THREADS
        for name, status, content in answers:
            assert status in (200, 404), (name, status, content)
            if status == 404:
                assert b'"resource_missing"' in content, content
            seen[(name, status)] += 1
        deletes = [status for name, status, _ in answers if name == "delete"]
        assert deletes.count(200) == 1, deletes
        assert api_hooks.get(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404
    assert seen[("delete", 404)] > 0
