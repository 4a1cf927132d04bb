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
