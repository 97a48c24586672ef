"""OData-style paging for mock handlers (Microsoft Graph, the Exchange admin API).

A handler pages a list in one call::

    def list_users(request: MockRequest, state: ExchangeState) -> httpx.Response:
        page = odata.page(request, state.users_json(), default_size=100)
        return httpx.Response(200, json=page.body(**{"@odata.context": CONTEXT}))

The page size is the client's ``Prefer: odata.maxpagesize=N`` (capped at ``max_size``),
else ``default_size`` (``None``: everything in one page). A truncated page carries
``@odata.nextLink``: the request's own URL with a ``$skiptoken``. The link names no
method and carries no body, so a client may follow it by GET or by POSTing the same body
to it again (the Exchange admin API's ``InvokeCommand``); the handler pages the same
result either way. A skip token that was not made here is a :class:`MalformedRequest`
(the platform's 400).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mailadmin.mock.request import MalformedRequest, MockRequest

__all__ = [
    "SKIP_TOKEN",
    "Page",
    "max_page_size",
    "next_link",
    "page",
    "skip_of",
]

#: The query parameter carrying the position of the next page.
SKIP_TOKEN = "$skiptoken"

_MAXPAGESIZE = re.compile(r"(?:^|[,;])\s*odata\.maxpagesize\s*=\s*\"?(\d+)\"?", re.I)


@dataclass(frozen=True)
class Page:
    """One page of a list: ``value`` (its items), ``next_link`` (``None`` on the last
    page), ``skip`` (items before it) and ``total`` (items in the whole list)."""

    value: list[Any]
    next_link: str | None
    skip: int
    total: int

    def body(self, **annotations: Any) -> dict[str, Any]:
        """The page as an OData JSON body: the annotations given, ``value`` and, when more
        follow, ``@odata.nextLink``."""
        body: dict[str, Any] = {**annotations, "value": self.value}
        if self.next_link is not None:
            body["@odata.nextLink"] = self.next_link
        return body


def max_page_size(request: MockRequest) -> int | None:
    """The ``odata.maxpagesize`` the client asked for in ``Prefer`` (``None``: none)."""
    for value in request.headers.get_list("prefer"):
        found = _MAXPAGESIZE.search(value)
        if found is not None:
            size = int(found.group(1))
            return size if size > 0 else None
    return None


def skip_of(request: MockRequest) -> int:
    """How many items the request's skip token says to skip (0 without one)."""
    token = request.query.get(SKIP_TOKEN)
    if token is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        kind, _, number = decoded.decode("ascii").partition(":")
        skip = int(number)
    except (ValueError, binascii.Error, UnicodeError):
        skip = -1
        kind = ""
    if kind != "skip" or skip < 0:
        raise MalformedRequest("Expired or Invalid pagination request.")
    return skip


def next_link(request: MockRequest, skip: int) -> str:
    """The request's URL with a skip token for the page starting at item ``skip``."""
    token = base64.urlsafe_b64encode(f"skip:{skip}".encode("ascii")).decode().rstrip("=")
    url = httpx.URL(request.url)
    # Rebuilt by hand rather than through httpx.QueryParams, which would write the "$" as
    # "%24"; real services send "$skiptoken=" and clients compare links literally.
    kept = [
        part
        for part in url.query.decode("ascii").split("&")
        if part and httpx.QueryParams(part).keys() != {SKIP_TOKEN}
    ]
    query = "&".join([*kept, f"{SKIP_TOKEN}={token}"])
    return str(url.copy_with(query=query.encode("ascii")))


def page(
    request: MockRequest,
    items: Sequence[Any],
    *,
    default_size: int | None = None,
    max_size: int | None = None,
) -> Page:
    """The page of ``items`` the request asks for (see the module docs)."""
    skip = skip_of(request)
    size = max_page_size(request) or default_size
    if size is not None and max_size is not None:
        size = min(size, max_size)
    elif size is None:
        size = max_size
    end = len(items) if size is None else skip + size
    value = list(items[skip:end])
    more = end < len(items)
    return Page(
        value=value,
        next_link=next_link(request, end) if more else None,
        skip=skip,
        total=len(items),
    )
