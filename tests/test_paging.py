"""Paged reads stream: one page at a time, next links followed by GET or by re-POST."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import MockPlatform, MockRequest, MockServer, MockState, Route, odata
from mailadmin.wire.dryrun import dry_run_scope
from mailadmin.wire.paging import OffsetPage, items, next_link_pages, offset_pages
from mailadmin.wire.transport import Transport

BASE = "https://outlook.example.test/adminapi/beta/contoso"


class MailboxState(MockState):
    mailboxes: list[dict[str, Any]]

    def reset(self) -> None:
        super().reset()
        self.mailboxes = [{"PrimarySmtpAddress": f"u{n}@contoso.test"} for n in range(10)]


def invoke_command(request: MockRequest, state: MailboxState) -> httpx.Response:
    cmdlet = request.json()["CmdletInput"]["CmdletName"]
    if cmdlet != "Get-Mailbox":
        return httpx.Response(400, json={"error": {"code": "BadRequest"}})
    page = odata.page(request, state.mailboxes, default_size=1000)
    return httpx.Response(200, json=page.body(**{"@adminapi.warnings": []}))


def get_mailboxes(request: MockRequest, state: MailboxState) -> httpx.Response:
    return httpx.Response(200, json=odata.page(request, state.mailboxes).body())


class ExchangeLike(MockPlatform):
    name = "exchange-like"
    state_class = MailboxState
    routes = (
        Route("POST", "/adminapi/beta/{tenant}/InvokeCommand", invoke_command),
        Route("GET", "/adminapi/beta/{tenant}/Mailbox", get_mailboxes),
        Route(
            "GET",
            "/loop",
            lambda r, s: httpx.Response(200, json={"value": [1], "@odata.nextLink": f"{r.url}"}),
        ),
    )


GET_MAILBOX = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}}


@pytest.fixture
def server() -> MockServer:
    return MockServer(ExchangeLike)


@pytest.fixture
def transport(server: MockServer) -> Transport:
    return Transport(BASE, name="exchange", backend=server.transport())


async def test_invoke_command_pages_by_reposting_the_same_body(
    server: MockServer, transport: Transport
) -> None:
    pages = next_link_pages(
        transport,
        "InvokeCommand",
        method="POST",
        json=GET_MAILBOX,
        follow="repost",
        page_size=4,
        operation="Get-Mailbox",
    )
    seen = [[m["PrimarySmtpAddress"] for m in page["value"]] async for page in pages]

    assert [len(page) for page in seen] == [4, 4, 2]
    assert seen[0][0] == "u0@contoso.test" and seen[-1][-1] == "u9@contoso.test"
    assert [r.method for r in server.requests] == ["POST"] * 3
    assert {r.body for r in server.requests} == {server.requests[0].body}
    assert server.requests[0].json() == GET_MAILBOX


async def test_next_links_are_followed_by_get(server: MockServer, transport: Transport) -> None:
    addresses = [
        m["PrimarySmtpAddress"]
        async for m in items(next_link_pages(transport, "Mailbox", page_size=3))
    ]

    assert addresses == [f"u{n}@contoso.test" for n in range(10)]
    assert [r.method for r in server.requests] == ["GET"] * 4
    assert all(r.body == b"" for r in server.requests)


async def test_a_post_followed_by_get_sends_no_body_after_the_first_page(
    server: MockServer, transport: Transport
) -> None:
    # GOX-style clients GET the next link of an InvokeCommand; the mock refuses a bodiless
    # InvokeCommand (400), which the default reader maps to a typed error.
    pages = next_link_pages(
        transport, "InvokeCommand", method="POST", json=GET_MAILBOX, page_size=5
    )
    first = await anext(pages)
    assert len(first["value"]) == 5
    with pytest.raises(errors.ProviderError):
        await anext(pages)
    assert [r.method for r in server.requests] == ["POST", "GET"]


async def test_pages_are_fetched_only_when_asked_and_not_kept(
    server: MockServer, transport: Transport
) -> None:
    class Page:
        def __init__(self, body: dict[str, Any]) -> None:
            self.body = body

    alive: list[weakref.ref[Page]] = []

    def read(response: httpx.Response) -> Page:
        page = Page(response.json())
        alive.append(weakref.ref(page))
        return page

    pages = next_link_pages(
        transport,
        "Mailbox",
        page_size=2,
        read=read,
        next_link=lambda page: page.body.get("@odata.nextLink"),
    )
    count = 0
    async for page in pages:
        count += 1
        assert len(server.requests) == count  # nothing fetched ahead
        del page
        gc.collect()
        # Only the page in hand may be alive: the iterator keeps none of the earlier ones.
        assert sum(ref() is not None for ref in alive) <= 1
    assert count == 5


async def test_a_next_link_that_repeats_is_a_protocol_error(transport: Transport) -> None:
    pages = next_link_pages(transport, "https://outlook.example.test/loop")
    with pytest.raises(errors.ProtocolError, match="same next link twice"):
        async for _ in pages:
            pass


async def test_max_pages_stops_a_server_that_never_ends(transport: Transport) -> None:
    with pytest.raises(errors.ProtocolError, match="after 2 pages"):
        async for _ in next_link_pages(transport, "Mailbox", page_size=1, max_pages=2):
            pass


async def test_paging_is_a_read_allowed_during_a_dry_run(
    server: MockServer, transport: Transport
) -> None:
    with dry_run_scope(True):
        pages = [
            p
            async for p in next_link_pages(
                transport, "InvokeCommand", method="POST", json=GET_MAILBOX, follow="repost"
            )
        ]
    assert len(pages) == 1 and len(pages[0]["value"]) == 10


# -- offset paging ---------------------------------------------------------------------------


async def test_offset_pages_ask_for_the_next_offset_until_the_platform_says_no_more() -> None:
    data = list(range(23))
    asked: list[tuple[int, int]] = []

    async def fetch(offset: int, limit: int) -> OffsetPage[int]:
        asked.append((offset, limit))
        chunk = data[offset : offset + limit]
        return OffsetPage(chunk, more=offset + limit < len(data))

    got = [page async for page in offset_pages(fetch, page_size=10)]

    assert [list(p) for p in got] == [data[:10], data[10:20], data[20:]]
    assert asked == [(0, 10), (10, 10), (20, 10)]


async def test_a_short_page_ends_plain_sequences() -> None:
    asked: list[int] = []

    async def fetch(offset: int, limit: int) -> Sequence[str]:
        asked.append(offset)
        return ["a", "b", "c", "d", "e"][offset : offset + limit]

    got = [x async for x in items(offset_pages(fetch, page_size=2), key=None)]
    assert got == ["a", "b", "c", "d", "e"]
    assert asked == [0, 2, 4]


async def test_an_empty_page_claiming_more_is_a_protocol_error() -> None:
    async def fetch(offset: int, limit: int) -> OffsetPage[int]:
        return OffsetPage([], more=True)

    with pytest.raises(errors.ProtocolError, match="empty page"):
        async for _ in offset_pages(fetch, page_size=5):
            pass
