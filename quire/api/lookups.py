"""One rule for every /v1 view: an id that names nothing in the workspace is a 404 `resource_missing` naming
the parameter that carried it; the rows whose text mentions any of a set of ids (`any_of`); and the documents
a stored row names (`document_ids_fill`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import transaction
from django.db.models import Model, QuerySet

from common.refusals import ErrorCode, Refusal
from tenants.identifiers import document_ids_in

M = TypeVar("M", bound=Model)


def found(objects: QuerySet[M], pk: str, *, noun: str, param: str) -> M:
    """The object `pk` of `objects` (a model's manager or a narrowed queryset), or the 404."""
    obj = objects.filter(pk=pk).first()
    if obj is None:
        raise Refusal(ErrorCode.RESOURCE_MISSING, f"No {noun} {pk}.", param)
    return obj


class FoundDetail:
    """For a generic detail view: `get_object` through `found`, naming the URL's `lookup_url_kwarg` and
    the view's `noun`, so a missing object is the same 404 as anywhere else."""

    noun: str

    def get_object(self):
        param = self.lookup_url_kwarg
        obj = found(self.get_queryset(), self.kwargs[param], noun=self.noun, param=param)
        self.check_object_permissions(self.request, obj)
        return obj


def any_of(ids: Iterable[str]) -> str:
    """A PostgreSQL regular expression (`__regex`) that matches a text holding any of `ids`, each literally: one
    scan of a table for a set of ids, where a `LIKE` each would read every row's text once an id."""
    return "|".join("".join(c if c.isalnum() or c == "_" else f"\\{c}" for c in i) for i in ids)


def document_ids_fill(rows: QuerySet, text_of: Callable[[Model], str], *, batch: int = 1000) -> None:
    """Set `document_ids` where it is null on `rows` (written before the column), to the documents
    `text_of(row)` names, a batch a transaction (the migrations that add the column)."""
    while page := list(rows.filter(document_ids__isnull=True).order_by("pk")[:batch]):
        for row in page:
            row.document_ids = document_ids_in(text_of(row))
        with transaction.atomic(using=rows.db):
            rows.bulk_update(page, ["document_ids"])
