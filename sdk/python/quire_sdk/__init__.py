"""Quire's Python SDK (`pip install quire-sdk`, `import quire_sdk`).

from quire_sdk import Quire

client = Quire(api_key="qk_live_...", base_url="http://127.0.0.1:8000")
doc = client.documents.create(file="contract.pdf")
client.documents.wait(doc.id)
job = client.jobs.run("legal", [doc.id], on_progress=lambda j: print(j.stage, j.progress))
for finding in job.result.findings():
    print(finding.label, finding.quote)
"""

from quire_sdk._version import __version__
from quire_sdk.client import Quire
from quire_sdk.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    QuireError,
    QuotaError,
    RateLimitError,
    WaitTimeout,
)
from quire_sdk.pagination import Page
from quire_sdk.types import (
    ApiKey,
    ClauseType,
    Deleted,
    Delivery,
    Document,
    DocumentBatch,
    DocumentText,
    Event,
    Finding,
    Job,
    JobResult,
    Model,
    RefusedFile,
    SearchHit,
    Usage,
    WebhookEndpoint,
    Workspace,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "ApiKey",
    "AuthenticationError",
    "ClauseType",
    "ConflictError",
    "Deleted",
    "Delivery",
    "Document",
    "DocumentBatch",
    "DocumentText",
    "Event",
    "Finding",
    "InvalidRequestError",
    "Job",
    "JobResult",
    "Model",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "Quire",
    "QuireError",
    "QuotaError",
    "RateLimitError",
    "RefusedFile",
    "SearchHit",
    "Usage",
    "WaitTimeout",
    "WebhookEndpoint",
    "Workspace",
    "__version__",
]
