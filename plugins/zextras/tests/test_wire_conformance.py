"""Raw admin SOAP requests, written from Zimbra's published sources, against the mock.

Not from the plugin: each request follows ``store/docs/soap-admin.txt`` and the JAXB
request classes of ``Zimbra/zm-mailbox``, the zmprov requests of ``carbonio-mailbox``
(CB-prov) or python-zimbra's JSON form. Valid ones succeed; malformed ones get the refusal
the server's ``Element`` reading gives (``Element.java``: ``missing required attribute``,
``invalid boolean value``...; ``Key.*By.fromString``: ``unknown key``; the dispatcher:
``unknown document``), in JSON and in SOAP 1.2, with HTTP 500. A parameter the server does
not read is ignored by the server, so by the mock too, which records it.
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState

from mailadmin.mock import MockServer

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ADMIN = "urn:zimbraAdmin"
Child = tuple[str, dict[str, str], str | None]


@pytest.fixture
def server() -> MockServer:
    return MockServer(ZextrasMock)


@pytest.fixture
def state(server: MockServer) -> ZextrasState:
    assert isinstance(server.state, ZextrasState)
    return server.state


@pytest.fixture
def token(state: ZextrasState) -> str:
    return state.authenticate("admin@example.com", "secret")[0]


def _json(
    name: str, attrs: dict[str, Any], children: list[Child], token: str | None, ns: str | None
) -> bytes:
    element: dict[str, Any] = dict(attrs)
    if ns is not None:
        element["_jsns"] = ns
    for child, child_attrs, text in children:
        value: dict[str, Any] = dict(child_attrs)
        if text is not None:
            value["_content"] = text
        element.setdefault(child, []).append(value)
    context: dict[str, Any] = {"_jsns": "urn:zimbra"}
    if token:
        context["authToken"] = {"_content": token}
    return json.dumps({"Header": {"context": context}, "Body": {name: element}}).encode()


def _xml(
    name: str, attrs: dict[str, Any], children: list[Child], token: str | None, ns: str | None
) -> bytes:
    def quote(value: object) -> str:
        return str(value).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")

    head = f"<{name}{f' xmlns={chr(34)}{ns}{chr(34)}' if ns else ''}"
    head += "".join(f' {k}="{quote(v)}"' for k, v in attrs.items())
    inner = ""
    for child, child_attrs, text in children:
        inner += f"<{child}" + "".join(f' {k}="{quote(v)}"' for k, v in child_attrs.items())
        inner += f">{quote(text or '')}</{child}>"
    header = (
        f'<context xmlns="urn:zimbra"><authToken>{token}</authToken></context>' if token else ""
    )
    return (
        f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Header>{header}</soap:Header>'
        f"<soap:Body>{head}>{inner}</{name}></soap:Body></soap:Envelope>"
    ).encode()


async def send(
    server: MockServer,
    form: str,
    name: str,
    attrs: dict[str, Any] | None = None,
    children: list[Child] | None = None,
    *,
    token: str | None = None,
    ns: str | None = ADMIN,
) -> httpx.Response:
    """POST one request in ``form`` (``json`` or ``xml``) to ``/service/admin/soap``."""
    build = _json if form == "json" else _xml
    body = build(name, attrs or {}, children or [], token, ns)
    kind = "application/json" if form == "json" else "application/soap+xml"
    async with httpx.AsyncClient(transport=server.transport(), base_url=ZextrasMock.base_url) as c:
        return await c.post(
            f"/service/admin/soap/{name}", content=body, headers={"Content-Type": kind}
        )


def fault(response: httpx.Response) -> tuple[str, str, str]:
    """(Code/Value, Reason/Text, Detail/Error/Code) of a fault answer, in either form."""
    assert response.status_code == 500
    if response.headers["content-type"].startswith("text/javascript"):
        body = response.json()["Body"]["Fault"]
        return body["Code"]["Value"], body["Reason"]["Text"], body["Detail"]["Error"]["Code"]
    root = ElementTree.fromstring(response.content)
    ns = {"soap": SOAP12, "z": "urn:zimbra"}
    value = root.findtext(".//soap:Fault/soap:Code/soap:Value", namespaces=ns)
    text = root.findtext(".//soap:Fault/soap:Reason/soap:Text", namespaces=ns)
    code = root.findtext(".//soap:Fault/soap:Detail/z:Error/z:Code", namespaces=ns)
    return str(value), str(text), str(code)


def answer(response: httpx.Response, name: str) -> dict[str, Any] | ElementTree.Element:
    """The response element of a 200 answer (a JSON object or an XML element)."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/javascript"):
        body: dict[str, Any] = response.json()["Body"][name]
        assert body["_jsns"] == ADMIN
        return body
    found = ElementTree.fromstring(response.content).find(f".//{{{ADMIN}}}{name}")
    assert found is not None
    return found


FORMS = pytest.mark.parametrize("form", ["json", "xml"])


# -- valid requests ---------------------------------------------------------------------------


@FORMS
async def test_auth_by_name_element_as_zmprov_sends_it(server: MockServer, form: str) -> None:
    # CB-prov countAccount: <AuthRequest xmlns="urn:zimbraAdmin"><name>..</name><password>..
    response = await send(
        server,
        form,
        "AuthRequest",
        children=[("name", {}, "admin@example.com"), ("password", {}, "secret")],
    )
    got = answer(response, "AuthResponse")
    token = (
        got["authToken"][0]["_content"]
        if isinstance(got, dict)
        else got.findtext(f"{{{ADMIN}}}authToken")
    )
    assert token


@FORMS
async def test_auth_by_account_selector(server: MockServer, form: str) -> None:
    # python-zimbra: {"account": {"by": "name", "_content": ...}, "password": ...}
    response = await send(
        server,
        form,
        "AuthRequest",
        {"password": "secret"},
        [("account", {"by": "name"}, "admin@example.com")],
    )
    answer(response, "AuthResponse")


@FORMS
async def test_count_account_by_domain_selector(server: MockServer, form: str, token: str) -> None:
    response = await send(
        server,
        form,
        "CountAccountRequest",
        children=[("domain", {"by": "name"}, "example.com")],
        token=token,
    )
    got = answer(response, "CountAccountResponse")
    if isinstance(got, dict):
        counts = {c["name"]: c["_content"] for c in got["cos"]}
    else:
        counts = {c.get("name"): c.text for c in got.findall(f"{{{ADMIN}}}cos")}
    # admin, anna and info (shared) on the domain default; system resources are skipped.
    assert counts == {"mail": "3", "sync": "1", "collaborate": "1"}


@FORMS
@pytest.mark.parametrize("flag", ["1", "true", "TRUE"])
async def test_search_directory_count_only(
    server: MockServer, form: str, token: str, flag: str
) -> None:
    response = await send(
        server,
        form,
        "SearchDirectoryRequest",
        {"query": "(zimbraCalResType=Location)", "types": "resources", "countOnly": flag},
        token=token,
    )
    got = answer(response, "SearchDirectoryResponse")
    num = got["num"] if isinstance(got, dict) else got.get("num")
    assert str(num) == "1"


@FORMS
async def test_scalar_parameters_may_be_child_elements(
    server: MockServer, form: str, token: str
) -> None:
    # Element.getAttribute falls back to a child element of that name.
    response = await send(
        server,
        form,
        "SearchDirectoryRequest",
        children=[("query", {}, "(uid=anna)"), ("limit", {}, "5"), ("types", {}, "accounts")],
        token=token,
    )
    got = answer(response, "SearchDirectoryResponse")
    names = (
        [a["name"] for a in got["account"]]
        if isinstance(got, dict)
        else [a.get("name") for a in got.findall(f"{{{ADMIN}}}account")]
    )
    assert names == ["anna@example.com"]


@FORMS
async def test_create_account_and_calendar_resource(
    server: MockServer, state: ZextrasState, form: str, token: str
) -> None:
    # CB-prov createAccount: <CreateAccountRequest password=".." name=".." xmlns=".."/>
    made = await send(
        server,
        form,
        "CreateAccountRequest",
        {"name": "new@example.com", "password": "pw"},
        [("a", {"n": "displayName"}, "New")],
        token=token,
    )
    answer(made, "CreateAccountResponse")
    room = await send(
        server,
        form,
        "CreateCalendarResourceRequest",
        {"name": "hall@example.com"},
        [("a", {"n": "displayName"}, "Hall"), ("a", {"n": "zimbraCalResType"}, "Location")],
        token=token,
    )
    answer(room, "CreateCalendarResourceResponse")
    assert state.account_by_name("new@example.com").first("displayName") == "New"
    assert state.account_by_name("hall@example.com", calresource=True).calresource
    assert not state.ignored


# -- refusals ---------------------------------------------------------------------------------

REFUSALS: list[tuple[str, str, dict[str, Any], list[Child], tuple[str, str, str]]] = [
    (
        "selector given as an attribute",
        "CountAccountRequest",
        {"domain": "example.com"},
        [],
        (
            "soap:Sender",
            "invalid request: missing required element: domain",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "selector without by",
        "GetAccountRequest",
        {},
        [("account", {}, "anna@example.com")],
        (
            "soap:Sender",
            "invalid request: missing required attribute: by",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "unknown by key",
        "GetAccountRequest",
        {},
        [("account", {"by": "mail"}, "anna@example.com")],
        ("soap:Sender", "invalid request: unknown key: mail", "service.INVALID_REQUEST"),
    ),
    (
        "by key in the wrong case",
        "GetDomainRequest",
        {},
        [("domain", {"by": "Name"}, "example.com")],
        ("soap:Sender", "invalid request: unknown key: Name", "service.INVALID_REQUEST"),
    ),
    (
        "bad boolean",
        "SearchDirectoryRequest",
        {"query": "(uid=*)", "countOnly": "yes"},
        [],
        (
            "soap:Sender",
            "invalid request: invalid boolean value 'yes' for attribute: countOnly",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "bad long",
        "SearchDirectoryRequest",
        {"query": "(uid=*)", "limit": "ten"},
        [],
        (
            "soap:Sender",
            "invalid request: invalid long value 'ten' for attribute: limit",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "missing required attribute",
        "ModifyAccountRequest",
        {},
        [("a", {"n": "displayName"}, "x")],
        (
            "soap:Sender",
            "invalid request: missing required attribute: id",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "attribute pair without its name",
        "ModifyAccountRequest",
        {"id": "x"},
        [("a", {}, "Anna")],
        (
            "soap:Sender",
            "invalid request: missing required attribute: n",
            "service.INVALID_REQUEST",
        ),
    ),
    (
        "unknown request",
        "GetEverythingRequest",
        {},
        [],
        ("soap:Sender", "unknown document: GetEverythingRequest", "service.UNKNOWN_DOCUMENT"),
    ),
    (
        "over the directory search limit, even counting",
        "SearchDirectoryRequest",
        {"query": "(mail=*)", "countOnly": "1", "maxResults": "2"},
        [],
        (
            "soap:Receiver",
            "number of results exceeded the limit: too many search results returned",
            "account.TOO_MANY_SEARCH_RESULTS",
        ),
    ),
]


@FORMS
@pytest.mark.parametrize(
    ("name", "attrs", "children", "expected"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_malformed_requests_get_the_servers_refusal(
    server: MockServer,
    form: str,
    token: str,
    name: str,
    attrs: dict[str, Any],
    children: list[Child],
    expected: tuple[str, str, str],
) -> None:
    response = await send(server, form, name, attrs, children, token=token)
    assert fault(response) == expected


@FORMS
@pytest.mark.parametrize("ns", ["urn:zimbraAccount", None], ids=["other", "none"])
async def test_a_request_outside_its_namespace_is_an_unknown_document(
    server: MockServer, form: str, token: str, ns: str | None
) -> None:
    response = await send(
        server,
        form,
        "CountAccountRequest",
        children=[("domain", {"by": "name"}, "example.com")],
        token=token,
        ns=ns,
    )
    assert fault(response) == (
        "soap:Sender",
        "unknown document: CountAccountRequest",
        "service.UNKNOWN_DOCUMENT",
    )


@FORMS
async def test_no_token_is_auth_required(server: MockServer, form: str) -> None:
    response = await send(server, form, "GetAllCosRequest")
    assert fault(response) == ("soap:Sender", "no valid authtoken present", "service.AUTH_REQUIRED")


@FORMS
@pytest.mark.sends_ignored
async def test_parameters_the_server_does_not_read_are_ignored_and_recorded(
    server: MockServer, state: ZextrasState, form: str, token: str
) -> None:
    # "countonly" is not "countOnly": the server reads no such attribute, so it answers a
    # full search (entries, searchTotal) rather than a count; the element <foo> likewise.
    response = await send(
        server,
        form,
        "SearchDirectoryRequest",
        {"query": "(uid=anna)", "countonly": "1"},
        [("foo", {}, "bar")],
        token=token,
    )
    got = answer(response, "SearchDirectoryResponse")
    total = got["searchTotal"] if isinstance(got, dict) else got.get("searchTotal")
    assert str(total) == "1"
    assert state.ignored == ["SearchDirectoryRequest/countonly", "SearchDirectoryRequest/foo"]


async def test_a_batch_answers_each_request_and_faults_the_one_outside_the_namespace(
    server: MockServer, token: str
) -> None:
    # ZM soap.txt: BatchRequest (urn:zimbra) with onerror="continue"; each answer keeps its
    # requestId, a fault is a Fault entry of the batch.
    body = {
        "Header": {"context": {"_jsns": "urn:zimbra", "authToken": {"_content": token}}},
        "Body": {
            "BatchRequest": {
                "_jsns": "urn:zimbra",
                "onerror": "continue",
                "GetAllCosRequest": [{"_jsns": ADMIN, "requestId": "1"}],
                "CountAccountRequest": [
                    {
                        "_jsns": "urn:zimbraAccount",
                        "requestId": "2",
                        "domain": {"by": "name", "_content": "example.com"},
                    }
                ],
            }
        },
    }
    async with httpx.AsyncClient(transport=server.transport(), base_url=ZextrasMock.base_url) as c:
        response = await c.post("/service/admin/soap", content=json.dumps(body).encode())
    assert response.status_code == 200
    batch = response.json()["Body"]["BatchResponse"]
    assert batch["GetAllCosResponse"][0]["requestId"] == "1"
    (fault,) = batch["Fault"]
    assert fault["requestId"] == "2"
    assert fault["Detail"]["Error"]["Code"] == "service.UNKNOWN_DOCUMENT"
