"""Django settings, read from the environment (README lists every variable)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from common.env import env_bool, env_int, env_list, env_str, fernet_keys, ocr_languages, ocr_pictures
from inference.context import SPARSE_FROM

BASE_DIR = Path(__file__).resolve().parent.parent
QUIRE_ENV = env_str("QUIRE_ENV", "development")
QUIRE_ENVS = ("development", "test", "production")
if QUIRE_ENV not in QUIRE_ENVS:
    # A misspelt "prod" or a "staging" would otherwise run with development's secret key and insecure cookies.
    raise RuntimeError(f"QUIRE_ENV is {QUIRE_ENV!r}; it must be one of {', '.join(QUIRE_ENVS)}")
DEBUG = env_bool("QUIRE_DEBUG", QUIRE_ENV == "development")
SECRET_KEY = env_str("QUIRE_SECRET_KEY", "")
if not SECRET_KEY:
    if QUIRE_ENV == "production":
        raise RuntimeError("QUIRE_SECRET_KEY must be set in production")
    SECRET_KEY = "insecure-development-key-change-me"
# Fernet keys for secrets at rest (webhook signing secrets, Stripe ids): the first encrypts, all decrypt
# (tenants/crypto.py). Unset, one key is derived from SECRET_KEY; production should set its own.
QUIRE_ENCRYPTION_KEYS = fernet_keys(env_list("QUIRE_ENCRYPTION_KEYS", []))
ALLOWED_HOSTS = env_list("QUIRE_ALLOWED_HOSTS", ["localhost", ".localhost", "127.0.0.1", "testserver"])
QUIRE_BASE_DOMAIN = env_str("QUIRE_BASE_DOMAIN", "localhost")
QUIRE_DATA_DIR = Path(env_str("QUIRE_DATA_DIR", str(BASE_DIR / ".quire"))).resolve()


def _time_limits(prefix: str, soft_default: int) -> tuple[int, int]:
    """`<prefix>_SOFT_TIME_LIMIT` and `<prefix>_TIME_LIMIT` of a task, seconds: past the soft limit the task stops
    and its work fails with the reason; the hard one (the soft + 60 s unless set) kills a worker process that did
    not stop, so it must be above the soft one, which must be at least 1."""
    soft = env_int(f"{prefix}_SOFT_TIME_LIMIT", soft_default)
    hard = env_int(f"{prefix}_TIME_LIMIT", soft + 60)
    if soft < 1 or hard <= soft:
        raise RuntimeError(
            f"{prefix}_TIME_LIMIT ({hard}) must be above {prefix}_SOFT_TIME_LIMIT ({soft}), which must be at least "
            "1: the soft limit fails the task's work, the hard one kills a worker process that did not stop"
        )
    return soft, hard


def _database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise RuntimeError(f"DATABASE_URL must be a postgresql:// URL, got {parsed.scheme!r}")
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or parsed.hostname or ""
    return {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": unquote(parsed.path.lstrip("/")) or "quire",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "OPTIONS": {**query, **_pool_options()},
        "CONN_MAX_AGE": 0 if env_int("QUIRE_DB_POOL_SIZE", 0) else env_int("QUIRE_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    }


def _pool_options() -> dict:
    """With QUIRE_DB_POOL_SIZE > 0 (the web server sets it) each process holds at most that many
    connections, shared by its threads; a request that waits QUIRE_DB_POOL_TIMEOUT seconds for one is
    answered 503 with Retry-After instead of pushing PostgreSQL past max_connections. Workers keep one
    persistent connection per process (CONN_MAX_AGE)."""
    size = env_int("QUIRE_DB_POOL_SIZE", 0)
    if not size:
        return {}
    timeout = float(env_str("QUIRE_DB_POOL_TIMEOUT", "3"))
    return {"pool": {"min_size": 1, "max_size": size, "timeout": timeout, "max_idle": 60}}


# Seconds a client is told to wait (Retry-After) when a dependency is unavailable or the pool is exhausted.
QUIRE_RETRY_AFTER_SECONDS = env_int("QUIRE_RETRY_AFTER_SECONDS", 2)
# Seconds a client is told to wait, and a worker waits before trying a task again, while a tenant is in
# maintenance (a restore of its schema: `Tenant.maintenance_since`).
QUIRE_MAINTENANCE_RETRY_SECONDS = env_int("QUIRE_MAINTENANCE_RETRY_SECONDS", 30)

DATABASE_URL = env_str("DATABASE_URL", "")
DATABASES = {"default": _database_from_url(DATABASE_URL or "postgresql://postgres@localhost/quire")}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Every Redis key (cache, rate limits, broker queues) starts with this, so deployments can share a server.
QUIRE_REDIS_PREFIX = env_str("QUIRE_REDIS_PREFIX", "quire")

SHARED_APPS = [
    "tenants",  # first, so that its create_tenant command replaces django-tenants' own
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    # After the admin: its admin templates expect a tenant on every request, and the admin registers
    # public models only, on a host that routes to none.
    "django_tenants",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "quire.portal",
    "billing",
]
TENANT_APPS = [
    "quire.api",
    "quire.documents",
    "quire.jobs",
    "quire.clauses",
    "quire.webhooks",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"

MIDDLEWARE = [
    "quire.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "quire.api.middleware.RequestContextMiddleware",
    "quire.api.middleware.BodySizeLimitMiddleware",
    "quire.metrics.ScrapeMiddleware",
    "quire.routing.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "quire.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "quire.portal.middleware.MethodNotAllowedPageMiddleware",
]
ROOT_URLCONF = "quire.urls"
APPEND_SLASH = False
WSGI_APPLICATION = "quire.wsgi.application"
ASGI_APPLICATION = "quire.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": QUIRE_REDIS_PREFIX,
    }
}
# API keys (tenants/keycache.py): each web process trusts its copy of a key (tenant, role, version, revoked)
# for this many seconds, then reads Redis again, where revocations and role changes are written on commit;
# Redis keeps a key's entry for the longer TTL. A revoked key is refused everywhere after at most the first.
# A secret no key has is remembered in Redis as such for the third, so retrying it costs no query.
QUIRE_API_KEY_LOCAL_SECONDS = 0.5
QUIRE_API_KEY_REDIS_SECONDS = 300
QUIRE_API_KEY_MISSING_SECONDS = 60
# Beat rewrites the grants whose rewrite failed at commit (Redis unreachable) this often.
QUIRE_GRANT_REFRESH_SWEEP_SECONDS = env_int("QUIRE_GRANT_REFRESH_SWEEP_SECONDS", 10)
# The dated versions of the /v1 API, oldest first; the last is current (docs/versioning.md).
QUIRE_API_VERSIONS = ("2026-12-01", "2026-12-05", "2026-12-06", "2026-12-07", "2026-12-08")
SESSION_ENGINE = "django.contrib.sessions.backends.db"
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:login"
QUIRE_SIGN_IN_RATE = env_str("QUIRE_SIGN_IN_RATE", "10/min")
# Password reset e-mails per address; past it the form answers as always and mails nothing.
QUIRE_PASSWORD_RESET_RATE = env_str("QUIRE_PASSWORD_RESET_RATE", "3/hour")
# The Django admin site at /admin/ (its sign-in counted by QUIRE_SIGN_IN_RATE too); off in production unless asked.
QUIRE_ADMIN_ENABLED = env_bool("QUIRE_ADMIN_ENABLED", QUIRE_ENV != "production")

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("QUIRE_STATIC_ROOT", str(QUIRE_DATA_DIR / "static")))
# WhiteNoise serves static files from the web process: from the apps' folders in development, from
# STATIC_ROOT (`collectstatic`) in production.
WHITENOISE_USE_FINDERS = env_bool("QUIRE_STATIC_FINDERS", DEBUG)
MEDIA_ROOT = Path(env_str("QUIRE_MEDIA_ROOT", str(QUIRE_DATA_DIR / "media")))
# Documents go through Django's storage API: local disk by default, S3 ("storages.backends.s3.S3Storage" from
# django-storages) once QUIRE_S3_BUCKET names a bucket.
QUIRE_S3_BUCKET = env_str("QUIRE_S3_BUCKET", "")
_FILE_STORAGE = "django.core.files.storage.FileSystemStorage"
_S3_STORAGE = "storages.backends.s3.S3Storage"
STORAGES = {
    "default": {
        "BACKEND": env_str("QUIRE_STORAGE_BACKEND", _S3_STORAGE if QUIRE_S3_BUCKET else _FILE_STORAGE)
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True
USE_I18N = False

# Bodies above this are refused with 413 before they are read.
QUIRE_MAX_REQUEST_BYTES = env_int("QUIRE_MAX_REQUEST_BYTES", 26_214_400)
DATA_UPLOAD_MAX_MEMORY_SIZE = QUIRE_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
QUIRE_MAX_DOCUMENT_BYTES = env_int("QUIRE_MAX_DOCUMENT_BYTES", 20_971_520)
# What one document may cost to ingest (quire/documents/limits.py). The document byte cap above also caps
# its extracted text, in characters. Past a limit a document is refused at upload (413/415) when its bytes
# tell, else it ends `failed` with the reason.
QUIRE_INGEST_MAX_UNZIPPED_BYTES = env_int("QUIRE_INGEST_MAX_UNZIPPED_BYTES", 104_857_600)
QUIRE_INGEST_MAX_COMPRESSION_RATIO = env_int("QUIRE_INGEST_MAX_COMPRESSION_RATIO", 100)
QUIRE_INGEST_MAX_PDF_PAGES = env_int("QUIRE_INGEST_MAX_PDF_PAGES", 2_000)
QUIRE_INGEST_MAX_NESTING_DEPTH = env_int("QUIRE_INGEST_MAX_NESTING_DEPTH", 512)
# OCR (Tesseract) of pages without a good text layer: pages per document (the plan's `max_ocr_pages` may
# lower it), pixels per page image, and the resolution pages are rendered at.
QUIRE_INGEST_MAX_OCR_PAGES = env_int("QUIRE_INGEST_MAX_OCR_PAGES", 2_000)
QUIRE_INGEST_MAX_OCR_PIXELS = env_int("QUIRE_INGEST_MAX_OCR_PIXELS", 40_000_000)
QUIRE_INGEST_OCR_DPI = env_int("QUIRE_INGEST_OCR_DPI", 300)
# The languages Tesseract reads scans in, its codes joined by "+" ("eng+deu+fra"); each needs its language data
# on the ingest workers (Debian's `tesseract-ocr-<code>`; `make run` installs them).
QUIRE_INGEST_OCR_LANGUAGES = ocr_languages(env_str("QUIRE_INGEST_OCR_LANGUAGES", "eng"))
QUIRE_INGEST_OCR_PICTURES = ocr_pictures(env_str("QUIRE_INGEST_OCR_PICTURES", "textless"))
# Uploads of many files (several multipart files, or a ZIP): files per request, ZIPs inside ZIPs.
QUIRE_UPLOAD_MAX_FILES = env_int("QUIRE_UPLOAD_MAX_FILES", 1_000)
QUIRE_UPLOAD_MAX_ZIP_DEPTH = env_int("QUIRE_UPLOAD_MAX_ZIP_DEPTH", 3)
# Seconds one ingest task may run: past the soft limit it stops and the document fails with the reason;
# the hard limit kills a worker process that does not stop.
QUIRE_INGEST_SOFT_TIME_LIMIT, QUIRE_INGEST_TIME_LIMIT = _time_limits("QUIRE_INGEST", 900)
# Seconds one clause type's training may run: past the soft limit it stops and the type fails with the reason;
# the hard limit kills a worker process that does not stop.
QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT, QUIRE_CLAUSE_TRAIN_TIME_LIMIT = _time_limits("QUIRE_CLAUSE_TRAIN", 600)
# Chunks embedded and written together; `chunk_count` rises by this much as a large document is embedded.
QUIRE_INGEST_EMBED_BATCH_CHUNKS = env_int("QUIRE_INGEST_EMBED_BATCH_CHUNKS", 256)
# Stored chunks are embedded by the distilled chunk encoder (`embed_chunks`, 0.4 to 0.5 of the CPU per chunk); false:
# by the full encoder, as queries are.
QUIRE_INGEST_DISTILLED_CHUNKS = env_bool("QUIRE_INGEST_DISTILLED_CHUNKS", True)
# Beat embeds again the chunks of ready documents another encoder embedded (the chunk encoder's weights or the
# setting above changed) on an ingest worker, starting none past QUIRE_REEMBED_BUDGET_SECONDS into a sweep;
# each sweep begins one tenant further along.
QUIRE_REEMBED_SWEEP_SECONDS = env_int("QUIRE_REEMBED_SWEEP_SECONDS", 300)
QUIRE_REEMBED_BUDGET_SECONDS = env_int("QUIRE_REEMBED_BUDGET_SECONDS", 60)
# Beat purges what is past each tenant's retention period every QUIRE_RETENTION_SWEEP_SECONDS, starting no batch
# of documents past QUIRE_RETENTION_BUDGET_SECONDS into a run (the rest waits for the next run); each run begins
# one tenant further along.
QUIRE_RETENTION_SWEEP_SECONDS = 3600
QUIRE_RETENTION_BUDGET_SECONDS = env_int("QUIRE_RETENTION_BUDGET_SECONDS", 600)
QUIRE_IDEMPOTENCY_TTL_HOURS = 24
QUIRE_JOB_LEASE_SECONDS = env_int("QUIRE_JOB_LEASE_SECONDS", 60)
# Beat re-queues running jobs whose lease lapsed, and documents in parsing or embedding whose heartbeat
# stopped QUIRE_DOCUMENT_STUCK_SECONDS ago, this often (docs/architecture.md, "Flow of one job").
QUIRE_STALLED_SWEEP_SECONDS = env_int("QUIRE_STALLED_SWEEP_SECONDS", QUIRE_JOB_LEASE_SECONDS)
QUIRE_DOCUMENT_STUCK_SECONDS = env_int("QUIRE_DOCUMENT_STUCK_SECONDS", 300)
# A queued job no worker has had in hand for this long (its message lost: a broker that restarted without its
# data, a retry that could not be published) is sent again by the same sweep. Past two visibility timeouts, so
# a message the broker still holds has come back by then.
QUIRE_JOB_QUEUED_LOST_SECONDS = env_int("QUIRE_JOB_QUEUED_LOST_SECONDS", 7200)
# A job, an ingest or a clause type's training whose worker process ended this many times before it finished (a
# crash, a memory limit, a restart past its grace period) fails instead of starting again: an input that kills its
# worker every time must not keep a worker busy forever.
QUIRE_JOB_MAX_ATTEMPTS = env_int("QUIRE_JOB_MAX_ATTEMPTS", 5)
# Seconds one job run may take: past the soft limit it stops and the job fails `timed_out`; the hard limit kills
# a worker process that does not stop.
QUIRE_JOB_SOFT_TIME_LIMIT, QUIRE_JOB_TIME_LIMIT = _time_limits("QUIRE_JOB", 7200)
QUIRE_INGEST_MAX_ATTEMPTS = env_int("QUIRE_INGEST_MAX_ATTEMPTS", 5)
QUIRE_MODEL_WINDOW = env_int("QUIRE_MODEL_WINDOW", 131_072)
QUIRE_SPARSE_FROM = env_int("QUIRE_SPARSE_FROM", SPARSE_FROM)
QUIRE_RESERVED_OUTPUT_TOKENS = env_int("QUIRE_RESERVED_OUTPUT_TOKENS", 2_048)
# Tokens of retrieved chunks each question of a `rag` reading gets (at most the budget left in the window).
QUIRE_RAG_TOKENS = env_int("QUIRE_RAG_TOKENS", 8_192)


# Prices per million uncached input, cached input and output tokens, in the plan's currency (major units),
# for plans that leave theirs blank (docs/billing.md).
def _token_prices() -> tuple[float, float, float]:
    raw = env_list("QUIRE_TOKEN_PRICES", ["0.50", "0.05", "1.50"])
    try:
        prices = tuple(float(p) for p in raw)
    except ValueError:
        prices = ()
    if len(prices) != 3 or not all(0 <= p < float("inf") for p in prices):
        raise RuntimeError(
            f"QUIRE_TOKEN_PRICES is {','.join(raw)!r}; it must be three prices of 0 or more, per million input, "
            "cached input and output tokens, comma-separated (e.g. 0.50,0.05,1.50)"
        )
    return prices  # type: ignore[return-value]


QUIRE_TOKEN_PRICES = _token_prices()

# Webhooks (docs/webhooks.md). Private addresses are reachable only in development unless allowed.
QUIRE_WEBHOOKS_ALLOW_PRIVATE = env_bool("QUIRE_WEBHOOKS_ALLOW_PRIVATE", QUIRE_ENV == "development")
# `GET /metrics` (Prometheus) answers `Authorization: Bearer <token>`; without a token, only in development.
QUIRE_METRICS_TOKEN = env_str("QUIRE_METRICS_TOKEN", "")
QUIRE_WEBHOOKS_TIMEOUT_SECONDS = env_int("QUIRE_WEBHOOKS_TIMEOUT_SECONDS", 15)
QUIRE_WEBHOOKS_RETRY_SCHEDULE = env_list(
    "QUIRE_WEBHOOKS_RETRY_SCHEDULE", ["5", "300", "1800", "7200", "18000", "36000", "36000"]
)
QUIRE_WEBHOOKS_DISABLE_AFTER_SECONDS = env_int("QUIRE_WEBHOOKS_DISABLE_AFTER_SECONDS", 5 * 86400)
QUIRE_WEBHOOKS_MAX_PAYLOAD_BYTES = env_int("QUIRE_WEBHOOKS_MAX_PAYLOAD_BYTES", 262_144)
QUIRE_WEBHOOKS_MAX_RESPONSE_BYTES = env_int("QUIRE_WEBHOOKS_MAX_RESPONSE_BYTES", 65_536)
QUIRE_WEBHOOKS_SWEEP_SECONDS = env_int("QUIRE_WEBHOOKS_SWEEP_SECONDS", 5)
QUIRE_WEBHOOKS_LINK_BASE_URL = env_str("QUIRE_WEBHOOKS_LINK_BASE_URL", "")
QUIRE_WEBHOOKS_RETENTION_DAYS = env_int("QUIRE_WEBHOOKS_RETENTION_DAYS", 30)
# How often beat compares the shipped models with what each workspace was last told (`model.changed`).
QUIRE_MODELS_SWEEP_SECONDS = env_int("QUIRE_MODELS_SWEEP_SECONDS", 300)
EMAIL_BACKEND = env_str("QUIRE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("QUIRE_EMAIL_FROM", "Quire <noreply@localhost>")
# The SMTP backend's server; the password from the Secret. A server that does not answer fails the send after
# QUIRE_EMAIL_TIMEOUT seconds instead of holding the request.
EMAIL_HOST = env_str("QUIRE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("QUIRE_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("QUIRE_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("QUIRE_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("QUIRE_EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("QUIRE_EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("QUIRE_EMAIL_TIMEOUT", 10)
QUIRE_STRIPE_API_KEY = env_str("QUIRE_STRIPE_API_KEY", "")
QUIRE_STRIPE_API_BASE = env_str("QUIRE_STRIPE_API_BASE", "https://api.stripe.com")
QUIRE_STRIPE_WEBHOOK_SECRET = env_str("QUIRE_STRIPE_WEBHOOK_SECRET", "")
QUIRE_STRIPE_WEBHOOK_TOLERANCE = env_int("QUIRE_STRIPE_WEBHOOK_TOLERANCE", 300)
QUIRE_STRIPE_METER_EVENT = env_str("QUIRE_STRIPE_METER_EVENT", "quire_pages")
# Where a form may send the browser besides this origin (`form-action` of quire.security's policy): the Stripe
# Checkout and Customer Portal pages the billing forms are redirected to.
QUIRE_CSP_FORM_ACTION = env_list(
    "QUIRE_CSP_FORM_ACTION", ["https://checkout.stripe.com", "https://billing.stripe.com"]
)
QUIRE_METER_PUSH_SECONDS = env_int("QUIRE_METER_PUSH_SECONDS", 300)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["quire.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["quire.api.permissions.ApiKeyRolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["quire.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env_str("QUIRE_API_RATE", "1200/min")},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "quire.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "quire.api.pagination.CreatedCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "quire.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quire API",
    "DESCRIPTION": "Long-context document AI: documents, connector jobs, results and webhooks.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "tenants.models.Role",
        "JobStatusEnum": "quire.jobs.models.JobStatus",
        "ClauseTypeStatusEnum": "quire.clauses.models.ClauseTypeStatus",
        "EndpointStatusEnum": "quire.webhooks.models.EndpointStatus",
        "DocumentStatusEnum": "quire.documents.models.DocumentStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "quire.api.schema.add_error_responses",
        "quire.api.schema.add_links",
    ],
}

# Celery: one broker (Redis); late acks and a visibility timeout so a killed worker's task is redelivered.
CELERY_BROKER_URL = env_str("QUIRE_BROKER_URL", REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("QUIRE_BROKER_VISIBILITY_TIMEOUT", 3600),
    "global_keyprefix": f"{QUIRE_REDIS_PREFIX}:",
    # Sweep for tasks past their visibility timeout every N seconds (kombu's default scans every 100 s).
    "unacked_restore_interval": env_int("QUIRE_BROKER_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Limits of every task that sets none of its own (the sweeps, webhook deliveries, billing): a task that hangs
# gives its worker child back, and ends before the broker's visibility timeout (an hour) hands it to a second one.
CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT = _time_limits("QUIRE_TASK", 1800)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "jobs"
CELERY_TASK_QUEUES_NAMES = ("ingest", "jobs", "webhooks", "billing")
CELERY_TASK_ROUTES = {
    "quire.documents.*": {"queue": "ingest"},
    "quire.jobs.*": {"queue": "jobs"},
    "quire.clauses.*": {"queue": "jobs"},
    "quire.webhooks.*": {"queue": "webhooks"},
    "billing.*": {"queue": "billing"},
    "tenants.*": {"queue": "billing"},
    "quire.api.*": {"queue": "jobs"},
}


def _periodic(task: str, seconds: float) -> dict:
    """A beat entry whose message expires once the next run is due (at least a minute on, so clocks a little
    apart do not drop it): workers that were down or behind run a missed sweep once, not once a period."""
    return {"task": task, "schedule": seconds, "options": {"expires": max(seconds, 60.0)}}


CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": _periodic("quire.api.idempotency_records_purge_task", 3600.0),
    "dispatch-due-webhooks": _periodic(
        "quire.webhooks.deliveries_dispatch_due_task", float(QUIRE_WEBHOOKS_SWEEP_SECONDS)
    ),
    "announce-model-changes": _periodic(
        "quire.webhooks.models_announce_changes_task", float(QUIRE_MODELS_SWEEP_SECONDS)
    ),
    "purge-expired-webhook-events": _periodic("quire.webhooks.events_purge_expired_task", 3600.0),
    "requeue-stalled-jobs": _periodic(
        "quire.jobs.jobs_requeue_stalled_task", float(QUIRE_STALLED_SWEEP_SECONDS)
    ),
    "requeue-clause-training": _periodic(
        "quire.clauses.clause_types_requeue_task", float(QUIRE_STALLED_SWEEP_SECONDS)
    ),
    "requeue-stuck-documents": _periodic(
        "quire.documents.documents_requeue_stuck_task", float(QUIRE_STALLED_SWEEP_SECONDS)
    ),
    "delete-orphaned-files": _periodic("quire.documents.documents_orphans_delete_task", 86400.0),
    "reembed-stale-documents": _periodic(
        "quire.documents.documents_reembed_stale_task", float(QUIRE_REEMBED_SWEEP_SECONDS)
    ),
    "apply-retention": _periodic("quire.jobs.retention_apply_task", float(QUIRE_RETENTION_SWEEP_SECONDS)),
    "rewrite-pending-grants": _periodic(
        "tenants.grants_refresh_pending_task", float(QUIRE_GRANT_REFRESH_SWEEP_SECONDS)
    ),
    "push-meter-usage": _periodic("billing.meter_usage_push_task", float(QUIRE_METER_PUSH_SECONDS)),
    "cancel-replaced-subscriptions": _periodic(
        "billing.replaced_subscriptions_cancel_task", float(QUIRE_METER_PUSH_SECONDS)
    ),
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A worker child is replaced after this many tasks, or once a task has left it above this resident memory.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("QUIRE_WORKER_MAX_TASKS_PER_CHILD", 500)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("QUIRE_WORKER_MAX_MEMORY_MB", 2048) * 1024
# Fair shares (quire.fairness): at most this many tasks of one tenant run at once in one worker pool (the
# queues a worker consumes), on every worker of it together, and on each worker QUIRE_TENANT_FREE_CHILDREN
# fewer than its concurrency (at least one), so another tenant's task finds a free child however long the
# first tenant's run; past it a task waits QUIRE_TENANT_RETRY_SECONDS in the queue.
QUIRE_TENANT_MAX_RUNNING = env_int("QUIRE_TENANT_MAX_RUNNING", 4)
QUIRE_TENANT_FREE_CHILDREN = env_int("QUIRE_TENANT_FREE_CHILDREN", 1)
QUIRE_TENANT_RETRY_SECONDS = float(env_str("QUIRE_TENANT_RETRY_SECONDS", "2"))
QUIRE_TENANT_SLOT_SECONDS = env_int("QUIRE_TENANT_SLOT_SECONDS", 120)
# Uploads larger than this are ingested at the ingest queue's lowest priority, behind every smaller one.
QUIRE_INGEST_LARGE_BYTES = env_int("QUIRE_INGEST_LARGE_BYTES", 5 * 1024 * 1024)
CELERY_TIMEZONE = "UTC"

QUIRE_LOG_FORMAT = env_str("QUIRE_LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "quire.logging.RequestContextFilter"},
        "periodic": {
            "()": "quire.logging.PeriodicChatterFilter",
            "tasks": sorted({entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()}),
        },
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": QUIRE_LOG_FORMAT,
            "filters": ["context", "periodic"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("QUIRE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "pgserver": {"level": "WARNING"},
        # stripe-python logs every request's URL at INFO (customer and subscription ids in the path) and
        # its body at DEBUG; a failed call surfaces as an exception our code logs.
        "stripe": {"level": "WARNING"},
    },
}

if QUIRE_ENV == "production":
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("QUIRE_SSL_REDIRECT", True)
    # Probes speak plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("QUIRE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("QUIRE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("QUIRE_HSTS_PRELOAD", False)

# A PostgreSQL read replica (docs/scaling.md): when set, GET and HEAD requests under these path prefixes
# read from it (quire/replicas.py); every write, every transaction and all worker and beat work stay on
# the primary.
QUIRE_DATABASE_REPLICA_URL = env_str("QUIRE_DATABASE_REPLICA_URL", "")
QUIRE_DATABASE_REPLICA_PATHS = tuple(env_list("QUIRE_DATABASE_REPLICA_PATHS", ["/v1/"]))
if QUIRE_DATABASE_REPLICA_URL:
    DATABASES["replica"] = _database_from_url(QUIRE_DATABASE_REPLICA_URL)
    DATABASE_ROUTERS = ("quire.replicas.ReplicaRouter", *DATABASE_ROUTERS)
    MIDDLEWARE.insert(0, "quire.replicas.ReplicaReadsMiddleware")
# Documents on S3 through django-storages; the credentials come from the usual AWS_* variables or the
# instance's role.
if QUIRE_S3_BUCKET:
    if STORAGES["default"]["BACKEND"] == _FILE_STORAGE:
        raise RuntimeError(
            "QUIRE_S3_BUCKET is set but QUIRE_STORAGE_BACKEND names local disk storage; unset "
            f"QUIRE_STORAGE_BACKEND (or set it to {_S3_STORAGE}) to store documents in the bucket"
        )
    STORAGES["default"]["OPTIONS"] = {
        "bucket_name": QUIRE_S3_BUCKET,
        "location": env_str("QUIRE_S3_PREFIX", ""),
        "region_name": env_str("QUIRE_S3_REGION", "") or None,
        "endpoint_url": env_str("QUIRE_S3_ENDPOINT_URL", "") or None,
    }
# migrate_schemas migrates only the tenant schemas missing a migration on disk (tenants/migrating.py).
GET_EXECUTOR_FUNCTION = "tenants.migrating.get_skipping_executor"
# Processes of `migrate_schemas --executor multiprocessing` (the Helm chart's migration Job uses it).
TENANT_MULTIPROCESSING_MAX_PROCESSES = env_int("QUIRE_MIGRATION_PROCESSES", 2)
# Where pg_dump and pg_restore are (tenant_dump, tenant_restore); empty: the PATH, then pgserver's own.
QUIRE_PG_BIN_DIR = env_str("QUIRE_PG_BIN_DIR", "")

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
