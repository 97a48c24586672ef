"""Paged reads as async iterators: one page in memory at a time, however long the list.

Next-link paging (OData, Microsoft Graph, the Exchange admin API)::

    async for page in next_link_pages(transport, "users", endpoint="graph", page_size=100):
        for user in page["value"]: ...

    # The Exchange admin API pages by POSTing the same body again to @odata.nextLink:
    async for page in next_link_pages(transport, f"adminapi/beta/{tenant}/InvokeCommand",
                                      method="POST", json=cmdlet, follow="repost", ...):

Offset paging (Zimbra ``SearchDirectoryRequest`` with ``limit`` and ``offset``)::

    async def fetch(offset: int, limit: int) -> OffsetPage[Account]: ...
    async for accounts in offset_pages(fetch, page_size=500): ...

:func:`items` flattens either kind into one item at a time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from mailadmin import errors

if TYPE_CHECKING:
    import httpx

    from mailadmin.wire.transport import Transport

__all__ = ["OffsetPage", "items", "next_link_pages", "odata_next_link", "offset_pages"]

T = TypeVar("T")


def odata_next_link(page: Any) -> str | None:
    """The ``@odata.nextLink`` of an OData page (or the older ``odata.nextLink``)."""
    if not isinstance(page, Mapping):
        return None
    link = page.get("@odata.nextLink", page.get("odata.nextLink"))
    return link if isinstance(link, str) and link else None


async def next_link_pages(
    transport: Transport,
    url: str,
    *,
    method: str = "GET",
    follow: Literal["get", "repost"] = "get",
    json: Any = None,
    content: bytes | None = None,
    params: Any = None,
    headers: Mapping[str, str] | None = None,
    endpoint: str | None = None,
    page_size: int | None = None,
    operation: str = "",
    next_link: Callable[[Any], str | None] = odata_next_link,
    read: Callable[[httpx.Response], Any] | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[Any]:
    """Yield each page of a next-link paged list, fetching the next only when asked.

    The first request is ``method url`` (relative to ``endpoint``) with ``params``,
    ``json`` or ``content`` and ``headers``. Each next link is absolute and followed as it
    is: by ``GET`` (``follow="get"``), or by sending the same method, headers and body to
    it again (``follow="repost"``). ``page_size`` asks for pages of that size with
    ``Prefer: odata.maxpagesize=N``. ``read(response)`` turns a response into a page
    (default: :func:`~mailadmin.wire.responses.raise_for_status`, then the JSON body);
    ``next_link(page)`` finds the link (default: ``@odata.nextLink``). Every request is a
    read: retried, and allowed during a dry run.

    Raises :class:`~mailadmin.errors.ProtocolError` when a next link repeats the
    previous one or ``max_pages`` is passed, so a broken server cannot loop forever.
    """
    send_headers = dict(headers or {})
    if page_size is not None:
        if page_size < 1:
            raise errors.ValidationError("page_size must be at least 1")
        send_headers.setdefault("Prefer", f"odata.maxpagesize={page_size}")
    reader = read or _json_page(transport)
    current: str | None = url
    current_method = method
    first = True
    pages = 0
    while current is not None:
        if max_pages is not None and pages >= max_pages:
            raise errors.ProtocolError(
                f"{transport.name} kept sending next links after {max_pages} pages"
            )
        reposting = first or follow == "repost"
        response = await transport.request(
            current_method,
            current,
            endpoint=endpoint,
            params=params if first else None,
            json=json if reposting else None,
            content=content if reposting else None,
            headers=send_headers,
            write=False,
            operation=operation,
        )
        page = reader(response)
        pages += 1
        link = next_link(page)
        yield page
        if link is not None and link == current:
            raise errors.ProtocolError(
                f"{transport.name} sent the same next link twice",
                debug={"link": transport.redact(link)},
            )
        current = link
        first = False
        if follow == "get":
            current_method = "GET"


@dataclass(frozen=True)
class OffsetPage(Generic[T]):
    """One page of an offset-paged list: ``items``, and ``more`` when the platform says
    whether more follow (``None``: a page shorter than asked for is the last)."""

    items: Sequence[T]
    more: bool | None = None


async def offset_pages(
    fetch: Callable[[int, int], Awaitable[OffsetPage[T] | Sequence[T]]],
    *,
    page_size: int,
    start: int = 0,
    max_pages: int | None = None,
) -> AsyncIterator[Sequence[T]]:
    """Yield the items of each page, calling ``fetch(offset, limit)`` only when asked.

    ``fetch`` returns an :class:`OffsetPage` or a plain sequence. Paging stops at a page
    with ``more=False``, a short page (when ``more`` is not given) or an empty page; a
    page claiming more but holding nothing raises
    :class:`~mailadmin.errors.ProtocolError` instead of asking forever.
    """
    if page_size < 1:
        raise errors.ValidationError("page_size must be at least 1")
    offset = start
    pages = 0
    while True:
        if max_pages is not None and pages >= max_pages:
            raise errors.ProtocolError(f"the platform kept saying more after {max_pages} pages")
        got = await fetch(offset, page_size)
        page = got if isinstance(got, OffsetPage) else OffsetPage(got)
        pages += 1
        if page.items:
            yield page.items
        if page.more is False or not page.items:
            if page.more and not page.items:
                raise errors.ProtocolError(
                    "the platform said more items follow but sent an empty page",
                    debug={"offset": offset},
                )
            return
        if page.more is None and len(page.items) < page_size:
            return
        offset += len(page.items)


async def items(pages: AsyncIterator[Any], *, key: str | None = "value") -> AsyncIterator[Any]:
    """Each item of each page: ``page[key]`` for mapping pages (OData's ``"value"``), the
    page itself for sequence pages (``key=None`` always takes the page itself)."""
    async for page in pages:
        mapped = key is not None and isinstance(page, Mapping)
        found: Iterable[Any] = (page.get(key) or ()) if mapped else page
        for item in found:
            yield item


def _json_page(transport: Transport) -> Callable[[httpx.Response], Any]:
    from mailadmin.wire.responses import raise_for_status

    def read(response: httpx.Response) -> Any:
        raise_for_status(response, provider=transport.name, redactor=transport)
        from mailadmin.wire.jsonapi import parse_json

        try:
            return parse_json(response.content, source=transport.name)
        except errors.ProtocolError as exc:
            exc.debug["status"] = response.status_code
            raise errors.ProtocolError(
                f"{transport.name} sent a page that is not JSON", debug=exc.debug
            ) from None

    return read
