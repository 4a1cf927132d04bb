"""The Quire platform: Django project, API, documents, jobs, webhooks and portal."""

from quire.celery import app as celery_app

__all__ = ["celery_app"]
