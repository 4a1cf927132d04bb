"""Writes for jobs: create, update metadata, cancel, and run (claim, connector, verified result) exactly once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest, Length
from django.utils import timezone

from billing.entitlements import entitlements_for
from billing.models import UsageKind
from billing.services import (
    billing_erase,
    job_allowed,
    job_usage_quantities,
    review_cells,
    usage_record,
    usage_thresholds_record,
)
from billing.stripe_gateway import stripe_account_settle, stripe_customer_erase
from common.processes import process_gone, process_identity
from common.refusals import ErrorCode, Refusal
from common.scripts import estimated_tokens
from quire.api.lookups import found
from quire.api.metadata import metadata_merged
from quire.clauses.services import clause_heads_for
from quire.documents.models import Chunk, Document, DocumentStatus, metered_page_count
from quire.documents.redaction import Redactor
from quire.documents.selectors import page_map
from quire.documents.services import (
    documents_files_delete,
    documents_folder_delete,
    documents_held,
    documents_purge_before,
)
from quire.heartbeat import PutOffBeat, TenantHeartbeat
from quire.jobs.events import job_canceled, job_finished, usage_thresholds_reached
from quire.jobs.models import (
    MAX_CORRECTION_CHARS,
    TERMINAL,
    CellCorrection,
    Job,
    JobResult,
    JobStatus,
    ReviewRow,
)
from quire.queueing import marked_requeue, task_send_or_mark, unseen_requeue
from quire.webhooks.services import events_purge_before
from tenants.audit import audit_record
from tenants.models import Tenant
from tenants.services import tenant_erase, tenant_lock

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.5
# How often a running attempt's lease keeper reads whether the job is still its own (canceled, taken over).
CANCEL_POLL_S = 1.0
JOB_RUN_TASK = "quire.jobs.job_run_task"
CONTEXT_POLICY = "context_policy"
QUESTION_TOKENS = 300
JOBS_REQUEUE_STALLED_TASK = "quire.jobs.jobs_requeue_stalled_task"
RETENTION_APPLY_TASK = "quire.jobs.retention_apply_task"
STALLED_SWEEP_BATCH = 200
TIMED_OUT = "timed_out"
RETRIEVAL_CONNECTORS = ("review", "ask")


class JobRejected(Refusal):
    """A job request that cannot run."""


class JobCanceled(Exception):
    pass


class JobTimedOut(Exception):
    pass


class JobPutOff(Exception):
    """The job's tenant entered maintenance while the job ran: the attempt stopped and the job is queued again."""


class LeaseHeld(Exception):
    def __init__(self, seconds_left: float):
        super().__init__(f"another worker holds the job for {seconds_left:.0f}s more")
        self.seconds_left = seconds_left


def _documents_ready(document_ids: list[str]) -> None:
    """Refuse a document of `document_ids` that is missing or not ready."""
    found = dict(Document.objects.filter(pk__in=document_ids).values_list("pk", "status"))
    for position, document_id in enumerate(document_ids):
        if document_id not in found:
            raise JobRejected(
                ErrorCode.RESOURCE_MISSING, f"No document {document_id}.", f"documents.{position}"
            )
        if found[document_id] != DocumentStatus.READY:
            raise JobRejected(
                ErrorCode.DOCUMENT_NOT_READY,
                f"Document {document_id} is {found[document_id]}; jobs need ready documents.",
                f"documents.{position}",
            )


WITHIN_REACH = "2026-12-08"
"""The API version from which a job over a document longer than the connectors read (`MAX_DOCUMENT_CHARS`) is
refused when it is created (400 `document_too_long`); before it the job was queued and failed."""


def _documents_within_reach(document_ids: list[str]) -> None:
    """Refuse a document of `document_ids` longer than a connector reads, naming its place."""
    from connectors.base import MAX_DOCUMENT_CHARS

    lengths = dict(
        Document.objects.filter(pk__in=document_ids)
        .annotate(chars=Coalesce("text_chars", Length("text")))
        .values_list("pk", "chars")
    )
    for position, document_id in enumerate(document_ids):
        if (lengths.get(document_id) or 0) > MAX_DOCUMENT_CHARS:
            raise JobRejected(
                ErrorCode.DOCUMENT_TOO_LONG,
                f"Document {document_id} has {lengths[document_id]:,} characters; a connector reads at most "
                f"{MAX_DOCUMENT_CHARS:,}: split it into parts.",
                f"documents.{position}",
            )


def _documents_once(document_ids: list[str]) -> None:
    """Refuse a document `document_ids` lists again, naming its second place."""
    first: dict[str, int] = {}
    for position, document_id in enumerate(document_ids):
        if document_id in first:
            raise JobRejected(
                ErrorCode.DUPLICATE_DOCUMENTS,
                f"Document {document_id} is listed twice (documents.{first[document_id]} and "
                f"documents.{position}).",
                f"documents.{position}",
            )
        first[document_id] = position


def job_create(
    *,
    tenant: Tenant,
    connector: str,
    document_ids: list[str],
    options: dict,
    mode: str,
    metadata: Mapping[str, str] | None = None,
    refuse_too_long: bool = True,
) -> Job:
    """Queue a run of `connector` over the tenant's documents, in their order, with `metadata`.

    Refuses metadata that `metadata_merged` refuses and (JobRejected, or billing's QuotaExceeded) an
    unknown connector, an empty or repeated document
    list, a document that is missing or not ready or (`refuse_too_long`: API versions from WITHIN_REACH, and
    the portal) longer than a connector reads, options the connector rejects, and a job the plan does
    not allow. The quota check and the insert happen under the tenant's row lock, so concurrent requests
    cannot overrun a hard quota together: each counts the pages that queued and running jobs hold. The
    run is queued when the transaction commits."""
    from connectors import CONNECTORS, get_connector

    metadata = metadata_merged({}, metadata or {})
    if connector not in CONNECTORS:
        raise JobRejected(
            ErrorCode.UNKNOWN_CONNECTOR,
            f"Unknown connector {connector!r}; known: {', '.join(sorted(CONNECTORS))}.",
            "connector",
        )
    if not document_ids:
        raise JobRejected(ErrorCode.DOCUMENTS_REQUIRED, "A job needs at least one document.", "documents")
    _documents_once(document_ids)
    _documents_ready(document_ids)
    if refuse_too_long:
        _documents_within_reach(document_ids)
    connector_options = {k: v for k, v in options.items() if k != CONTEXT_POLICY}
    try:
        checked = get_connector(connector).validate_options(connector_options)
    except ValueError as exc:
        raise JobRejected(ErrorCode.INVALID_OPTIONS, str(exc), getattr(exc, "param", "options")) from exc
    clause_heads_for(get_connector(connector).clause_types(checked))
    _check_context_policy(tenant, connector, options.get(CONTEXT_POLICY, "auto"), document_ids, mode=mode)
    if checked.get("extends"):
        _extended_review(checked["extends"])
    with transaction.atomic():
        tenant_lock(tenant)
        # Held (`documents_held`) and read again: a delete waits for the job to be recorded, and a job created
        # after a delete committed finds the document gone.
        documents_held(ids=document_ids)
        _documents_ready(document_ids)
        unfinished = list(
            Job.objects.exclude(status__in=TERMINAL).values_list("connector", "document_ids", "options")
        )
        planned = _planned_usage([(connector, document_ids, options), *unfinished])
        reserved: dict[str, int] = {}
        for quantities in planned[1:]:
            for kind, quantity in quantities.items():
                reserved[kind] = reserved.get(kind, 0) + quantity
        job_allowed(tenant=tenant, connector=connector, quantities=planned[0], reserved=reserved)
        job = Job.objects.create(
            connector=connector, document_ids=document_ids, options=options, mode=mode, metadata=metadata
        )
        audit_record(
            tenant=tenant,
            action="job.create",
            object_type="job",
            object_id=job.pk,
            details={"connector": connector, "documents": document_ids, "mode": mode},
        )
    transaction.on_commit(partial(_run_send, job.id))
    return job


def _run_send(job_id: str) -> None:
    """Queue a committed job's run. A broker that cannot take the task does not fail the request that
    created the job: the job is marked, and `jobs_requeue_stalled` queues it once the broker is back."""
    task_send_or_mark(JOB_RUN_TASK, job_id, marked=Job.objects.all(), flag="run_unqueued", sweep="stalled")


def _check_context_policy(
    tenant: Tenant, connector: str, policy: object, document_ids: list[str], *, mode: str
) -> None:
    """Refuse (400) a context policy that is unknown or, for a job a model reads, that cannot hold for one of
    the documents (an analyzers job is planned nothing: `_run_claimed`)."""
    from inference.context import ContextRefused, check_policy

    param = f"options.{CONTEXT_POLICY}"
    try:
        check_policy(policy)
        if policy == "whole" and mode == "model":
            documents = Document.objects.filter(pk__in=document_ids).only("pk", "text")
            plan_job_context(
                list(documents),
                connector=connector,
                policy="whole",
                plan_context_cap=entitlements_for(tenant).max_context_tokens,
            )
    except ContextRefused as exc:
        raise JobRejected(ErrorCode.INVALID_OPTIONS, f"{exc}.", param) from exc
    except ValueError as exc:
        raise JobRejected(ErrorCode.INVALID_OPTIONS, str(exc), param) from exc


def _extended_review(job_id: str) -> Job:
    """The succeeded review a new review extends (its unchanged cells are reused, not run again)."""
    earlier = Job.objects.filter(pk=job_id, connector="review", status=JobStatus.SUCCEEDED).first()
    if earlier is None:
        raise JobRejected(
            ErrorCode.INVALID_OPTIONS, f"No succeeded review job {job_id} to extend.", "options.extends"
        )
    return earlier


def _planned_usage(jobs: list[tuple[str, list[str], dict]]) -> list[dict[str, int]]:
    """What each `(connector, document ids, options)` job will record against the quotas, by the rule that
    meters it (`job_usage_quantities`): its documents' pages, or a review's cells. Two queries in all."""
    wanted = {d for _, ids, _ in jobs for d in ids}
    rows = Document.objects.filter(pk__in=wanted).values_list(
        "pk", "content_type", "page_starts", Length("text")
    )
    sizes = {
        pk: (metered_page_count(content_type=kind, page_count=len(starts or [])), chars)
        for pk, kind, starts, chars in rows
    }
    priors = _extended_outputs({options.get("extends") for name, _, options in jobs if name == "review"})
    planned = []
    for name, ids, options in jobs:
        cells = _planned_review_cells(ids, options, priors) if name == "review" else None
        planned.append(
            {
                kind: quantity
                for kind, quantity in job_usage_quantities(
                    documents=[sizes[d] for d in ids if d in sizes], review_cells=cells
                ).items()
                if kind in (UsageKind.PAGES, UsageKind.REVIEW_CELLS)
            }
        )
    return planned


def _extended_outputs(job_ids: set[str | None]) -> dict[str, dict]:
    job_ids.discard(None)
    if not job_ids:
        return {}
    return dict(JobResult.objects.filter(job_id__in=job_ids).values_list("job_id", "output"))


def _planned_review_cells(document_ids: list[str], options: dict, priors: dict[str, dict]) -> int:
    """A review's cells: its documents times its columns, less the cells of the review it extends that the
    connector will reuse (`reused_cells`)."""
    from connectors import get_connector

    review = get_connector("review")
    try:
        checked = review.validate_options({k: v for k, v in options.items() if k != CONTEXT_POLICY})
    except ValueError:
        return 0
    prior = priors.get(checked["extends"]) if checked["extends"] else None
    try:
        heads = clause_heads_for(review.clause_types(checked)) if prior else {}
    except Refusal:
        heads = {}
    wanted = set(document_ids)
    reused = sum(
        1 for document_id, _ in reused_cells(prior, checked["columns"], heads) if document_id in wanted
    )
    return review_cells(documents=len(document_ids), columns=len(checked["columns"]), reused=reused)


def reused_cells(prior: dict | None, columns: list[dict], heads: Mapping) -> dict[tuple[str, str], dict]:
    """The cells of the earlier review `prior` that a review of `columns` reuses, by (document, key), as the
    review connector decides it: its column unchanged (a clause column's head version included), and none when
    the weights behind the earlier cells changed since."""
    from connectors.review.connector import reusable_cells, stale_models, with_head_version

    if not prior or stale_models(prior):
        return {}
    return reusable_cells(prior, [with_head_version(column, heads) for column in columns])


def job_update(*, job: Job, metadata: Mapping[str, str] | None = None) -> Job:
    """Merge `metadata` into the job's (an empty string deletes a key), under a row lock; a job in any
    status may be updated. Refuses what `metadata_merged` refuses, and a job deleted meanwhile (404)."""
    with transaction.atomic():
        job = found(Job.objects.select_for_update(), job.pk, noun="job", param="job_id")
        if metadata is not None:
            job.metadata = metadata_merged(job.metadata, metadata)
            job.save(update_fields=["metadata"])
    return job


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued or running job (a running attempt's lease keeper notices within CANCEL_POLL_S, and the run
    stops before its next model call or progress report, storing nothing). Refuses a job that has already
    finished, and a job deleted meanwhile (404)."""
    with transaction.atomic():
        job = found(Job.objects.select_for_update(), job.pk, noun="job", param="job_id")
        if job.status in TERMINAL:
            raise JobRejected(ErrorCode.JOB_NOT_CANCELABLE, f"Job {job.id} has already {job.status}.")
        job.status, job.stage, job.finished_at = JobStatus.CANCELED, "canceled", timezone.now()
        job.save(update_fields=["status", "stage", "finished_at"])
        ReviewRow.objects.filter(job=job).delete()
        audit_record(action="job.cancel", object_type="job", object_id=job.pk)
        job_canceled(job=job)
    return job


def _lease() -> timedelta:
    return timedelta(seconds=settings.QUIRE_JOB_LEASE_SECONDS)


def _claim(job_id: str, time_limit: float | None) -> Job | None:
    """Take the job for this attempt; None when it is finished, when the attempt it takes over started
    `time_limit` seconds ago or more (its process was killed at the hard time limit: it is failed `timed_out`),
    or when QUIRE_JOB_MAX_ATTEMPTS attempts have started already, not counting those stopped for maintenance (it
    is failed then, `worker_lost`). Raises
    LeaseHeld if a live worker has it: the lease is fresh and its process is not known to have died (a pool
    process of this host killed mid-job, whose task the broker redelivers at once, is taken over without
    waiting for the lease to lapse)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status in TERMINAL:
            return None
        now = timezone.now()
        if job.status == JobStatus.RUNNING and job.lease_until and job.lease_until > now:
            if not process_gone(job.lease_owner):
                raise LeaseHeld((job.lease_until - now).total_seconds())
            logger.warning(
                "job %s: attempt %s's process %s is gone; taken over", job_id, job.attempt, job.lease_owner
            )
        if job.status == JobStatus.RUNNING and _past_time_limit(job, time_limit, now):
            _mark_failed(job, TIMED_OUT, _timed_out_message(time_limit))
            return None
        counted = job.attempt - job.maintenance_stops
        if counted >= settings.QUIRE_JOB_MAX_ATTEMPTS:
            _mark_failed(
                job,
                "worker_lost",
                f"the job did not finish in {counted} attempts: the worker process ended during each "
                "(a crash or its memory limit)",
            )
            return None
        job.status, job.attempt, job.lease_until = JobStatus.RUNNING, job.attempt + 1, now + _lease()
        job.lease_owner, job.attempt_started_at = process_identity(), now
        job.started_at = job.started_at or now
        job.stage = "starting" if job.attempt == 1 else f"restarting (attempt {job.attempt})"
        job.save(
            update_fields=[
                "status",
                "attempt",
                "lease_until",
                "lease_owner",
                "attempt_started_at",
                "started_at",
                "stage",
            ]
        )
        return job


def _past_time_limit(job: Job, time_limit: float | None, now: datetime) -> bool:
    """Whether the job's current attempt ran `time_limit` seconds or more: from its claim to the end of the
    lease it kept renewing (to now while the lease runs), so an attempt that crashed early and was found late
    (beat down a while) has not."""
    if not time_limit or job.attempt_started_at is None:
        return False
    ran_until = min(now, job.lease_until) if job.lease_until else now
    return (ran_until - job.attempt_started_at).total_seconds() >= time_limit


def job_seen(*, job_id: str) -> None:
    """A worker has the job's run task in hand: while the job is queued, its message is not lost."""
    Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(queued_seen_at=timezone.now())


def jobs_requeue_stalled(*, limit: int = STALLED_SWEEP_BATCH) -> int:
    """Put back in the queue each running job whose lease has lapsed (its worker process died, or was killed at
    QUIRE_JOB_TIME_LIMIT: a run stuck in one step fails `timed_out` at QUIRE_JOB_SOFT_TIME_LIMIT): it becomes
    `queued` again, without a lease, and a run is queued on commit. The next `_claim` takes it with a new
    attempt, so the old attempt can neither renew its lease nor save a result, and a queued copy that
    arrives later (the broker's redelivery of the original task, another sweep's) finds the job leased or
    finished. A re-queued job is not picked again until a new attempt has claimed it and lost its lease
    in turn. A job whose lost attempt kept its lease for QUIRE_JOB_SOFT_TIME_LIMIT or more (its process was
    killed at the hard time limit) fails `timed_out` instead of starting again. A queued job whose run the
    broker refused (`run_unqueued`) is queued too, and so is one no worker has had in hand for
    QUIRE_JOB_QUEUED_LOST_SECONDS (`queued_seen_at`, else its creation): its message was lost. Returns how
    many jobs were re-queued (in the current tenant's schema)."""
    queued = Job.objects.filter(status=JobStatus.QUEUED)
    lost = unseen_requeue(queued, flag="run_unqueued", send=_run_send, limit=limit)
    unqueued = marked_requeue(queued, flag="run_unqueued", send=_run_send, limit=limit)
    time_limit = settings.QUIRE_JOB_SOFT_TIME_LIMIT
    requeued = 0
    with transaction.atomic():
        now = timezone.now()
        stalled = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.RUNNING, lease_until__lt=now)
            .order_by("lease_until")[:limit]
        )
        for job in stalled:
            if _past_time_limit(job, time_limit, now):
                logger.warning("job %s: attempt %s lost its lease past its time limit", job.pk, job.attempt)
                _mark_failed(job, TIMED_OUT, _timed_out_message(time_limit))
                continue
            Job.objects.filter(pk=job.pk).update(
                status=JobStatus.QUEUED,
                lease_until=None,
                stage=f"requeued (attempt {job.attempt} stalled)",
                queued_seen_at=now,
            )
            logger.warning("job %s: attempt %s lost its lease; queued again", job.pk, job.attempt)
            transaction.on_commit(partial(_run_send, job.pk))
            requeued += 1
    return unqueued + lost + requeued


def _lease_keeper(job: Job, tenant: Tenant) -> TenantHeartbeat:
    """Renews the running attempt's lease every third of its length, whatever the connector is doing, and reads
    between renewals whether the job is still this attempt's and whether its tenant is in maintenance; `lost`
    tells when it was canceled or taken over, or put back in the queue for the maintenance (`released`)."""
    interval = min(CANCEL_POLL_S, settings.QUIRE_JOB_LEASE_SECONDS / 3)
    beat = PutOffBeat(
        tenant,
        renew=partial(_renew, job),
        put_off=partial(_put_off, job),
        renew_every=settings.QUIRE_JOB_LEASE_SECONDS / 3,
        held=lambda: _running(job).exists(),
    )
    return TenantHeartbeat(f"lease-{job.pk}", tenant, interval, beat)


def _running(job: Job):
    return Job.objects.filter(pk=job.pk, attempt=job.attempt, status=JobStatus.RUNNING)


def _renew(job: Job, **fields) -> bool:
    return bool(_running(job).update(lease_until=timezone.now() + _lease(), **fields))


def _put_off(job: Job) -> bool:
    """Queue the job again, without a lease, when this attempt still runs it; whether it did."""
    return bool(
        _running(job).update(
            status=JobStatus.QUEUED,
            lease_until=None,
            stage=f"requeued (attempt {job.attempt} stopped for maintenance)",
            queued_seen_at=timezone.now(),
            maintenance_stops=F("maintenance_stops") + 1,
        )
    )


@dataclass
class _ProgressReporter:
    """The run's progress reports, and its `cancel_check`: JobCanceled once the lease keeper has lost the job,
    JobTimedOut past `deadline` (monotonic seconds). The job's progress never goes back: not when the run's
    start reports less than the loading before it, nor when an attempt that takes the job over starts again."""

    job: Job
    keeper: TenantHeartbeat | None = None
    deadline: float | None = None
    last: float = field(default=0.0)

    def check(self) -> None:
        if self.keeper is not None and self.keeper.lost.is_set():
            raise JobCanceled(self.job.pk)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise JobTimedOut(self.job.pk)

    def __call__(self, fraction: float, stage: str) -> None:
        self.check()
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S and fraction < 1.0:
            return
        self.last = now
        progress = Greatest(F("progress"), max(0.0, min(0.99, float(fraction))))
        if not _renew(self.job, progress=progress, stage=stage[:80]):
            raise JobCanceled(self.job.pk)


@dataclass
class _ReviewRows:
    """Stores each row of a running review as the connector hands it over: its spans verified (and given
    pages and boxes) the way the result's will be, one upsert per document, while this attempt still runs
    the job."""

    job: Job
    documents: dict[str, Document]
    check: Callable[[], None]

    def __call__(self, index: int, row: dict) -> None:
        from connectors import get_connector
        from connectors.spans import place_spans, verify

        document = self.documents[row["document_id"]]
        verified = verify({"rows": [row]}, {document.id: document.text}, policy="drop").output
        place_spans(verified, {document.id: page_map(document)})
        cells = get_connector("review").settle(verified)["rows"][0]["cells"]
        with transaction.atomic():
            running = Job.objects.select_for_update().filter(
                pk=self.job.pk, status=JobStatus.RUNNING, attempt=self.job.attempt
            )
            if running.values_list("pk", flat=True).first() is None or not documents_held(ids=[document.id]):
                return
            self.check()
            ReviewRow.objects.bulk_create(
                [
                    ReviewRow(
                        job=self.job,
                        index=index,
                        document_id=document.id,
                        cells=cells,
                        attempt=self.job.attempt,
                    )
                ],
                update_conflicts=True,
                unique_fields=["job", "index"],
                update_fields=["document_id", "cells", "attempt"],
            )


def plan_job_context(
    documents: list[Document],
    *,
    connector: str,
    policy: str = "auto",
    plan_context_cap: int | None = None,
) -> dict:
    """How the job reads each document within the model window and the plan's context cap: whole (dense or
    block-sparse attention), by retrieval, or in sections then reduced (for connectors that read all of the
    text), and why. `policy` may ask for one strategy; `whole` that cannot hold raises ContextRefused. A
    document's tokens are those of its whole reading (`connectors.model.whole_reading`: the system prompt and
    the text with its paragraph markers), and a map-reduce section's are those of the prefix its part sends
    (`connectors.model.section_readings`: header and markers, which dense paragraphs make many of)."""
    from connectors import get_connector
    from connectors.model import section_readings, whole_reading
    from inference.context import decide_context, sections

    reads_all_text = get_connector(connector).reads_all_text
    planned: dict[str, dict] = {}
    for document in documents:
        read_tokens = estimated_tokens(whole_reading(document.pk, document.text))
        decision = decide_context(
            document_tokens=read_tokens,
            model_window=settings.QUIRE_MODEL_WINDOW,
            plan_context_cap=plan_context_cap,
            reserved_output_tokens=settings.QUIRE_RESERVED_OUTPUT_TOKENS,
            sparse_from=settings.QUIRE_SPARSE_FROM,
            prompt_tokens=QUESTION_TOKENS,
            policy=policy,
            reads_all_text=reads_all_text,
            rag_tokens=settings.QUIRE_RAG_TOKENS,
        )
        plan = {
            "strategy": decision.strategy,
            "reason": decision.reason,
            "token_budget": decision.token_budget,
            "document_tokens": read_tokens,
            "fits": decision.fits,
            "window_budget": decision.window_budget,
            "output_tokens": settings.QUIRE_RESERVED_OUTPUT_TOKENS,
        }
        if decision.strategy == "map_reduce":
            reading = section_readings(document.pk, document.text)
            cut = sections(
                document.text,
                token_budget=decision.token_budget,
                size=lambda start, end, reading=reading: estimated_tokens(reading(start, end)),
            )
            plan["sections"] = [list(s) for s in cut]
        planned[document.pk] = plan
    return {"policy": policy, "documents": planned}


def _retrieve(document_id: str, question: str, token_budget: int) -> list[dict]:
    from quire.documents.selectors import question_chunks

    return question_chunks(document_id=document_id, question=question, token_budget=token_budget)


def context_costed(record: dict, plan: dict, prices: tuple[float, float, float], *, currency: str) -> dict:
    """`record` (the connector's) with each model-read document's estimated cost at the plan's token prices,
    in its currency, and what the other feasible strategy would have cost for as many questions (`questions`,
    not `calls`: a map-reduce reading makes a call per question and section, and reduce calls; a retrieval
    alternative gets what `decide_context` gives a rag reading, the window's budget up to `QUIRE_RAG_TOKENS`); a
    document read only in passages shown beside other documents' (`shared_calls` equal to `calls`) has no other
    strategy of its own."""
    from inference.context import TokenPrices, predicted_usage

    pricing = TokenPrices(*prices, currency=currency)
    documents = []
    for entry in record.get("documents", []):
        entry = dict(entry)
        planned = plan["documents"].get(entry["document_id"], {})
        if entry["strategy"] != "analyzers":
            entry["estimated_cost"] = pricing.cost(
                tokens_in=entry["tokens_in"],
                cached_tokens=entry["cached_tokens"],
                tokens_out=entry["tokens_out"],
            )
        if entry["strategy"] != "analyzers" and entry.get("shared_calls", 0) < entry["calls"]:
            fits = planned.get("fits", entry["strategy"] == "whole")
            other = "rag" if entry["strategy"] != "rag" else ("whole" if fits else "map_reduce")
            budget = planned.get("window_budget", 1)
            retrieval = min(budget, settings.QUIRE_RAG_TOKENS) if settings.QUIRE_RAG_TOKENS else budget
            predicted = predicted_usage(
                other,
                document_tokens=planned.get("document_tokens", 0),
                questions=entry.get("questions", entry["calls"]),
                token_budget=retrieval if other == "rag" else budget,
            )
            predicted.pop("calls")
            entry["alternative"] = {"strategy": other, "estimated_cost": pricing.cost(**predicted)}
        documents.append(entry)
    return {**record, "documents": documents}


def job_run(*, tenant: Tenant, job_id: str, time_limit: float | None = None) -> Job:
    """Run the job's connector and save its verified result and usage (the connection is in the tenant's
    schema). A second delivery of a finished job does nothing; a job whose worker died is taken over once
    its lease has run out (LeaseHeld until then). An error no rule expected fails this attempt only: one
    another attempt took over meanwhile is left to that attempt. A run that reaches `time_limit` seconds (the
    task's soft time limit) fails `timed_out`: stopped by its own check a little before it (between model calls
    and progress reports), or by the limit's signal, whose SoftTimeLimitExceeded is raised again once the job is
    failed. A canceled run stops and stores nothing; so does a run whose tenant enters maintenance (a restore
    is to swap its schema), noticed within CANCEL_POLL_S, whose job is queued again (JobPutOff)."""
    started = time.monotonic()
    job = _claim(job_id, time_limit)
    if job is None:
        return Job.objects.get(pk=job_id)
    deadline = started + _own_deadline(time_limit) if time_limit else None
    keeper = _lease_keeper(job, tenant)
    try:
        with keeper:
            return _run_claimed(job, tenant, _ProgressReporter(job, keeper, deadline))
    except JobCanceled:
        if keeper.beat.released:
            raise JobPutOff(job_id) from None
        return Job.objects.get(pk=job_id)
    except (JobTimedOut, SoftTimeLimitExceeded) as stopped:
        logger.warning("job %s attempt %s stopped at its %s s time limit", job_id, job.attempt, time_limit)
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        failed = _finish_failed(job, TIMED_OUT, _timed_out_message(time_limit))
        if isinstance(stopped, SoftTimeLimitExceeded):
            raise
        return failed
    except Exception as exc:
        logger.exception("job %s attempt %s failed", job_id, job.attempt)
        return _finish_failed(
            job, "internal_error", f"internal error while running the job: {type(exc).__name__}"
        )


def _timed_out_message(time_limit: float | None) -> str:
    limit = time_limit or settings.QUIRE_JOB_SOFT_TIME_LIMIT
    return f"the job ran longer than its {limit:g} s limit (QUIRE_JOB_SOFT_TIME_LIMIT)"


def _own_deadline(time_limit: float) -> float:
    """Seconds the run gives itself: its checks stop it a little before the soft time limit, whose signal raises
    wherever the process happens to be."""
    return time_limit - min(30.0, 0.2 * time_limit)


def _run_claimed(job: Job, tenant: Tenant, report: _ProgressReporter) -> Job:
    from connectors import Document as ConnectorDocument
    from connectors import get_connector, run_connector
    from connectors.spans import Verification, place_spans, verify
    from inference.client import InferenceClient

    try:
        report(0.01, "loading documents")
        documents = list(Document.objects.filter(pk__in=job.document_ids))
        by_id = {d.id: d for d in documents}
        ordered = [by_id[d] for d in job.document_ids if d in by_id]
        if len(ordered) != len(job.document_ids):
            raise ValueError("a document of this job was deleted before it ran")
        entitled = entitlements_for(tenant)
        client = InferenceClient.from_env() if job.mode == "model" else None
        policy = job.options.get(CONTEXT_POLICY, "auto")
        plan = (
            plan_job_context(
                ordered, connector=job.connector, policy=policy, plan_context_cap=entitled.max_context_tokens
            )
            if client is not None
            else {"policy": policy, "documents": {}}
        )
        retrieval = _chunks_of(job.document_ids) if job.connector in RETRIEVAL_CONNECTORS else {}
        prior = _prior_output(job)
        connector_options = {k: v for k, v in job.options.items() if k != CONTEXT_POLICY}
        connector = get_connector(job.connector)
        named = connector.clause_types(connector.validate_options(dict(connector_options)))
        connector_verified: list[Verification] = []
        output = run_connector(
            job.connector,
            [
                ConnectorDocument(
                    d.id,
                    d.text,
                    _kind(d),
                    {
                        "filename": d.filename,
                        "period": d.metadata.get("period", ""),
                        "tables": d.tables or [],
                        **retrieval.get(d.id, {}),
                    },
                )
                for d in ordered
            ],
            options=connector_options,
            mode=job.mode,
            client=client,
            progress=report,
            context=plan,
            retrieve=_retrieve,
            prior=prior,
            clause_heads=clause_heads_for(named),
            on_row=_ReviewRows(job, by_id, report.check) if job.connector == "review" else None,
            cancel_check=report.check,
            on_verified=connector_verified.append,
        )
        output["context"] = context_costed(
            output["context"], plan, entitled.token_prices, currency=entitled.currency
        )
        report(0.99, "verifying spans")
        verified = verify(output, {d.id: d.text for d in ordered}, policy="drop")
        verified.repaired += sum(v.repaired for v in connector_verified)
        place_spans(verified.output, {d.id: page_map(d) for d in ordered})
        get_connector(job.connector).settle(verified.output)
    except (ValueError, Refusal) as exc:
        return _finish_failed(job, "invalid_input", str(exc))
    read = output["context"]["documents"]
    usage = job_usage_quantities(
        documents=[(d.metered_page_count, d.char_count) for d in ordered],
        tokens_in=sum(d["tokens_in"] for d in read),
        cached_tokens=sum(d["cached_tokens"] for d in read),
        tokens_out=sum(d["tokens_out"] for d in read),
        review_cells=_metered_review_cells(verified.output) if job.connector == "review" else None,
    )
    return _finish_succeeded(
        job,
        tenant,
        verified,
        output["context"],
        usage,
        carried_from=(prior or {}).get("job_id"),
        texts={d.id: d.text for d in ordered},
        check=report.check,
    )


def _metered_review_cells(output: dict) -> int:
    cells = output.get("cells") or {}
    return review_cells(
        documents=len(output.get("rows") or []),
        columns=len(output.get("columns") or []),
        reused=cells.get("reused", 0),
    )


def _chunks_of(document_ids: list[str]) -> dict[str, dict]:
    """Each document's embedded chunks, as the offsets and the matrix of their vectors (one query)."""
    import numpy

    rows: dict[str, list] = {}
    for document_id, start, end, vector in (
        Chunk.objects.filter(document_id__in=document_ids)
        .order_by("document_id", "index")
        .values_list("document_id", "start", "end", "embedding")
        .iterator(chunk_size=2000)
    ):
        rows.setdefault(document_id, []).append((start, end, vector))
    return {
        document_id: {
            "chunks": [(start, end) for start, end, _ in chunks],
            "vectors": numpy.asarray([vector for _, _, vector in chunks], dtype=numpy.float32),
        }
        for document_id, chunks in rows.items()
    }


def _prior_output(job: Job) -> dict | None:
    """The result a review extends, with its job id; None for other jobs."""
    extends = job.options.get("extends") if job.connector == "review" else None
    if not extends:
        return None
    result = JobResult.objects.filter(job_id=extends).first()
    return None if result is None else {**result.output, "job_id": extends}


def _kind(document: Document) -> str:
    return "transcript" if document.content_type == "application/json" else "text"


def _finish_succeeded(
    job: Job,
    tenant: Tenant,
    verified,
    context: dict,
    usage: dict[str, int],
    carried_from: str | None = None,
    texts: Mapping[str, str] | None = None,
    check: Callable[[], None] | None = None,
) -> Job:
    """Store the result and mark the job succeeded, unless it was canceled or taken over meanwhile, or `check`
    raises once the job's row is locked (the attempt's lease keeper lost the job: the row may be a restored
    schema's, running the same attempt). The job's
    documents are locked while the result is written: a document deleted while the job read it (`texts`, what
    the job read) is redacted out of the result here, and one being deleted now waits and redacts the stored
    result itself (`job_results_redact`)."""
    with transaction.atomic():
        current = Job.objects.select_for_update().get(pk=job.pk)
        if current.status != JobStatus.RUNNING or current.attempt != job.attempt:
            return current
        if check is not None:
            check()
        if not Tenant.objects.filter(pk=tenant.pk, is_active=True).exists():
            _mark_failed(
                current,
                "workspace_inactive",
                "the workspace was deactivated while the job ran; no result or usage was recorded",
                announce=False,
            )
            return current
        present = documents_held(ids=current.document_ids)
        output = verified.output
        gone = [d for d in dict.fromkeys(current.document_ids) if d not in present]
        if gone:
            output = Redactor(texts={d: (texts or {}).get(d, "") for d in gone})(output)
        result = JobResult.objects.create(
            job=current,
            output=output,
            context=context,
            spans_checked=verified.checked,
            spans_repaired=verified.repaired,
            findings_dropped=verified.dropped,
            attempt=job.attempt,
        )
        usage_record(tenant=tenant, job_id=current.pk, quantities=usage)
        if carried_from:
            _carry_corrections(carried_from, current, verified.output)
        ReviewRow.objects.filter(job=current).delete()
        current.status, current.stage, current.progress = JobStatus.SUCCEEDED, "succeeded", 1.0
        current.finished_at, current.lease_until = timezone.now(), None
        current.save(update_fields=["status", "stage", "progress", "finished_at", "lease_until"])
        job_finished(job=current, result=result, usage=usage)
        usage_thresholds_reached(thresholds=usage_thresholds_record(tenant=tenant, quantities=usage))
    return current


def _finish_failed(job: Job, code: str, message: str) -> Job:
    with transaction.atomic():
        current = Job.objects.select_for_update().get(pk=job.pk)
        if current.status != JobStatus.RUNNING or current.attempt != job.attempt:
            return current
        _mark_failed(current, code, message)
    return current


def _mark_failed(job: Job, code: str, message: str, *, announce: bool = True) -> None:
    """Fail `job`, whose row the caller holds locked, and (`announce`) publish `job.failed`."""
    ReviewRow.objects.filter(job=job).delete()
    job.status, job.stage = JobStatus.FAILED, "failed"
    job.error = {"code": code, "message": message[:2000]}
    job.finished_at, job.lease_until = timezone.now(), None
    job.save(update_fields=["status", "stage", "error", "finished_at", "lease_until"])
    if announce:
        job_finished(job=job)


def job_results_redact(*, document_ids: list[str], redactor: Redactor, **_signal) -> int:
    """Redact the documents' quotes and the warnings naming them from the results of the jobs that read them,
    each result read and written once for all of them, and delete the reviewers' corrections of their cells
    (`documents_delete`, through `document_erasing`); returns how many results changed. The results and their
    jobs are locked before the corrections go, in the order a cell correction and a retention purge take them
    (`jobs_purge_before`)."""
    reading = Q()
    for document_id in document_ids:
        reading |= Q(job__document_ids__contains=[document_id])
    results = list(
        JobResult.objects.select_for_update()
        .filter(reading)
        .annotate(read=F("job__document_ids"))
        .order_by("job_id")
    )
    ReviewRow.objects.filter(document_id__in=document_ids).delete()
    CellCorrection.objects.filter(document_id__in=document_ids).delete()
    changed = 0
    for result in results:
        output = redactor(result.output, among=result.read)
        if output != result.output:
            JobResult.objects.filter(pk=result.pk).update(output=output)
            changed += 1
    return changed


def jobs_purge_before(*, cutoff: datetime) -> int:
    """Delete the finished jobs created before `cutoff` with their results and corrections, but a review that a
    queued or running review extends (it reuses its cells; a later run purges it); returns how many.
    Their rows are locked (in id order) before anything of theirs goes, the order a cell correction and a
    document's delete take them in (document, job, then the job's corrections): a correction that meets the
    purge waits for it and finds its job gone, and one that came first is deleted with the job."""
    with transaction.atomic():
        extended = (
            Job.objects.exclude(status__in=TERMINAL)
            .filter(connector="review", options__has_key="extends")
            .values_list("options__extends", flat=True)
        )
        ids = list(
            Job.objects.select_for_update()
            .filter(created_at__lt=cutoff, status__in=TERMINAL)
            .exclude(pk__in=list(extended))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        _, by_model = Job.objects.filter(pk__in=ids).delete()
    return by_model.get(Job._meta.label, 0)


def _documents_unfinished_jobs_read() -> set[str]:
    """The documents a queued or running job reads."""
    reading = Job.objects.exclude(status__in=TERMINAL).values_list("document_ids", flat=True)
    return {document_id for document_ids in reading for document_id in document_ids}


def retention_apply(
    *, tenant: Tenant, now: datetime | None = None, deadline: float | None = None
) -> dict[str, int]:
    """Purge what is older than the tenant's retention period (`Tenant.retention_days`; none: keep all):
    finished jobs with their results, documents (as `document_delete` does, a batch at a time, none started
    past `deadline`, a `time.monotonic()`: the next run goes on with the rest; none that a queued or running
    job reads, which a run after the job has ended purges), webhook events with their
    deliveries. Runs in the tenant's schema; returns how many of each went, and logs how many documents past
    the period are left."""
    if not tenant.retention_days:
        return {}
    cutoff = (now or timezone.now()) - timedelta(days=tenant.retention_days)
    jobs = jobs_purge_before(cutoff=cutoff)
    documents, left = documents_purge_before(
        cutoff=cutoff, deadline=deadline, in_use=_documents_unfinished_jobs_read
    )
    purged = {
        "jobs": jobs,
        "documents": documents,
        "events": events_purge_before(cutoff=cutoff),
    }
    if any(purged.values()) or left:
        logger.info(
            "retention of %s days purged %s; %d documents past it left for the next run",
            tenant.retention_days,
            purged,
            left,
        )
    return purged


def workspace_erase(*, tenant: Tenant) -> dict | None:
    """Remove the tenant entirely: its stored files, what it owes billed (`stripe_account_settle`, whose final
    invoice it returns), its billing rows, its Stripe customer, then
    (`tenant_erase`) its schema, audit log, API keys, members, host names and the tenant itself. The tenant is
    made inactive first, so its keys and portal stop taking uploads while the files go, and its unfinished jobs
    are canceled, so none records usage once the billing rows are gone (one finishing now is waited for, and a
    job the tenant's inactivity did not stop records nothing: `_finish_succeeded`); the schema's folder of
    stored files is emptied last, of what an upload in flight stored meanwhile. A Stripe call that fails stops
    the erasure before anything in PostgreSQL goes, and the billing rows go in the transaction that drops the
    schema and writes the `workspace.erase` event, so a run stopped anywhere is finished by running it again,
    and the event counts every document and usage row the runs erased."""
    from django_tenants.utils import tenant_context

    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    with tenant_context(tenant):
        _jobs_cancel_unfinished()
        files = documents_files_delete()
    final_invoice = stripe_account_settle(tenant=tenant)
    stripe_customer = stripe_customer_erase(tenant=tenant)
    schema = tenant.schema_name
    with transaction.atomic():
        usage_rows = billing_erase(tenant=tenant)
        tenant_erase(
            tenant=tenant,
            erased={
                "documents": files,
                "usage_events": usage_rows,
                "stripe_customer_deleted": stripe_customer,
                "final_invoice": final_invoice,
            },
        )
    documents_folder_delete(schema_name=schema)
    return final_invoice


def _jobs_cancel_unfinished() -> None:
    """Cancel every queued or running job of the current schema under its row lock, announcing nothing (the
    workspace is being erased): an attempt still running finds its job canceled and stores nothing."""
    with transaction.atomic():
        unfinished = list(
            Job.objects.select_for_update().exclude(status__in=TERMINAL).values_list("pk", flat=True)
        )
        ReviewRow.objects.filter(job_id__in=unfinished).delete()
        Job.objects.filter(pk__in=unfinished).update(
            status=JobStatus.CANCELED, stage="canceled", finished_at=timezone.now(), lease_until=None
        )


def _carry_corrections(source_id: str, job: Job, output: dict) -> None:
    """Copy the reviewer's corrections of an extended review onto the cells the new review reused: a column the
    connector took over unchanged, the cell as it was but for its status (which the new review's confidence floor
    decides again). A cell computed again (its question, type or head changed, or the weights behind it) starts
    without the old cell's correction. The output's columns carry their head versions already
    (`with_head_version`)."""
    prior = JobResult.objects.filter(job_id=source_id).values_list("output", flat=True).first()
    earlier = reused_cells(prior, output.get("columns") or [], {})
    if not earlier:
        return
    kept = {
        (row["document_id"], key)
        for row in output.get("rows") or []
        for key, cell in row["cells"].items()
        if (row["document_id"], key) in earlier
        and _but_status(earlier[row["document_id"], key]) == _but_status(cell)
    }
    CellCorrection.objects.bulk_create(
        [
            CellCorrection(
                job=job,
                document_id=c.document_id,
                key=c.key,
                corrected=c.corrected,
                corrected_value=c.corrected_value,
                verified=c.verified,
                by=c.by,
                at=c.at,
            )
            for c in CellCorrection.objects.filter(job_id=source_id)
            if (c.document_id, c.key) in kept
        ]
    )


def _but_status(cell: dict) -> dict:
    return {name: value for name, value in cell.items() if name != "status"}


_UNSET = object()


def cell_correct(
    *, job: Job, document_id: str, key: str, by: str, corrected_value: object = _UNSET, verified: bool = False
) -> CellCorrection:
    """Record a reviewer's correction of one cell of a succeeded review (or mark it verified as it stands),
    with who and when; a later word on the same cell replaces the earlier one. The cell itself is kept. A deleted
    document's cells take none (400): the document's row is held while the correction is written, so a delete
    that meets it waits and deletes it as it deletes the others (`job_results_redact`). So is the job's row, so a
    job deleted meanwhile (a retention purge) is a 404, and one deleted after takes the correction with it."""
    found = JobResult.objects.review_row(job_id=job.pk, document_id=document_id)
    if job.connector != "review" or found is None:
        raise JobRejected(ErrorCode.RESULT_NOT_READY, f"Job {job.pk} is not a finished review.", "job_id")
    row = found["row"]
    if row is None:
        raise JobRejected(ErrorCode.INVALID_PARAMETER, f"No row for document {document_id}.", "document")
    if key not in row["cells"]:
        raise JobRejected(ErrorCode.INVALID_PARAMETER, f"No column {key!r} in this review.", "key")
    if corrected_value is _UNSET and not verified:
        raise JobRejected(
            ErrorCode.INVALID_PARAMETER, "Give a corrected value, or verified: true.", "corrected_value"
        )
    if (
        corrected_value is not _UNSET
        and len(json.dumps(corrected_value, ensure_ascii=False)) > MAX_CORRECTION_CHARS
    ):
        raise JobRejected(
            ErrorCode.INVALID_PARAMETER,
            f"A corrected value is at most {MAX_CORRECTION_CHARS:,} characters written as JSON.",
            "corrected_value",
        )
    with transaction.atomic():
        if not documents_held(ids=[document_id]):
            raise JobRejected(
                ErrorCode.INVALID_PARAMETER,
                f"Document {document_id} was deleted; its cells take no corrections.",
                "document",
            )
        if not Job.objects.select_for_update().filter(pk=job.pk).exists():
            raise JobRejected(ErrorCode.RESOURCE_MISSING, f"No job {job.pk}.", "job_id")
        correction, _ = CellCorrection.objects.update_or_create(
            job=job,
            document_id=document_id,
            key=key,
            defaults={
                "corrected": corrected_value is not _UNSET,
                "corrected_value": None if corrected_value is _UNSET else corrected_value,
                "verified": verified or corrected_value is not _UNSET,
                "by": by,
                "at": timezone.now(),
            },
        )
    return correction
