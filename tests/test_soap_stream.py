"""Streamed SOAP answers (SoapClient.stream over Transport.stream): a list answer is parsed
as it arrives, each item handed on and dropped, with the refusals, size limit and fault
mapping of the whole-document path (SoapClient.send)."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import AsyncIterator, Callable
from xml.etree.ElementTree import Element

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.wire.dryrun import DryRunViolation, dry_run_scope
from mailadmin.wire.limits import BodyTooLarge
from mailadmin.wire.soap import (
    EnvelopeError,
    SoapClient,
    SoapFault,
    SoapVersion,
    child_text,
    envelope,
    fault_envelope,
    local_name,
    node,
)
from mailadmin.wire.transport import Transport

A = "urn:example:admin"
ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
MiB = 1024 * 1024


def listing(n: int, *, first: int = 0) -> bytes:
    """A listAll-style answer: ``opResponse`` with ``n`` ``return`` items, each an id."""
    items = [node(A, "return", None, node(A, "id", first + i)) for i in range(n)]
    return envelope(node(A, "opResponse", None, node(A, "total", n), *items))


def pieces_of(body: bytes, size: int) -> Callable[[], AsyncIterator[bytes]]:
    """An answer body delivered ``size`` bytes at a time, with no declared length."""

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream


class Server:
    """A MockTransport whose answers are queued ``httpx.Response`` factories."""

    def __init__(self, *answers: Callable[[], httpx.Response | Exception]) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0)() if len(self.answers) > 1 else self.answers[0]()
        if isinstance(answer, Exception):
            raise answer
        return answer


def streamed(
    body: bytes, *, size: int = 64, status: int = 200, **headers: str
) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(status, headers=headers, content=pieces_of(body, size)())


def whole(body: bytes, status: int = 200) -> Callable[[], httpx.Response]:
    return lambda: httpx.Response(status, content=body)


class Waits:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(server: Server, **options: object) -> tuple[SoapClient, Transport]:
    settings: dict[str, object] = {"retries": 0, "sleep": Waits()}
    settings.update(options)
    transport = Transport(
        "http://soap.test",
        name="t",
        backend=httpx.MockTransport(server.handler),
        **settings,  # type: ignore[arg-type]
    )

    def to_error(fault: SoapFault) -> errors.MailadminError:
        return errors.NotFoundError(f"gone ({fault.code})", debug={"fault": fault.message})

    return SoapClient(transport, name="t", version=SoapVersion.SOAP11, to_error=to_error), transport


async def stream_ids(client: SoapClient, **kwargs: object) -> tuple[list[int], Element | None]:
    ids: list[int] = []

    def keep(element: Element) -> None:
        ids.append(int(child_text(element, "id") or 0))

    first = await client.stream(
        "/svc",
        node(A, "op"),
        item="return",
        handle=keep,
        write=False,
        operation="op",
        **kwargs,  # type: ignore[arg-type]
    )
    return ids, first


# -- what is read ---------------------------------------------------------------------------------


async def test_items_are_handed_on_in_order_and_dropped_from_the_returned_element() -> None:
    client, transport = client_for(Server(streamed(listing(250), size=37)))

    ids, first = await stream_ids(client)
    await transport.aclose()

    assert ids == list(range(250))
    assert first is not None and local_name(first.tag) == "opResponse"
    # Only what is not an item stays in the tree.
    assert [local_name(e.tag) for e in first] == ["total"]


async def test_a_whole_in_process_answer_and_a_gzip_answer_stream_too() -> None:
    packed = gzip.compress(listing(40))
    client, transport = client_for(
        Server(whole(listing(30)), streamed(packed, size=50, **{"content-encoding": "gzip"}))
    )

    assert (await stream_ids(client))[0] == list(range(30))
    assert (await stream_ids(client))[0] == list(range(40))
    await transport.aclose()


async def test_items_outside_the_first_body_element_are_not_handed_on() -> None:
    # A header "return" and a "return" nested deeper than the list are left where they are.
    body = envelope(
        node(
            A,
            "opResponse",
            None,
            node(A, "return", None, node(A, "id", 1), node(A, "return", None, node(A, "id", 98))),
        ),
        header=node(A, "return", None, node(A, "id", 99)),
    )
    client, transport = client_for(Server(streamed(body, size=16)))

    ids, _ = await stream_ids(client)
    await transport.aclose()

    assert ids == [1]


# -- the same refusals and errors as the whole-document path ---------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
]>
<lolz>&lol2;</lolz>"""
ENTITY_IN_ENVELOPE = (
    b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "y">]>'
    b'<s:Envelope xmlns:s="' + ENV11.encode() + b'"><s:Body><opResponse>&x;</opResponse>'
    b"</s:Body></s:Envelope>"
)
PLAIN_DTD = b'<?xml version="1.0"?><!DOCTYPE foo><foo>1</foo>'
XXE = b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>'
TOO_DEEP = (
    b'<s:Envelope xmlns:s="'
    + ENV11.encode()
    + b'"><s:Body><opResponse>'
    + b"<a>" * 200
    + b"</a>" * 200
    + b"</opResponse></s:Body></s:Envelope>"
)
# Items first, then the refusal: the error comes mid-stream, after items were handed on.
LATE_DTD = listing(20)[:-40] + b"<!DOCTYPE x>" + listing(20)[-40:]
LATE_TOO_DEEP = listing(20).replace(b"<ns1:total>20</ns1:total>", b"<x>" * 150 + b"</x>" * 150)
BROKEN = listing(20)[:-30]


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, ENTITY_IN_ENVELOPE, PLAIN_DTD, XXE, TOO_DEEP, LATE_DTD, LATE_TOO_DEEP, BROKEN],
    ids=["billion-laughs", "entity", "dtd", "xxe", "too-deep", "late-dtd", "late-deep", "cut-off"],
)
async def test_a_refused_answer_is_the_same_user_safe_error_streamed_or_whole(body: bytes) -> None:
    client, transport = client_for(Server(streamed(body, size=7), whole(body)))

    with pytest.raises(EnvelopeError) as streamed_error:
        await stream_ids(client)
    with pytest.raises(EnvelopeError) as whole_error:
        await client.send("/svc", node(A, "op"), write=False, operation="op")
    await transport.aclose()

    assert str(streamed_error.value) == str(whole_error.value)
    assert streamed_error.value.reason == whole_error.value.reason == "xml"
    assert streamed_error.value.debug["operation"] == "op"
    assert "Traceback" not in str(streamed_error.value)


async def test_an_answer_past_the_size_limit_is_refused_mid_stream_as_when_read_whole() -> None:
    body = listing(2_000)  # about 90 KB
    client, transport = client_for(
        Server(streamed(body, size=4096), whole(body)), max_response_bytes=32 * 1024
    )
    handed: list[int] = []

    with pytest.raises(BodyTooLarge) as streamed_error:
        await client.stream(
            "/svc",
            node(A, "op"),
            item="return",
            handle=lambda e: handed.append(1),
            write=False,
            operation="op",
        )
    with pytest.raises(BodyTooLarge) as whole_error:
        await client.send("/svc", node(A, "op"), write=False, operation="op")
    await transport.aclose()

    assert str(streamed_error.value) == str(whole_error.value)
    assert str(streamed_error.value) == "t sent an answer larger than the limit of 32 KiB"
    # Refused while it streamed: items before the limit were handed on, not all 2,000.
    assert 0 < len(handed) < 2_000
    assert streamed_error.value.debug["request_id"]


@pytest.mark.parametrize("status", [200, 500])
async def test_a_fault_in_a_streamed_answer_is_the_plugins_error_as_when_sent(status: int) -> None:
    fault = fault_envelope(SoapVersion.SOAP11, "Server", "No such context 7")
    client, transport = client_for(
        Server(streamed(fault, size=10, status=status), whole(fault, status))
    )

    with pytest.raises(errors.NotFoundError) as streamed_error:
        await stream_ids(client)
    with pytest.raises(errors.NotFoundError) as whole_error:
        await client.send("/svc", node(A, "op"), write=False, operation="op")
    await transport.aclose()

    assert str(streamed_error.value) == str(whole_error.value) == "gone (Server)"
    assert streamed_error.value.debug["fault"] == "No such context 7"
    assert streamed_error.value.debug["operation"] == "op"


async def test_an_http_error_page_is_the_cores_error() -> None:
    client, transport = client_for(Server(streamed(b"<html>forbidden</html>", status=403)))

    with pytest.raises(errors.AuthenticationError):
        await stream_ids(client)
    await transport.aclose()


# -- the transport's rules apply ------------------------------------------------------------------


async def test_a_read_is_retried_before_any_byte_with_the_same_request_id() -> None:
    waits = Waits()
    server = Server(
        lambda: httpx.ConnectError("refused"),
        whole(b"busy", 503),
        streamed(listing(5)),
    )
    client, transport = client_for(server, retries=3, sleep=waits)

    ids, _ = await stream_ids(client)
    await transport.aclose()

    assert ids == list(range(5))
    assert len(server.seen) == 3 and len(waits.waits) == 2
    assert len({r.headers["X-Request-Id"] for r in server.seen}) == 1


async def test_a_connection_lost_mid_body_is_unavailable_and_not_resent() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield listing(50)[:500]
        raise httpx.ReadError("connection reset")

    server = Server(lambda: httpx.Response(200, content=broken()))
    client, transport = client_for(server, retries=3)

    with pytest.raises(errors.Unavailable, match="^t broke off the connection$"):
        await stream_ids(client)
    await transport.aclose()

    assert len(server.seen) == 1


async def test_a_streamed_write_is_refused_in_a_dry_run_and_nothing_is_sent() -> None:
    server = Server(streamed(listing(1)))
    client, transport = client_for(server)

    with dry_run_scope(True), pytest.raises(DryRunViolation):
        await client.stream(
            "/svc", node(A, "op"), item="return", handle=print, write=True, operation="op"
        )
    await transport.aclose()

    assert server.seen == []


# -- memory ---------------------------------------------------------------------------------------


async def test_streaming_20000_items_peaks_far_below_the_size_of_the_answer() -> None:
    n = 20_000
    body = listing(n)
    server = Server(streamed(listing(10), size=16 * 1024), streamed(body, size=16 * 1024))
    client, transport = client_for(server)
    await stream_ids(client)  # imports and first-use caches, outside the measurement
    count = 0

    def keep(element: Element) -> None:
        nonlocal count
        count += 1

    tracemalloc.start()
    try:
        await client.stream(
            "/svc", node(A, "op"), item="return", handle=keep, write=False, operation="op"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await transport.aclose()

    assert count == n
    # Whole, the body alone is len(body) (about 1 MB) and its tree several times that.
    assert peak < len(body) / 4, f"peak {peak} bytes for a body of {len(body)}"
