"""Request/response fixtures built from the reference's examples (CB-prov bytes, the
python-zimbra and admin-console JSON forms, the captured Carbonio fault): the mock answers
each with the expected shape, in JSON, SOAP 1.2 and SOAP 1.1. ``@ANY@`` in an expected
answer matches any value (tokens, generated ids, traces)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import pytest
from mailadmin_zextras.mock.state import ZextrasState

from mailadmin.mock import MockServer

if TYPE_CHECKING:
    from conftest import Post

FIXTURES = Path(__file__).parent / "fixtures"
ANY = "@ANY@"
JSON_CASES = sorted(
    p.name.removesuffix(".request.json") for p in (FIXTURES / "json").glob("*.request.json")
)
XML_CASES = sorted(
    p.name.removesuffix(".request.xml") for p in (FIXTURES / "xml").glob("*.request.xml")
)


def _match_json(got: Any, expected: Any, where: str = "") -> None:
    if expected == ANY:
        return
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{where}: {got!r} is not an object"
        assert list(got) == list(expected), f"{where}: keys {list(got)} != {list(expected)}"
        for key, value in expected.items():
            _match_json(got[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{where}: {got!r}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            _match_json(a, b, f"{where}[{i}]")
    else:
        assert got == expected and type(got) is type(expected), f"{where}: {got!r} != {expected!r}"


def _match_xml(got: ElementTree.Element, expected: ElementTree.Element, where: str = "") -> None:
    where = f"{where}/{expected.tag}"
    assert got.tag == expected.tag, f"{where}: got {got.tag}"
    for key, value in expected.attrib.items():
        assert key in got.attrib, f"{where}: no attribute {key}"
        assert value == ANY or got.attrib[key] == value, f"{where}@{key}: {got.attrib[key]!r}"
    assert set(got.attrib) == set(expected.attrib), f"{where}: attributes {sorted(got.attrib)}"
    if (expected.text or "") == ANY and not len(expected):
        return
    assert (got.text or "") == (expected.text or ""), f"{where}: text {got.text!r}"
    assert len(got) == len(expected), f"{where}: {len(got)} children, expected {len(expected)}"
    for a, b in zip(got, expected, strict=True):
        _match_xml(a, b, where)


@pytest.mark.parametrize("case", JSON_CASES)
async def test_json_fixture(case: str, server: MockServer, token: str, post: Post) -> None:
    body = (FIXTURES / "json" / f"{case}.request.json").read_text().replace("@TOKEN@", token)
    response = await post(server, body.encode(), path=f"/service/admin/soap/{case}")
    expected = json.loads((FIXTURES / "json" / f"{case}.response.json").read_text())
    assert response.status_code == (500 if "Fault" in expected["Body"] else 200)
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    _match_json(response.json(), expected)


@pytest.mark.parametrize("case", XML_CASES)
async def test_xml_fixture(case: str, server: MockServer, token: str, post: Post) -> None:
    body = (FIXTURES / "xml" / f"{case}.request.xml").read_bytes()
    body = body.replace(b"@TOKEN@", token.encode())
    response = await post(server, body, **{"Content-Type": "text/xml; charset=utf-8"})
    expected = ElementTree.fromstring((FIXTURES / "xml" / f"{case}.response.xml").read_bytes())
    fault = expected.find(".//{*}Fault") is not None
    assert response.status_code == (500 if fault else 200)
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    _match_xml(ElementTree.fromstring(response.content), expected)


async def test_fixture_writes_reach_the_state(
    server: MockServer, state: ZextrasState, token: str, post: Post
) -> None:
    """The CB-prov CreateAccount and the ModifyAccount of the reference change the state."""
    for case in ("create_account", "modify_account"):
        body = (FIXTURES / "xml" / f"{case}.request.xml").read_bytes()
        assert (await post(server, body.replace(b"@TOKEN@", token.encode()))).status_code == 200
    created = state.account_by_name("user@example.com")
    assert created.password == "password"
    assert state.effective_cos(created).name == "mail"  # the domain default
    anna = state.account_by_name("anna@example.com")
    assert anna.first("zimbraCOSId") == state.cos_by("name", "sync").id
    body = (FIXTURES / "json" / "modify_account_attrs.request.json").read_text()
    await post(server, body.replace("@TOKEN@", token).encode())
    assert state.effective_cos(state.account_by_name("anna@example.com")).name == "collaborate"
