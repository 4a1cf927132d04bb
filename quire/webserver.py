"""Gunicorn's configuration for the web process (`make run` and the production image):
`gunicorn -c python:quire.webserver quire.wsgi`.

Threads, not processes, carry the concurrency: QUIRE_WEB_WORKERS processes of QUIRE_WEB_THREADS threads
each. Every process holds a connection pool of at most QUIRE_DB_POOL_SIZE PostgreSQL connections (fewer
than its threads: requests that do not reach the database never hold one), so one web replica opens at most
workers x pool size connections however many clients arrive; a request that waits QUIRE_DB_POOL_TIMEOUT
seconds for a connection is answered 503 with Retry-After (docs/architecture.md, "Capacity").
"""

import os

bind = f"{os.environ.get('QUIRE_HOST', '127.0.0.1')}:{os.environ.get('QUIRE_PORT', '8000')}"
workers = int(os.environ.get("QUIRE_WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("QUIRE_WEB_THREADS", "8"))
timeout = int(os.environ.get("QUIRE_WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
os.environ.setdefault("QUIRE_DB_POOL_SIZE", str(max(1, threads // 2)))
