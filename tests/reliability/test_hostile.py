"""Hostile answers fed to every wire parser: each is refused with a ProtocolError (or a
clear typed error), fast, without memory growing past the cap.

Parsers: the safe XML parser, the SOAP envelope reader, the JSON parser, the transport's
body reader and the JSON client over it, and the plugins' own read paths (OX, Zextras) with
their mocks answering the hostile body. The run ends with ``hostile: N inputs, N refused
within limits``.
"""

from __future__ import annotations

import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxRef
from mailadmin.contract.readback import native_name
from mailadmin.mock import MockServer
from mailadmin.mock.faults import Fault
from mailadmin.wire.jsonapi import ErrorTable, JsonClient, parse_json
from mailadmin.wire.safexml import parse_xml
from mailadmin.wire.soap import read_envelope, read_fault
from mailadmin.wire.transport import Transport

MiB = 1024 * 1024
CAP = 4 * MiB
SECONDS = 3.0  # "no hang": every refusal comes well within this
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
MAILBOX = {"tenant": {"name": "example.com", "native_id": "1"}, "address": "anna@example.com"}


def _deep(open_: bytes, close: bytes, depth: int = 1_000_000) -> bytes:
    return open_ * depth + close * depth


XML: dict[str, bytes] = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b"]><l>&j;</l>",
    "external entity (file)": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
    b'"file:///etc/passwd">]><r>&x;</r>',
    "external entity (url)": b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><r>&x;</r>',
    "external dtd": b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>',
    "parameter entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]><r/>',
    "million-deep nesting": _deep(b"<a>", b"</a>"),
    "invalid utf-8": b'<?xml version="1.0" encoding="UTF-8"?><r>\xff\xfe\xc3\x28</r>',
    "control character reference": b"<r>&#x1b;[2J</r>",
    "raw control character": b"<r>name\x00</r>",
    "truncated": b"<soapenv:Envelope xmlns:soapenv='" + ENV.encode() + b"'><soapenv:Body><x>",
    "html error page": b"<html><body><h1>502 Bad Gateway<br></body></html>",
    "empty": b"",
}
SOAP_ONLY: dict[str, bytes] = {
    "not an envelope": b"<r><Body/></r>",
    "unknown soap version": b'<e:Envelope xmlns:e="urn:not-soap"><e:Body/></e:Envelope>',
    "envelope without body": b'<e:Envelope xmlns:e="' + ENV.encode() + b'"/>',
    "fault with million-deep detail": b'<e:Envelope xmlns:e="'
    + ENV.encode()
    + b'"><e:Body><e:Fault><faultcode>e:Server</faultcode><detail>'
    + _deep(b"<d>", b"</d>")
    + b"</detail></e:Fault></e:Body></e:Envelope>",
}
JSON: dict[str, bytes] = {
    "million-deep arrays": _deep(b"[", b"]"),
    "million-deep objects": b'{"a":' * 1_000_000 + b"1" + b"}" * 1_000_000,
    "NaN": b'{"quota": NaN}',
    "Infinity": b'{"quota": -Infinity}',
    "number overflowing to infinity": b'{"quota": 1e999}',
    "integer of 100000 digits": b'{"quota": ' + b"9" * 100_000 + b"}",
    "invalid utf-8": b'{"name": "\xff\xfe"}',
    "raw control character in a string": b'{"name": "anna\x00"}',
    "truncated": b'{"Body": {"GetAccountResponse": {"account": [{"name": "an',
    "not json": b"<html>502</html>",
}


def _bomb(ratio_mib: int = 256) -> bytes:
    """gzip of ``ratio_mib`` MiB of zeros (about 1 KB per MiB)."""
    zeros = bytes(MiB)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    return first + again * (ratio_mib - 1) + packer.flush()


def _deflate_bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 15)
    first = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
    return first + again * 255 + packer.flush()


#: Whole answers: (headers, body) sent through the transport's streamed reader.
BODIES: dict[str, tuple[dict[str, str], Callable[[], bytes]]] = {
    "gzip bomb (256 KB to 256 MiB)": ({"Content-Encoding": "gzip"}, _bomb),
    "deflate bomb (256 KB to 256 MiB)": ({"Content-Encoding": "deflate"}, _deflate_bomb),
    "10 MiB plain body": (
        {"Content-Type": "application/json"},
        lambda: b'"' + b"a" * (10 * MiB) + b'"',
    ),
    "declared 50 MiB": ({"Content-Length": str(50 * MiB)}, lambda: b"{}"),
    "brotli encoding": ({"Content-Encoding": "br"}, lambda: b"\x1b\x03\x00"),
    "corrupt gzip": ({"Content-Encoding": "gzip"}, lambda: b"\x1f\x8b\x08\x00garbage" * 10),
    "deep json with json type": (
        {"Content-Type": "application/json"},
        lambda: _deep(b"[", b"]", 500_000),
    ),
}

#: Names as a platform might report them, refused where a name is read back.
NAMES: dict[str, str] = {
    "escape sequence": "pim\x1b[2J",
    "nul": "pim\x00mobility",
    "bidi override": "pim\u202emobility",
    "zero-width space": "pim\u200bmobility",
    "newline": "pim\nmobility",
    "1 MB name": "p" * MiB,
}


def _measure(tally: Any, label: str, run: Callable[[], Any]) -> Any:
    """Run ``run`` and count it; the refusal must be typed, fast and within memory."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = run()
        error: BaseException | None = None
    except BaseException as exc:
        outcome, error = None, exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return _judge(tally, label, error, elapsed, peak, outcome)


async def _measure_async(tally: Any, label: str, run: Callable[[], Awaitable[Any]]) -> Any:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome = await run()
        error: BaseException | None = None
    except BaseException as exc:
        outcome, error = None, exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return _judge(tally, label, error, elapsed, peak, outcome)


def _judge(
    tally: Any, label: str, error: BaseException | None, elapsed: float, peak: int, outcome: Any
) -> None:
    tally.inputs += 1
    typed = isinstance(error, errors.ProtocolError | errors.ValidationError)
    within = elapsed < SECONDS and peak < 3 * CAP
    if typed and within:
        tally.refused += 1
    else:
        tally.failures.append(label)
    assert error is not None, f"{label}: accepted, gave {outcome!r:.100}"
    assert typed, f"{label}: {type(error).__name__}: {error}"
    assert within, f"{label}: {elapsed:.2f} s, peak {peak / MiB:.1f} MiB"
    assert "Traceback" not in str(error) and "<" not in str(error)[:1]


@pytest.mark.parametrize("name", list(XML))
def test_the_safe_xml_parser_refuses(name, hostile_tally):
    _measure(hostile_tally, f"safexml: {name}", lambda: parse_xml(XML[name], source="p"))


@pytest.mark.parametrize("name", [*XML, *SOAP_ONLY])
def test_the_soap_reader_refuses(name, hostile_tally):
    content = {**XML, **SOAP_ONLY}[name]

    def read() -> Any:
        message = read_envelope(content, source="p")
        fault = read_fault(message.body)
        raise AssertionError(f"read {fault or message}")

    _measure(hostile_tally, f"soap: {name}", read)


@pytest.mark.parametrize("name", list(JSON))
def test_the_json_parser_refuses(name, hostile_tally):
    _measure(hostile_tally, f"json: {name}", lambda: parse_json(JSON[name], source="p"))


class _Chunks(httpx.AsyncByteStream):
    """A body handed over in 16 KiB pieces, as a socket would, never whole."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), 16384):
            yield self._data[start : start + 16384]


def _serving(headers: dict[str, str], body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(200, headers=headers, stream=_Chunks(body))
    )


@pytest.mark.parametrize("name", list(BODIES))
async def test_the_transport_refuses_bodies(name, hostile_tally):
    headers, make = BODIES[name]
    body = make()
    transport = Transport("http://p.invalid", name="p", backend=_serving(headers, body))
    try:
        await _measure_async(
            hostile_tally,
            f"transport: {name}",
            lambda: transport.request("GET", "/", write=False),
        )
    finally:
        await transport.aclose()


@pytest.mark.parametrize("name", [*BODIES, *JSON])
async def test_the_json_client_refuses(name, hostile_tally):
    if name in BODIES:
        headers, make = BODIES[name]
        body = make()
    else:
        headers, body = {"Content-Type": "application/json"}, JSON[name]
    transport = Transport("http://p.invalid", name="p", backend=_serving(headers, body))
    api = JsonClient(transport, name="p", errors=ErrorTable())
    try:
        await _measure_async(hostile_tally, f"jsonclient: {name}", lambda: api.get("/"))
    finally:
        await transport.aclose()


@pytest.mark.parametrize("name", list(NAMES))
def test_control_characters_in_names_are_refused(name, hostile_tally):
    text = NAMES[name]
    _measure(
        hostile_tally,
        f"native name: {name}",
        lambda: native_name(text, what="plan", source="p"),
    )
    address = {**MAILBOX, "address": f"{text}@example.com"}
    _measure(
        hostile_tally,
        f"mailbox address: {name}",
        lambda: _validated_mailbox(address),
    )


def _validated_mailbox(raw: dict[str, Any]) -> Any:
    import pydantic

    try:
        return MailboxRef.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise errors.ValidationError("Invalid mailbox address") from exc


# -- the plugins' read paths, their mocks answering the hostile body --------------------------


def _ox(server: MockServer) -> Any:
    from mailadmin_ox.demo import sample_config
    from mailadmin_ox.provider import OXProvider

    settings = {
        "mode": "context_admin",
        "credentials": {"username": "oxadmin", "secret": "secret"},
        "plans": sample_config()["instances"]["ox"]["plans"],
        "context_id": 1,
        "retries": 0,
    }
    return OXProvider(settings, instance="ox-test", http=server.transport())


def _ox_name_answer(name: str) -> bytes:
    from mailadmin.wire.soap import envelope, node

    ns = "http://soap.admin.openexchange.com"
    return envelope(node(ns, "getAccessCombinationNameResponse", None, node(ns, "return", name)))


# A mock's fault body is text, so it cannot carry invalid UTF-8; the parsers' own cases above
# cover that input.
OX_BODIES = {
    **{n: b for n, b in {**XML, **SOAP_ONLY}.items() if b and n != "invalid utf-8"},
    **{f"combination name: {n}": _ox_name_answer(t) for n, t in NAMES.items()},
}


@pytest.mark.parametrize("name", list(OX_BODIES))
async def test_the_ox_plugin_refuses(name, hostile_tally):
    pytest.importorskip("mailadmin_ox")
    from mailadmin_ox.mock.platform import OXMock

    server = MockServer(OXMock)
    body = OX_BODIES[name]
    if len(body) > 64 * 1024:
        # The mock's fault body is text; the largest inputs go through as the 64 KiB head
        # plus the same closing, which still nests past the cap.
        body = body[: 32 * 1024] + body[-32 * 1024 :]
    server.inject(
        Fault(
            kind="status",
            status=200,
            operation="getAccessCombinationName",
            body=body.decode("utf-8"),
            content_type="text/xml; charset=UTF-8",
        )
    )
    provider = _ox(server)
    try:
        await _measure_async(
            hostile_tally,
            f"ox: {name}",
            lambda: provider.set_plan(MAILBOX, "collaborate"),
        )
    finally:
        await provider.aclose()
    assert not [r for r in server.requests if r.write]


@pytest.mark.parametrize("name", [n for n in JSON if n != "invalid utf-8"])
async def test_the_zextras_plugin_refuses(name, hostile_tally):
    pytest.importorskip("mailadmin_zextras")
    from mailadmin_zextras.demo import sample_config
    from mailadmin_zextras.mock.platform import ZextrasMock
    from mailadmin_zextras.provider import ZextrasProvider

    server = MockServer(ZextrasMock)
    server.inject(
        Fault(
            kind="status",
            status=200,
            body=JSON[name].decode("utf-8"),
            content_type="application/json",
        )
    )
    instance = sample_config()["instances"]["zextras"]
    settings = {**{k: v for k, v in instance.items() if k != "provider"}, "retries": 0}
    provider = ZextrasProvider(settings, instance="zx-test", http=server.transport())
    mailbox = {"tenant": {"name": "example.com"}, "address": "anna@example.com"}
    try:
        await _measure_async(
            hostile_tally,
            f"zextras: {name}",
            lambda: provider.set_plan(mailbox, "sync"),
        )
    finally:
        await provider.aclose()
    assert not [r for r in server.requests if r.write]


@pytest.mark.parametrize("name", [n for n in JSON if n != "invalid utf-8"])
async def test_the_exchange_plugin_refuses(name, hostile_tally):
    pytest.importorskip("mailadmin_exchange")
    from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
    from mailadmin_exchange.mock.platform import ExchangeMock
    from mailadmin_exchange.provider import ExchangeProvider

    server = MockServer(ExchangeMock)
    server.inject(
        Fault(
            kind="status",
            status=200,
            operation="get-mailbox",
            body=JSON[name].decode("utf-8"),
            content_type="application/json; odata.metadata=minimal",
        )
    )
    settings = {
        "tenant": DEFAULT_TENANT,
        "tenant_id": DEFAULT_TENANT_ID,
        "credentials": {"username": "mock-client", "secret": "secret"},
        "plans": {
            "mail": {"quota_mb": 2048, "features": {"activesync": False, "mapi": False}},
            "sync": {"quota_mb": 5120, "features": {"activesync": True, "mapi": False}},
            "collaborate": {"quota_mb": 10240, "features": {}},
        },
        "retries": 0,
    }
    provider = ExchangeProvider(settings, instance="ex-test", http=server.transport())
    mailbox = {"tenant": {"name": DEFAULT_TENANT}, "address": f"anna@{DEFAULT_TENANT}"}
    try:
        await _measure_async(
            hostile_tally,
            f"exchange: {name}",
            lambda: provider.set_plan(mailbox, "sync"),
        )
    finally:
        await provider.aclose()
    assert not [r for r in server.requests if r.write]


# -- write answers: a write answered with a refusal inside a 200, another operation's answer,
# or fields of the wrong type is never recorded ``changed``; the platform keeps its plan ----


def _zextras(server: MockServer) -> Any:
    from mailadmin_zextras.demo import sample_config
    from mailadmin_zextras.provider import ZextrasProvider

    instance = sample_config()["instances"]["zextras"]
    settings = {**{k: v for k, v in instance.items() if k != "provider"}, "retries": 0}
    return ZextrasProvider(settings, instance="zx-test", http=server.transport())


def _exchange(server: MockServer) -> Any:
    from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
    from mailadmin_exchange.provider import ExchangeProvider

    settings = {
        "tenant": DEFAULT_TENANT,
        "tenant_id": DEFAULT_TENANT_ID,
        "credentials": {"username": "mock-client", "secret": "secret"},
        "plans": {
            "mail": {"quota_mb": 2048, "features": {"activesync": False, "mapi": False}},
            "sync": {"quota_mb": 5120, "features": {"activesync": True, "mapi": False}},
            "collaborate": {"quota_mb": 10240, "features": {}},
        },
        "retries": 0,
    }
    return ExchangeProvider(settings, instance="ex-test", http=server.transport())


def _memory(server: MockServer) -> Any:
    from mailadmin.reference.provider import MemoryProvider

    settings = {
        "endpoint": "http://memory.test",
        "credentials": {"username": "admin", "secret": "secret"},
        "retries": 0,
    }
    return MemoryProvider(settings, instance="mem-test", http=server.transport())


def _mailcow(server: MockServer) -> Any:
    from mailadmin_mailcow.provider import MailcowProvider

    key = "0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"  # the mock's read-write key
    settings = {
        "endpoint": "http://mailcow.test",
        "credentials": {"username": "api", "secret": key},
        "retries": 0,
    }
    return MailcowProvider(settings, instance="mc-test", http=server.transport())


#: mailcow answers every call with 200 and says in the body what happened.
MAILCOW = {
    "refused_in_200": Fault.json_answer(
        {"type": "error", "msg": "Cannot find attributes in post data"}, operation="edit_mailbox"
    ),
    "other_operation": Fault.json_answer(
        [{"type": "success", "msg": ["domain_modified", "example.com"]}], operation="edit_mailbox"
    ),
}


def _wrong_type(platform: str) -> Fault:
    """The write's own answer, with fields of the wrong type."""
    if platform == "ox":
        from mailadmin_ox.namespaces import S

        from mailadmin.mock.soap import soap_response
        from mailadmin.sdk import Node, SoapVersion

        answer = soap_response(
            Node(
                S,
                "changeByModuleAccessNameResponse",
                None,
                (Node(S, "return", None, (Node(S, "id", "not-a-number"),)),),
            ),
            version=SoapVersion.SOAP11,
        )
        return Fault(
            kind="status",
            status=200,
            operation="changeByModuleAccessName",
            body=answer.content.decode("utf-8"),
            content_type=answer.headers["content-type"],
        )
    if platform == "mailcow":
        return Fault.json_answer([{"type": "success", "msg": 42}], operation="edit_mailbox")
    if platform == "memory":
        wrong = {"changed": "maybe", "before": {"plan": ["basic"]}, "after": 7}
        return Fault.json_answer(wrong, operation="change_plan")
    if platform == "zextras":
        body: Any = {
            "Body": {"ModifyAccountResponse": {"account": "anna", "_jsns": "urn:zimbraAdmin"}}
        }
        return Fault.json_answer(body, operation="ModifyAccountRequest")
    return Fault.json_answer({"value": "no rows"}, operation="set-mailbox")


#: platform -> (mock, provider factory, mailbox, plan at start, plan asked for)
def _write_rig(platform: str) -> tuple[Any, Callable[[MockServer], Any], dict[str, Any]]:
    if platform == "ox":
        from mailadmin_ox.mock.platform import OXMock
        from mailadmin_ox.mock.refusals import REFUSALS

        return OXMock, _ox, {"mailbox": MAILBOX, "refusals": REFUSALS}
    if platform == "mailcow":
        from mailadmin_mailcow.mock import MailcowMock

        mailbox = {"tenant": {"name": "example.com"}, "address": "anna@example.com"}
        return MailcowMock, _mailcow, {"mailbox": mailbox, "refusals": MAILCOW}
    if platform == "memory":
        from mailadmin.reference.mock import MemoryMock
        from mailadmin.reference.mock.refusals import REFUSALS as MEMORY

        mailbox = {"tenant": {"name": "example.com"}, "address": "anna@example.com"}
        return MemoryMock, _memory, {"mailbox": mailbox, "refusals": MEMORY}
    if platform == "zextras":
        from mailadmin_zextras.mock.platform import ZextrasMock
        from mailadmin_zextras.mock.refusals import REFUSALS

        mailbox = {"tenant": {"name": "example.com"}, "address": "anna@example.com"}
        return ZextrasMock, _zextras, {"mailbox": mailbox, "refusals": REFUSALS}
    from mailadmin_exchange.mock.model import DEFAULT_TENANT
    from mailadmin_exchange.mock.platform import ExchangeMock
    from mailadmin_exchange.mock.refusals import REFUSALS

    mailbox = {"tenant": {"name": DEFAULT_TENANT}, "address": f"anna@{DEFAULT_TENANT}"}
    return ExchangeMock, _exchange, {"mailbox": mailbox, "refusals": REFUSALS}


WRITE_KINDS = ("refused_in_200", "other_operation", "wrong_type")


@pytest.mark.parametrize("kind", WRITE_KINDS)
@pytest.mark.parametrize("platform", ["ox", "zextras", "exchange", "mailcow", "memory"])
async def test_a_hostile_write_answer_is_never_changed(platform, kind, hostile_tally):
    if platform != "memory":
        pytest.importorskip(f"mailadmin_{platform}")
    mock, build, rig = _write_rig(platform)
    if isinstance(rig["refusals"].get(kind), str):
        pytest.skip(f"{platform}: {rig['refusals'][kind]}")
    server = MockServer(mock)
    provider = build(server)
    try:
        start = await provider.set_plan(rig["mailbox"], "mail")
        assert start.outcome.value in ("changed", "unchanged")
        fault = _wrong_type(platform) if kind == "wrong_type" else rig["refusals"][kind]
        server.inject(fault)
        hostile_tally.write_answers += 1
        try:
            result = await provider.set_plan(rig["mailbox"], "collaborate")
        except errors.MailadminError as exc:
            outcome = exc.code
        else:
            outcome = result.outcome.value
        server.clear_faults()
        held = await provider.set_plan(rig["mailbox"], "mail", dry_run=True)
    finally:
        await provider.aclose()
    if outcome != "changed" and held.outcome.value == "unchanged":
        hostile_tally.write_answers_kept += 1
    assert outcome != "changed", f"{platform}: a {kind} answer was recorded changed"
    if kind != "refused_in_200":
        # Nobody can say whether the write landed: unknown, and read back.
        assert outcome == "unknown", f"{platform}: a {kind} answer came back {outcome}"
    # The platform still holds the start plan: nothing reports a change it does not hold.
    assert held.outcome.value == "unchanged", f"{platform}: {kind} moved the plan"


def test_zz_summary(hostile_tally):
    """Printed with ``-s``; the terminal summary prints the same line at the end."""
    print(f"\n{hostile_tally.line()}")
    assert hostile_tally.inputs > 0
    assert hostile_tally.refused == hostile_tally.inputs, hostile_tally.failures
