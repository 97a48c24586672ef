"""Cursor paging of every list the HTTP API answers.

A list's body stays a JSON array; the page is described by headers, so a client that
reads the first page only keeps working:

- ``Link: <...?limit=N&cursor=C>; rel="next"`` (RFC 8288) when there is more;
- ``X-Has-More: true|false``;
- ``X-Total-Count: M`` where the total is known without reading everything again.

The cursor is opaque: the sort key of the last item sent, bound to the list it came from.
Each list is ordered by a unique key and the next page starts *after* that key (never at
an offset), so rows inserted while a client pages are neither repeated nor skip others.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query, Request
from starlette.responses import JSONResponse

from mailadmin.contract import errors

__all__ = [
    "PAGED",
    "Cursor",
    "Limit",
    "Page",
    "decode_cursor",
    "encode_cursor",
    "page_of",
    "paged_response",
]

T = TypeVar("T")

#: Sort keys are tuples of these (what survives a JSON round trip unchanged).
KeyPart = str | int

Limit = Annotated[
    int, Query(ge=1, le=1000, description="At most this many items on the page (1 to 1000).")
]
Cursor = Annotated[
    str | None,
    Query(
        max_length=1024,
        description='Where the page starts: the `cursor` of the `Link: rel="next"` header '
        "of the previous page (opaque).",
    ),
]

#: The OpenAPI description of a paged list's answer headers.
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page of the list (a JSON array); the headers say how to go on.",
        "headers": {
            "Link": {
                "description": 'The next page, `<URL>; rel="next"` (RFC 8288), while there is '
                "more; follow it as it is.",
                "schema": {"type": "string"},
            },
            "X-Has-More": {
                "description": "`true` when another page follows.",
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
            "X-Total-Count": {
                "description": "How many items the whole list holds, where known.",
                "schema": {"type": "integer"},
            },
        },
    }
}


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page: its ``items``, the cursor after the last (``next_cursor``, None at the
    end) and the list's ``total`` when known."""

    items: list[T]
    next_cursor: str | None
    total: int | None = None

    @property
    def has_more(self) -> bool:
        """True when another page follows."""
        return self.next_cursor is not None


def encode_cursor(scope: str, key: Sequence[KeyPart]) -> str:
    """The opaque cursor after ``key`` in the list ``scope``."""
    raw = json.dumps({"s": scope, "k": list(key)}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(scope: str, cursor: str) -> tuple[KeyPart, ...]:
    """The key ``cursor`` stands for; a cursor that is not one of ``scope``'s is refused."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        found = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        key = found["k"]
        good = found["s"] == scope and isinstance(key, list)
        good = good and all(isinstance(part, str | int) for part in key)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        good = False
    if not good:
        raise errors.ValidationError("cursor: not a cursor of this list; start again without one")
    return tuple(key)


def page_of(
    items: Sequence[T],
    key: Callable[[T], tuple[KeyPart, ...]],
    *,
    scope: str,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    """The page of an in-memory list ordered by ``key`` (unique per item), after ``cursor``."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        after = decode_cursor(scope, cursor)
        ordered = [item for item in ordered if _after(key(item), after)]
    shown = ordered[:limit]
    more = len(ordered) > limit
    return Page(
        items=shown,
        next_cursor=encode_cursor(scope, key(shown[-1])) if more else None,
        total=len(items),
    )


def _after(key: tuple[KeyPart, ...], after: tuple[KeyPart, ...]) -> bool:
    try:
        return key > after
    except TypeError:
        # A cursor of another shape (a stale client): compare as text, never fail.
        return tuple(map(str, key)) > tuple(map(str, after))


def paged_response(request: Request, page: Page[Any]) -> JSONResponse:
    """The JSON array of ``page`` with its paging headers."""
    from fastapi.encoders import jsonable_encoder

    headers = {"X-Has-More": "true" if page.has_more else "false"}
    if page.total is not None:
        headers["X-Total-Count"] = str(page.total)
    if page.next_cursor is not None:
        url = request.url.remove_query_params("cursor").include_query_params(
            cursor=page.next_cursor
        )
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return JSONResponse(jsonable_encoder(page.items), headers=headers)
