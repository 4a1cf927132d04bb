"""Writes for custom clause types: create, add examples (and train again), delete, and the training itself
(the worker's side); `clause_heads_for`, the heads a job names, for `job_create` and `job_run`."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from common.processes import process_gone, process_identity
from common.refusals import ErrorCode, Refusal
from quire.api.lookups import found
from quire.clauses.events import clause_type_trained
from quire.clauses.models import ClauseType, ClauseTypeStatus
from quire.documents.models import Document, DocumentStatus
from quire.documents.services import documents_held
from quire.heartbeat import PutOffBeat, TenantHeartbeat
from quire.queueing import marked_requeue, stale_requeue, task_send_or_mark, unseen_requeue
from tenants.audit import audit_record
from tenants.models import Tenant
from tenants.services import tenant_room_check

if TYPE_CHECKING:
    from connectors.legal.custom import Passages

logger = logging.getLogger(__name__)
CLAUSE_TYPE_TRAIN_TASK = "quire.clauses.clause_type_train_task"
OWN_NEGATIVES = 2000
REQUEUE_BATCH = 500
MAINTENANCE_POLL_S = 1.0
MAX_NAME_CHARS = 120
MAX_DESCRIPTION_CHARS = 2000
# Clause types a workspace may have: each holds a trained head that legal jobs and review columns load.
MAX_CLAUSE_TYPES = 200


class ClauseTypeRejected(Refusal):
    """A custom clause type request that cannot be carried out."""


def _checked(check, *args, **kwargs):
    from connectors.legal.custom import HeadError

    try:
        return check(*args, **kwargs)
    except HeadError as exc:
        message = str(exc)
        raise ClauseTypeRejected(
            ErrorCode.INVALID_PARAMETER, f"{message[:1].upper()}{message[1:]}.", exc.param
        ) from exc


def _text(value: object, param: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise ClauseTypeRejected(ErrorCode.INVALID_PARAMETER, f"{param} must be non-empty text.", param)
    if len(value) > limit:
        raise ClauseTypeRejected(
            ErrorCode.INVALID_PARAMETER, f"{param} is at most {limit} characters.", param
        )
    return value.strip()


def _refuse_both_ways(positives: list[str], negatives: list[str]) -> None:
    """Refuse (400, naming the counter-example) a passage given both as an example and a counter-example."""
    both = set(positives) & set(negatives)
    if both:
        index = next(i for i, passage in enumerate(negatives) if passage in both)
        raise ClauseTypeRejected(
            ErrorCode.INVALID_PARAMETER,
            "A passage cannot be both an example and a counter-example.",
            f"counter_examples.{index}",
        )


def clause_type_create(
    *,
    tenant: Tenant,
    key: str,
    name: str,
    examples: Sequence[str],
    counter_examples: Sequence[str] = (),
    description: str = "",
) -> ClauseType:
    """Store a new clause type with at least `MIN_EXAMPLES` example passages (and optional counter-examples)
    and queue its training. Refuses (400, naming the param) a bad or taken key, an empty name, too few
    examples, and an empty or overlong passage, and (409) a workspace that has `MAX_CLAUSE_TYPES` already,
    counted under the tenant's lock."""
    from connectors.legal.custom import MIN_EXAMPLES, check_examples, check_key

    key = _checked(check_key, key)
    name = _text(name, "name", MAX_NAME_CHARS, required=True)
    description = _text(description, "description", MAX_DESCRIPTION_CHARS, required=False)
    positives = _checked(check_examples, list(examples), "examples", minimum=MIN_EXAMPLES)
    negatives = _checked(check_examples, list(counter_examples), "counter_examples")
    _refuse_both_ways(positives, negatives)
    positives, negatives = list(dict.fromkeys(positives)), list(dict.fromkeys(negatives))
    if ClauseType.objects.filter(key=key).exists():
        raise ClauseTypeRejected(ErrorCode.INVALID_PARAMETER, f"A clause type {key!r} already exists.", "key")
    try:
        with transaction.atomic():
            tenant_room_check(
                tenant=tenant,
                rows=ClauseType.objects.all(),
                most=MAX_CLAUSE_TYPES,
                noun="clause types",
                refusal=ClauseTypeRejected,
            )
            clause_type = ClauseType.objects.create(
                key=key, name=name, description=description, examples=positives, counter_examples=negatives
            )
            audit_record(
                tenant=tenant,
                action="clause_type.create",
                object_type="clause_type",
                object_id=clause_type.pk,
                details={"key": key, "examples": len(positives), "counter_examples": len(negatives)},
            )
    except IntegrityError as exc:
        raise ClauseTypeRejected(
            ErrorCode.INVALID_PARAMETER, f"A clause type {key!r} already exists.", "key"
        ) from exc
    _queue_training(clause_type)
    return clause_type


def clause_type_examples_add(
    *,
    tenant: Tenant,
    clause_type: ClauseType,
    examples: Sequence[str] = (),
    counter_examples: Sequence[str] = (),
) -> ClauseType:
    """Add example passages and counter-examples to a clause type and train it again; jobs keep using the
    previous head until the new one is ready. The last answer on a passage wins: one already stored the same
    way is not stored twice, and one stored the other way round moves. When nothing changes, nothing trains,
    unless the last training failed: then it trains again.
    Refuses nothing to add, bad passages, a passage given both ways, and answers that would leave fewer than
    `MIN_EXAMPLES` different examples (`distinct_count`) or more than `MAX_EXAMPLES` of either kind (400); a clause type deleted meanwhile is
    a 404."""
    from connectors.legal.custom import MAX_EXAMPLES, MIN_EXAMPLES, check_examples, distinct_count, folded

    checked = _checked(check_examples, list(examples), "examples")
    checked_counter = _checked(check_examples, list(counter_examples), "counter_examples")
    _refuse_both_ways(checked, checked_counter)
    positives, negatives = list(dict.fromkeys(checked)), list(dict.fromkeys(checked_counter))
    if not positives and not negatives:
        raise ClauseTypeRejected(
            ErrorCode.INVALID_PARAMETER, "Give examples or counter_examples to add.", "examples"
        )
    with transaction.atomic():
        clause_type = found(
            ClauseType.objects.select_for_update(), clause_type.pk, noun="clause type", param="clause_type_id"
        )
        stored_examples = [folded(p) for p in clause_type.examples]
        stored_counter = [folded(p) for p in clause_type.counter_examples]
        kept_examples = [p for p in stored_examples if p not in negatives]
        kept_counter = [p for p in stored_counter if p not in positives]
        added_examples = [p for p in positives if p not in stored_examples]
        added_counter = [p for p in negatives if p not in stored_counter]
        if not added_examples and not added_counter and clause_type.status != ClauseTypeStatus.FAILED:
            return clause_type
        new_examples, new_counter = kept_examples + added_examples, kept_counter + added_counter
        different = distinct_count(new_examples)
        if different < MIN_EXAMPLES:
            raise ClauseTypeRejected(
                ErrorCode.INVALID_PARAMETER,
                f"A clause type needs at least {MIN_EXAMPLES} different examples; these answers would leave "
                f"{different}.",
                "counter_examples",
            )
        for param, passages in (("examples", new_examples), ("counter_examples", new_counter)):
            if len(passages) > MAX_EXAMPLES:
                raise ClauseTypeRejected(
                    ErrorCode.INVALID_PARAMETER, f"A clause type holds at most {MAX_EXAMPLES} {param}.", param
                )
        clause_type.examples, clause_type.counter_examples = new_examples, new_counter
        clause_type.version += 1
        clause_type.status, clause_type.failure_reason = ClauseTypeStatus.QUEUED, ""
        clause_type.queued_seen_at, clause_type.train_attempts = timezone.now(), 0
        clause_type.save(
            update_fields=[
                "examples",
                "counter_examples",
                "version",
                "status",
                "failure_reason",
                "queued_seen_at",
                "train_attempts",
            ]
        )
        audit_record(
            tenant=tenant,
            action="clause_type.train",
            object_type="clause_type",
            object_id=clause_type.pk,
            details={
                "examples_added": len(added_examples),
                "counter_examples_added": len(added_counter),
                "moved": len(stored_examples) - len(kept_examples) + len(stored_counter) - len(kept_counter),
            },
        )
    _queue_training(clause_type)
    return clause_type


def clause_type_delete(*, tenant: Tenant, clause_type: ClauseType) -> None:
    """Delete a clause type and its head; jobs already finished keep their findings. One deleted meanwhile (two
    deletes at once) is gone already: nothing more is recorded."""
    with transaction.atomic():
        deleted, _ = ClauseType.objects.filter(pk=clause_type.pk).delete()
        if not deleted:
            return
        audit_record(
            tenant=tenant,
            action="clause_type.delete",
            object_type="clause_type",
            object_id=clause_type.pk,
            details={"key": clause_type.key},
        )


def _queue_training(clause_type: ClauseType) -> None:
    transaction.on_commit(functools.partial(_train_send, clause_type.pk))


def _train_send(clause_type_id: str) -> None:
    task_send_or_mark(
        CLAUSE_TYPE_TRAIN_TASK,
        clause_type_id,
        marked=ClauseType.objects.all(),
        flag="train_unqueued",
        sweep="clause type training",
    )


def clause_type_seen(*, clause_type_id: str) -> None:
    """A worker has the type's training task in hand: while the type is queued, its message is not lost."""
    ClauseType.objects.filter(pk=clause_type_id, status=ClauseTypeStatus.QUEUED).update(
        queued_seen_at=timezone.now()
    )


def clause_types_requeue(*, limit: int = REQUEUE_BATCH) -> int:
    """Queue the trainings the broker could not take when they were asked for, again those no worker has had
    in hand for QUIRE_JOB_QUEUED_LOST_SECONDS (their message was lost), and those left in training without a
    heartbeat for QUIRE_JOB_LEASE_SECONDS (their worker died), in the current tenant's schema; returns how
    many."""
    queued = ClauseType.objects.filter(status=ClauseTypeStatus.QUEUED)
    lost = unseen_requeue(queued, flag="train_unqueued", send=_train_send, limit=limit)
    unqueued = marked_requeue(queued, flag="train_unqueued", send=_train_send, limit=limit)
    stuck = stale_requeue(
        ClauseType.objects.filter(status=ClauseTypeStatus.TRAINING),
        heartbeat="train_heartbeat_at",
        stale_after=_lease(),
        waiting={"status": ClauseTypeStatus.QUEUED},
        send=_train_send,
        limit=limit,
        what="training",
    )
    return lost + unqueued + stuck


def _lease() -> timedelta:
    return timedelta(seconds=settings.QUIRE_JOB_LEASE_SECONDS)


def _claim(clause_type_id: str, owner: str) -> ClauseType | None:
    """Start this worker's training of the clause type, under its row lock: None when it is gone, trained,
    failed, or being trained by a live worker (in training, its heartbeat fresh, its process not known to have
    ended); a type whose trainings of this version started QUIRE_JOB_MAX_ATTEMPTS times already fails."""
    with transaction.atomic():
        clause_type = ClauseType.objects.select_for_update().filter(pk=clause_type_id).first()
        if clause_type is None or clause_type.status in (ClauseTypeStatus.READY, ClauseTypeStatus.FAILED):
            return None
        if clause_type.status == ClauseTypeStatus.TRAINING:
            beat = clause_type.train_heartbeat_at
            if (
                beat is not None
                and beat > timezone.now() - _lease()
                and not process_gone(clause_type.train_owner)
            ):
                return None
            logger.warning(
                "training of clause type %s taken over from %s", clause_type_id, clause_type.train_owner
            )
        if clause_type.train_attempts >= settings.QUIRE_JOB_MAX_ATTEMPTS:
            _fail_locked(
                clause_type,
                f"training did not finish in {clause_type.train_attempts} attempts: the worker process ended "
                "during each (a crash, its memory limit or its time limit)",
            )
            return None
        clause_type.status, clause_type.train_owner = ClauseTypeStatus.TRAINING, owner
        clause_type.train_heartbeat_at, clause_type.train_attempts = (
            timezone.now(),
            clause_type.train_attempts + 1,
        )
        clause_type.save(update_fields=["status", "train_owner", "train_heartbeat_at", "train_attempts"])
        return clause_type


class TrainingPutOff(Exception):
    """The clause type's tenant entered maintenance while it was being trained: the training stopped and the type
    is queued again."""


class _TrainingLost(Exception):
    pass


def _training_put_off(clause_type_id: str, owner: str) -> bool:
    """Queue the type again, unclaimed and with this attempt uncounted, when this worker still trains it;
    whether it did."""
    return bool(
        ClauseType.objects.filter(
            pk=clause_type_id, status=ClauseTypeStatus.TRAINING, train_owner=owner
        ).update(
            status=ClauseTypeStatus.QUEUED,
            train_owner="",
            train_heartbeat_at=None,
            train_attempts=Greatest(F("train_attempts") - 1, 0),
            queued_seen_at=timezone.now(),
        )
    )


def _training_alive(clause_type_id: str, owner: str) -> bool:
    """Renew the heartbeat of this worker's training; False once the training is no longer its own."""
    return bool(
        ClauseType.objects.filter(
            pk=clause_type_id, status=ClauseTypeStatus.TRAINING, train_owner=owner
        ).update(train_heartbeat_at=timezone.now())
    )


def clause_type_train(
    *, tenant: Tenant, clause_type_id: str, deadline: float | None = None
) -> ClauseType | None:
    """Train the head of the clause type's current version (the connection is in the tenant's schema): embed
    the examples with the bundled encoder (a long one passage by passage, `example_vectors`), take as negatives the counter-examples, and the bundled generic
    contract paragraphs and the tenant's own passages that are not near an example, and store the weights with the
    cross-validated precision and recall and the near misses among those own passages. The training is claimed
    and kept alive by a heartbeat (`_claim`); one still running at `deadline` (a `time.monotonic()` value) fails
    the type, its reason naming QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT. Returns None when the type is gone, trained,
    failed or being trained by another live worker, or when more examples arrive meanwhile (their training
    wins). A training whose tenant enters maintenance (a restore is to swap its schema), noticed within
    MAINTENANCE_POLL_S, stores nothing at its next check (between embedding, training and storing), leaves the
    type `queued` and raises TrainingPutOff."""
    owner = process_identity()
    clause_type = _claim(clause_type_id, owner)
    if clause_type is None:
        return None
    interval = settings.QUIRE_JOB_LEASE_SECONDS / 3
    beat = PutOffBeat(
        tenant,
        renew=functools.partial(_training_alive, clause_type_id, owner),
        put_off=functools.partial(_training_put_off, clause_type_id, owner),
        renew_every=interval,
    )
    keeper = TenantHeartbeat(
        f"clause-training-{clause_type_id}", tenant, min(MAINTENANCE_POLL_S, interval), beat
    )
    try:
        with keeper:
            return _train(clause_type, owner, deadline, keeper)
    except _TrainingLost:
        if beat.released:
            logger.info("training clause type %s stopped: its tenant entered maintenance", clause_type_id)
            raise TrainingPutOff(clause_type_id) from None
        return None


def _train(
    clause_type: ClauseType, owner: str, deadline: float | None, keeper: TenantHeartbeat
) -> ClauseType | None:
    from connectors.legal.custom import (
        ClauseHead,
        HeadError,
        Passages,
        TrainingTooLong,
        example_vectors,
        near_misses,
        negatives_from,
        train_head,
    )
    from inference.embeddings import embed_texts

    def past_deadline() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def check() -> None:
        if keeper.lost.is_set():
            raise _TrainingLost()

    clause_type_id, version = clause_type.pk, clause_type.version
    try:
        positives = Passages(clause_type.examples, example_vectors(clause_type.examples, embed_texts))
        counter = clause_type.counter_examples
        own, places = _own_passages()
        negatives = Passages.joined(
            negatives_from(_generic_passages(), positives),
            Passages(counter, example_vectors(counter, embed_texts) if counter else positives.vectors[:0]),
            negatives_from(own, positives),
        )
        check()
        if past_deadline():
            raise TrainingTooLong()
        trained = train_head(positives, negatives, deadline=deadline)
        check()
        head = ClauseHead.from_json(clause_type.key, clause_type.name, trained.weights)
        to_check = [
            {**places[index], "score": score}
            for index, score in near_misses(head, own, [*clause_type.examples, *counter])
        ]
    except HeadError as exc:
        return _training_failed(clause_type_id, version, str(exc), owner=owner)
    except _TrainingLost:
        raise
    except Exception as exc:
        if isinstance(exc, TrainingTooLong) or past_deadline():
            logger.warning("training clause type %s v%s stopped at its time limit", clause_type_id, version)
            return _training_failed(clause_type_id, version, _too_long(), owner=owner)
        logger.exception("training clause type %s v%s failed", clause_type_id, version)
        return _training_failed(
            clause_type_id, version, f"internal error while training: {type(exc).__name__}", owner=owner
        )
    with transaction.atomic():
        current = ClauseType.objects.select_for_update().filter(pk=clause_type_id).first()
        if current is None or current.version != version or current.train_owner != owner:
            return None
        check()
        present = documents_held(ids={miss["document"] for miss in to_check})
        to_check = [miss for miss in to_check if miss["document"] in present]
        current.head = {**trained.weights, "version": version}
        current.precision, current.recall = trained.precision, trained.recall
        current.negative_count, current.trained_at = trained.negatives, timezone.now()
        current.near_misses = to_check
        current.status, current.failure_reason = ClauseTypeStatus.READY, ""
        current.save(
            update_fields=[
                "head",
                "precision",
                "recall",
                "negative_count",
                "near_misses",
                "trained_at",
                "status",
                "failure_reason",
            ]
        )
        clause_type_trained(clause_type=current)
    logger.info(
        "clause type %s v%s: precision %.3f recall %.3f",
        current.key,
        version,
        trained.precision,
        trained.recall,
    )
    return current


def _too_long() -> str:
    limit = settings.QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT
    return (
        f"training took longer than its {limit} s limit (QUIRE_CLAUSE_TRAIN_SOFT_TIME_LIMIT): fewer or shorter "
        "examples train faster"
    )


@functools.cache
def _generic_passages():
    """The bundled generic contract paragraphs with their vectors, embedded once per process."""
    from connectors.legal.custom import GENERIC_PARAGRAPHS, Passages
    from inference.embeddings import embed_texts

    return Passages(list(GENERIC_PARAGRAPHS), embed_texts(list(GENERIC_PARAGRAPHS)))


def _own_passages() -> tuple[Passages, list[dict]]:
    """The tenant's own paragraphs (negatives, and the near misses to ask about): the passages a head scores at
    run time (`connectors.legal.custom.passages`) of its most recent ready documents, up to `OWN_NEGATIVES`,
    embedded by the full encoder as the examples are, with each passage's document, offsets and text."""
    from connectors.legal.custom import Passages
    from inference.embeddings import embed_texts, int8_is_faster

    places = list(islice(_recent_passages(), OWN_NEGATIVES))
    texts = [place["text"] for place in places]
    return Passages(texts, embed_texts(texts, quantized=int8_is_faster())), places


def _recent_passages() -> Iterator[dict]:
    from connectors.legal.custom import passages

    documents = Document.objects.filter(status=DocumentStatus.READY).order_by("-created_at", "-pk")
    for document_id, text in documents.values_list("id", "text").iterator(chunk_size=20):
        for start, end in passages(text):
            yield {"document": document_id, "start": start, "end": end, "text": text[start:end]}


def _training_failed(
    clause_type_id: str, version: int | None, reason: str, *, owner: str | None = None
) -> ClauseType | None:
    """Mark the training of `version` failed; with None, whichever version is training (not one queued
    after it). With `owner`, a training another worker has taken over since is left to it."""
    with transaction.atomic():
        current = ClauseType.objects.select_for_update().filter(pk=clause_type_id).first()
        if current is None or (
            current.version != version if version is not None else current.status != ClauseTypeStatus.TRAINING
        ):
            return None
        if owner is not None and current.train_owner != owner:
            return None
        _fail_locked(current, reason)
    return current


def _fail_locked(clause_type: ClauseType, reason: str) -> None:
    """Mark the clause type (its row locked) failed with `reason` and publish `clause_type.failed`."""
    clause_type.status, clause_type.failure_reason = ClauseTypeStatus.FAILED, reason[:2000]
    clause_type.save(update_fields=["status", "failure_reason"])
    clause_type_trained(clause_type=clause_type)


def clause_type_fail_unexpectedly(*, clause_type_id: str, exc: BaseException) -> None:
    _training_failed(clause_type_id, None, f"internal error while training: {type(exc).__name__}")


def clause_types_forget(*, document_ids: list[str], **_signal) -> int:
    """Drop the documents' passages from the clause types' near misses (`documents_delete`, through
    `document_erasing`); returns how many types changed. Examples and counter-examples stay: a member taught
    them, and they are the type's own."""
    naming = Q()
    for document_id in document_ids:
        naming |= Q(near_misses__contains=[{"document": document_id}])
    gone = set(document_ids)
    changed = 0
    for clause_type in ClauseType.objects.select_for_update().filter(naming):
        clause_type.near_misses = [m for m in clause_type.near_misses if m.get("document") not in gone]
        clause_type.save(update_fields=["near_misses"])
        changed += 1
    return changed


def clause_heads_for(named: Iterable[tuple[str, str]]) -> dict:
    """The trained heads of the clause types `named` as (key, param) pairs, by key. Refuses (400, naming the
    param) a key this tenant has no clause type for and one whose head is not ready."""
    from connectors.legal.custom import ClauseHead

    named = list(named)
    if not named:
        return {}
    found = {c.key: c for c in ClauseType.objects.filter(key__in=[key for key, _ in named])}
    heads = {}
    for key, param in named:
        clause_type = found.get(key)
        if clause_type is None:
            raise ClauseTypeRejected(ErrorCode.INVALID_OPTIONS, f"No custom clause type {key!r}.", param)
        if clause_type.head is None:
            raise ClauseTypeRejected(
                ErrorCode.INVALID_OPTIONS,
                f"Custom clause type {key!r} is {clause_type.status}; it has no trained head yet.",
                param,
            )
        heads[key] = ClauseHead.from_json(
            key, clause_type.name, clause_type.head, clause_type_id=clause_type.pk
        )
    return heads
