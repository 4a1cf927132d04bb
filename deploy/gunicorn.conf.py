"""Gunicorn settings for the production web process, read from the environment."""

import multiprocessing
import os

bind = os.environ.get("QUIRE_WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("QUIRE_WEB_WORKERS", 2 * multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("QUIRE_WEB_THREADS", 1))
timeout = int(os.environ.get("QUIRE_WEB_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, so no process grows without bound.
max_requests = int(os.environ.get("QUIRE_WEB_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
worker_tmp_dir = "/dev/shm"
# The load balancer in front sets X-Forwarded-Proto; trust it from any peer inside the pod network.
forwarded_allow_ips = os.environ.get("QUIRE_WEB_FORWARDED_ALLOW_IPS", "*")
accesslog = "-"
errorlog = "-"
