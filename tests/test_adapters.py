"""wire/adapters.py: the only place that reaches into httpx's, aiohttp's and
httpx-aiohttp's private parts, pinned to the versions it was written for."""

from __future__ import annotations

import ast
from importlib.metadata import version
from pathlib import Path

import aiohttp
import httpx
import pytest
from packaging.version import Version

import mailadmin.wire as wire_package
from mailadmin.wire.adapters import (
    WRITTEN_FOR,
    aiohttp_errors_as_httpx,
    send_writes_once,
    set_read_body,
    skip_idle_cookie_work,
)


@pytest.mark.parametrize("distribution", sorted(WRITTEN_FOR))
def test_the_installed_library_is_one_the_adapter_was_written_for(distribution: str) -> None:
    """Upgrading past a range: re-check each function of the adapter, then widen it."""
    low, high = WRITTEN_FOR[distribution]
    assert Version(low) <= Version(version(distribution)) < Version(high)


def test_a_read_body_set_by_hand_is_what_httpx_reads() -> None:
    request = httpx.Request("POST", "https://example.test/", stream=httpx.ByteStream(b"{}"))
    set_read_body(request, b'{"a": 1}')
    assert request.content == b'{"a": 1}'
    response = httpx.Response(200, stream=httpx.AsyncByteStream(), request=request)
    with pytest.raises(httpx.ResponseNotRead):
        response.content  # noqa: B018 -- not read yet: the attribute the adapter sets is the one
    set_read_body(response, b'{"ok": true}')
    assert response.content == b'{"ok": true}' and response.json() == {"ok": True}
    assert response.text == '{"ok": true}'
    # httpx's own read leaves the body in the attribute the adapter writes.
    assert httpx.Response(200, content=b"x")._content == b"x"


async def test_the_cookie_jar_is_swapped_and_still_keeps_cookies_that_are_set() -> None:
    async with httpx.AsyncClient() as client:
        assert type(client._cookies) is httpx.Cookies  # httpx's private jar, as assumed
        skip_idle_cookie_work(client)
        assert type(client._cookies) is not httpx.Cookies
        assert isinstance(client.cookies, httpx.Cookies)
        request = httpx.Request("GET", "https://example.test/")
        client.cookies.extract_cookies(httpx.Response(200, request=request))
        assert not client.cookies.seen and not dict(client.cookies)  # type: ignore[attr-defined]
        set_cookie = httpx.Response(200, headers={"Set-Cookie": "s=1"}, request=request)
        client.cookies.extract_cookies(set_cookie)
        assert dict(client.cookies) == {"s": "1"}


def test_a_jar_of_another_shape_is_left_alone() -> None:
    class Odd:
        _cookies = "not a jar"

    odd = Odd()
    skip_idle_cookie_work(odd)  # type: ignore[arg-type]
    assert odd._cookies == "not a jar"


async def test_aiohttp_no_longer_resends_a_write_by_itself() -> None:
    async with aiohttp.ClientSession() as session:
        assert session._retry_connection is True  # aiohttp's default, as assumed
        assert send_writes_once(session) is session
        assert session._retry_connection is False


def test_aiohttp_errors_come_out_as_the_httpx_errors_they_stand_for() -> None:
    with pytest.raises(httpx.ReadError), aiohttp_errors_as_httpx():
        raise aiohttp.ClientPayloadError("cut")
    with pytest.raises(httpx.ReadTimeout), aiohttp_errors_as_httpx():
        raise aiohttp.SocketTimeoutError("read")
    with pytest.raises(ValueError), aiohttp_errors_as_httpx():  # not aiohttp's: unchanged
        raise ValueError("other")


def _private_reaches(path: Path) -> list[str]:
    """``x._name`` where ``x`` is not ``self``/``cls`` (the module's own privates are names)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{path.name}:{node.lineno} .{node.attr}")
    return found


def test_no_other_wire_module_touches_a_private_attribute() -> None:
    root = Path(wire_package.__file__).parent
    reaches = [
        reach
        for path in sorted(root.glob("*.py"))
        if path.name != "adapters.py"
        for reach in _private_reaches(path)
    ]
    # Private names that are not a library's: the stream reports a refusal through the
    # Transport that opened it, a Redactor merges another's pattern, zlib's decompressor
    # type is named for an annotation, and the deferred TLS context sets its own flag on
    # the instance ssl.SSLContext.__new__ returns.
    own = {
        "transport.py ._note_refusal",
        "redaction.py ._pattern",
        "limits.py ._Decompress",
        "tls.py ._trusted",
    }
    assert [r for r in reaches if _without_line(r) not in own] == []


def _without_line(reach: str) -> str:
    where, attribute = reach.split(" ")
    return f"{where.split(':')[0]} {attribute}"
