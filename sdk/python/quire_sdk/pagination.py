"""Cursor pages: `{"data": [...], "has_more": bool, "next_cursor": str | None}`, next page with `?cursor=`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a list. Iterating a page walks every item of this page and the pages after it, fetching
    them as it goes; `data` is this page only."""

    data: list[T]
    has_more: bool
    next_cursor: str | None
    _fetch: Callable[[str], Page[T]] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, body: dict, item: Callable[[dict], T], fetch: Callable[[str], Page[T]]) -> Page[T]:
        return cls(
            [item(row) for row in body.get("data") or []],
            bool(body.get("has_more")),
            body.get("next_cursor"),
            fetch,
        )

    def next_page(self) -> Page[T] | None:
        if not (self.has_more and self.next_cursor and self._fetch):
            return None
        return self._fetch(self.next_cursor)

    def pages(self) -> Iterator[Page[T]]:
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def __len__(self) -> int:
        return len(self.data)


def list_page(transport: Any, path: str, item: Callable[[dict], T], params: dict[str, Any]) -> Page[T]:
    """GET a list with `params` (from `params["cursor"]` when given); the page it returns fetches the next ones
    with the same parameters."""

    def fetch(cursor: str | None) -> Page[T]:
        body = transport.request("GET", path, params={**params, "cursor": cursor}).data
        return Page.parse(body, item, fetch)

    return fetch(params.get("cursor"))
