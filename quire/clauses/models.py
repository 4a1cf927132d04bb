from __future__ import annotations

from functools import partial

from django.db import models
from django.db.models import Func

from tenants.identifiers import new_id

ADVICE_BELOW = 0.5


class ClauseTypeStatus(models.TextChoices):
    QUEUED = "queued"
    TRAINING = "training"
    READY = "ready"
    FAILED = "failed"


class ClauseTypeQuerySet(models.QuerySet):
    def listed(self, *, near_misses: bool = False) -> ClauseTypeQuerySet:
        """Without the passages and the trained head, which a list need not read (up to 500 passages of 5,000
        characters each a type), nor the near misses unless asked; the passages' counts come from PostgreSQL
        (`listed_example_count`, `listed_counter_example_count`)."""
        left_out = ("examples", "counter_examples", "head") + (() if near_misses else ("near_misses",))
        return self.defer(*left_out).annotate(
            listed_example_count=Func(
                "examples", function="jsonb_array_length", output_field=models.IntegerField()
            ),
            listed_counter_example_count=Func(
                "counter_examples", function="jsonb_array_length", output_field=models.IntegerField()
            ),
        )


class ClauseType(models.Model):
    """A tenant's own clause type ("quick study"): its example passages and the head trained on them, in
    the tenant's schema. `version` counts trainings asked for, so a stale training never overwrites a
    newer one; `train_unqueued` marks a training the broker could not take, for the sweep to queue,
    `queued_seen_at` tells a training whose message was lost, and `train_owner` with `train_heartbeat_at`
    claim a running training, so a second worker leaves it alone and a dead worker's is trained again."""

    id = models.CharField(primary_key=True, max_length=40, default=partial(new_id, "cla"), editable=False)
    key = models.CharField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, default="")
    examples = models.JSONField(default=list)
    counter_examples = models.JSONField(default=list)
    status = models.CharField(
        max_length=16, choices=ClauseTypeStatus.choices, default=ClauseTypeStatus.QUEUED
    )
    failure_reason = models.TextField(blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    head = models.JSONField(null=True, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    negative_count = models.PositiveIntegerField(default=0)
    near_misses = models.JSONField(default=list, blank=True)
    train_unqueued = models.BooleanField(default=False)
    # When a worker last had this queued type's training task in hand, or its training was last asked for; a
    # queued type unseen for QUIRE_JOB_QUEUED_LOST_SECONDS has lost its message, and the requeue sweep sends one.
    queued_seen_at = models.DateTimeField(null=True, blank=True)
    # The worker process training the type (`process_identity`), its heartbeat, and how many trainings of this
    # version have started: a training whose heartbeat stopped is taken over, and past QUIRE_JOB_MAX_ATTEMPTS
    # the type fails instead.
    train_owner = models.CharField(max_length=120, blank=True, default="")
    train_heartbeat_at = models.DateTimeField(null=True, blank=True)
    train_attempts = models.PositiveIntegerField(default=0)
    trained_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ClauseTypeQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.key} {self.status}"

    @property
    def example_count(self) -> int:
        return len(self.examples)

    @property
    def counter_example_count(self) -> int:
        return len(self.counter_examples)

    @property
    def advice(self) -> str:
        """What to add when the cross-validated figures say the head is weak; empty when they do not."""
        if self.status != ClauseTypeStatus.READY or self.precision is None or self.recall is None:
            return ""
        if self.recall < ADVICE_BELOW:
            return (
                f"The head found {self.recall:.0%} of its held-out examples, so it will miss clauses worded "
                "unlike them: add examples worded as your contracts word this clause."
            )
        if self.precision < ADVICE_BELOW:
            return (
                f"Only {self.precision:.0%} of the passages the head took for this clause were examples: add "
                "counter-examples, the near misses from your own contracts."
            )
        return ""
