"""A ready clause type written straight into a tenant's schema, for tests of what reads one (no training)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def clause_type_row(tenant, key: str, **fields) -> Iterator:
    """A `ready` ClauseType `key` in `tenant`'s schema (name "Force Majeure" unless given), deleted afterwards."""
    from django_tenants.utils import tenant_context

    from quire.clauses.models import ClauseType, ClauseTypeStatus

    fields = {"name": "Force Majeure", "status": ClauseTypeStatus.READY, **fields}
    with tenant_context(tenant):
        created = ClauseType.objects.create(key=key, **fields)
    try:
        yield created
    finally:
        with tenant_context(tenant):
            ClauseType.objects.filter(pk=created.pk).delete()


def review_that_ran(
    owner, filename: str, text: str, columns: list[dict], answers: dict[str, tuple[str, float] | None]
) -> tuple[str, str]:
    """A succeeded review over one stored document holding `text`, in `owner.tenant`'s schema, with `columns` as
    its options; each column's cell answers with its `answers` passage at that confidence, or is not found.
    Returns the job's and the document's ids."""
    from django_tenants.utils import tenant_context

    from quire.jobs.models import Job
    from tests.support.portal import job_with_result

    def cell(document_id: str, answer: tuple[str, float] | None) -> dict:
        if answer is None:
            return {"value": None, "spans": [], "confidence": 0.0, "status": "not_found"}
        passage, confidence = answer
        start = text.index(passage)
        span = {"document_id": document_id, "start": start, "end": start + len(passage), "quote": passage}
        return {"value": passage, "spans": [span], "confidence": confidence, "status": "answered"}

    def output(document_id: str) -> dict:
        cells = {column["key"]: cell(document_id, answers.get(column["key"])) for column in columns}
        return {"columns": columns, "rows": [{"document_id": document_id, "cells": cells}]}

    job_id = job_with_result(owner, connector="review", filename=filename, text=text, output=output)
    with tenant_context(owner.tenant):
        Job.objects.filter(pk=job_id).update(options={"columns": columns})
        return job_id, Job.objects.get(pk=job_id).document_ids[0]
