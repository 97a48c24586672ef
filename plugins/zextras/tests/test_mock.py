"""The Zextras mock's rules and wire details, checked in its state: every fault code of the
reference's fault table (in JSON, SOAP 1.2 and SOAP 1.1), domain limits on creation and on a
COS change, the licence lifecycle, and the request forms the server accepts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import pytest
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState

from mailadmin.mock import Fault, FaultKind, ManualClock, MockServer

if TYPE_CHECKING:
    from conftest import Post, Wrap

SYNC = "2a4f4c65-6d61-4696-a000-000000000002"
ANNA = "186c1c23-d2ad-46b4-9efd-ddd890b1a4a2"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"

#: (code, request body, Reason text, seed) for every code of the reference's fault table.
FAULT_TABLE: list[tuple[str, dict[str, Any], str, dict[str, Any] | None]] = [
    (
        "account.NO_SUCH_ACCOUNT",
        {"GetAccountRequest": {"account": {"by": "name", "_content": "nobody@example.com"}}},
        "no such account: nobody@example.com",
        None,
    ),
    (
        "account.ACCOUNT_EXISTS",
        {"CreateAccountRequest": {"name": "anna@example.com", "password": "x"}},
        "email address already exists: anna@example.com",
        None,
    ),
    (
        "account.NO_SUCH_COS",
        {"ModifyAccountRequest": {"id": ANNA, "a": [{"n": "zimbraCOSId", "_content": "nope"}]}},
        "no such cos: nope",
        None,
    ),
    (
        "account.NO_SUCH_DOMAIN",
        {"CountAccountRequest": {"domain": {"by": "name", "_content": "nope.example"}}},
        "no such domain: nope.example",
        None,
    ),
    (
        "account.NO_SUCH_CALENDAR_RESOURCE",
        {
            "GetCalendarResourceRequest": {
                "calresource": {"by": "name", "_content": "x@example.com"}
            }
        },
        "no such calendar resource: x@example.com",
        None,
    ),
    (
        "account.TOO_MANY_ACCOUNTS",
        {"CreateAccountRequest": {"name": "one-more@example.com"}},
        "number of accounts reached the limit: domain=example.com (6)",
        {
            "domains": [
                {
                    "id": "6b0a53f1-0e3c-4d43-9c3a-00000000e11c",
                    "name": "example.com",
                    "attrs": {"zimbraDomainMaxAccounts": "6", "zimbraDomainDefaultCOSId": "mail"},
                }
            ]
        },
    ),
    (
        "account.TOO_MANY_SEARCH_RESULTS",
        {"SearchDirectoryRequest": {"query": "(mail=*)", "maxResults": 2}},
        "number of results exceeded the limit: too many search results returned",
        None,
    ),
    (
        "account.INVALID_ATTR_VALUE",
        {
            "ModifyDomainRequest": {
                "id": "6b0a53f1-0e3c-4d43-9c3a-00000000e11c",
                "a": [{"n": "zimbraDomainMaxAccounts", "_content": "-1"}],
            }
        },
        "zimbraDomainMaxAccounts value(-1) smaller than minimum allowed: 0",
        None,
    ),
    (
        "account.INVALID_ATTR_NAME",
        {"ModifyAccountRequest": {"id": ANNA, "a": [{"n": "no such", "_content": "x"}]}},
        "invalid attr name: no such",
        None,
    ),
    (
        "service.INVALID_REQUEST",
        {"ModifyAccountRequest": {"a": [{"n": "displayName", "_content": "x"}]}},
        "invalid request: missing required attribute: id",
        None,
    ),
    (
        "service.UNKNOWN_DOCUMENT",
        {"CountObjectsRequest": {"type": "userAccount"}},
        "unknown document: CountObjectsRequest",
        None,
    ),
    (
        "ldap.OBJECT_CLASS_VIOLATION",
        {
            "CreateCalendarResourceRequest": {
                "name": "r@example.com",
                "a": [{"n": "displayName", "_content": "R"}],
            }
        },
        "object class violation: zimbraCalResType and displayName are required",
        None,
    ),
]
#: Faults of the sign-in itself: (code, account, password, Reason text).
AUTH_FAULTS = [
    (
        "account.AUTH_FAILED",
        "admin@example.com",
        "wrong",
        "authentication failed for [admin@example.com]",
    ),
    (
        "service.PERM_DENIED",
        "anna@example.com",
        "secret",
        "permission denied: not an admin account",
    ),
    ("service.PERM_DENIED", "ghost@example.com", "x", "permission denied: Error in Authentication"),
]


def _xml(body: dict[str, Any], token: str | None, version: str = SOAP12) -> bytes:
    """The same request in the SOAP form (attributes stay attributes, lists repeat)."""

    def element(name: str, value: Any) -> ElementTree.Element:
        node = ElementTree.Element(name)
        if not isinstance(value, dict):
            node.text = str(value)
            return node
        for key, item in value.items():
            if key == "_content":
                node.text = str(item)
            elif isinstance(item, dict):
                node.append(element(key, item))
            elif isinstance(item, list):
                node.extend(element(key, one) for one in item)
            else:
                node.set(key, str(item))
        return node

    name, value = next(iter(body.items()))
    root = ElementTree.Element(f"{{{version}}}Envelope")
    if token:
        header = ElementTree.SubElement(root, f"{{{version}}}Header")
        context = ElementTree.SubElement(header, "{urn:zimbra}context")
        ElementTree.SubElement(context, "{urn:zimbra}authToken").text = token
    request = element(name, value)
    request.set("xmlns", "urn:zimbraAdmin")
    ElementTree.SubElement(root, f"{{{version}}}Body").append(request)
    return ElementTree.tostring(root)


def _xml_fault(response_body: bytes) -> tuple[str, str, str]:
    """(value or faultcode, reason text, Error/Code) of a SOAP fault answer."""
    root = ElementTree.fromstring(response_body)
    code = root.find(".//{urn:zimbra}Error/{urn:zimbra}Code")
    assert code is not None
    value = root.find(f".//{{{SOAP12}}}Value")
    text = root.find(f".//{{{SOAP12}}}Text")
    if value is None:
        value, text = root.find(".//faultcode"), root.find(".//faultstring")
    assert value is not None and text is not None
    return value.text or "", text.text or "", code.text or ""


@pytest.mark.parametrize(
    ("code", "body", "reason", "case_seed"), FAULT_TABLE, ids=[f[0] for f in FAULT_TABLE]
)
@pytest.mark.parametrize("form", ["json", "soap12", "soap11"])
async def test_every_fault_code_in_every_form(
    code: str,
    body: dict[str, Any],
    reason: str,
    case_seed: dict[str, Any] | None,
    form: str,
    seed: dict[str, Any],
    server: MockServer,
    state: ZextrasState,
    token: str,
    post: Post,
    wrap: Wrap,
) -> None:
    if case_seed:
        server.seed({**seed, **case_seed})
        token = state.authenticate("admin@example.com", "secret")[0]
    before = state.snapshot()
    receiver = code in {"account.TOO_MANY_ACCOUNTS", "account.TOO_MANY_SEARCH_RESULTS"}
    if form == "json":
        response = await post(server, wrap(body, token))
        assert response.status_code == 500
        fault = response.json()["Body"]["Fault"]
        assert fault["Code"]["Value"] == ("soap:Receiver" if receiver else "soap:Sender")
        assert fault["Reason"]["Text"] == reason
        assert fault["Detail"]["Error"]["Code"] == code
        assert fault["Detail"]["Error"]["_jsns"] == "urn:zimbra"
    else:
        version = SOAP12 if form == "soap12" else SOAP11
        response = await post(server, _xml(body, token, version))
        assert response.status_code == 500
        value, text, got = _xml_fault(response.content)
        assert (got, text) == (code, reason)
        if form == "soap12":
            assert value == ("soap:Receiver" if receiver else "soap:Sender")
        else:
            assert value == ("soap:Server" if receiver else "soap:Client")
    after = state.snapshot()
    assert after == before, "a refused request changed the state"


@pytest.mark.parametrize(("code", "name", "password", "reason"), AUTH_FAULTS)
@pytest.mark.parametrize("form", ["json", "soap12"])
async def test_sign_in_faults(
    code: str,
    name: str,
    password: str,
    reason: str,
    form: str,
    server: MockServer,
    state: ZextrasState,
    post: Post,
    wrap: Wrap,
) -> None:
    body = {"AuthRequest": {"account": {"by": "name", "_content": name}, "password": password}}
    if form == "json":
        response = await post(server, wrap(body))
        fault = response.json()["Body"]["Fault"]
        assert (fault["Detail"]["Error"]["Code"], fault["Reason"]["Text"]) == (code, reason)
    else:
        response = await post(server, _xml(body, None))
        assert _xml_fault(response.content)[1:] == (reason, code)
    assert response.status_code == 500
    assert not state.sessions


async def test_auth_required_and_expired(
    server: MockServer, state: ZextrasState, token: str, post: Post, wrap: Wrap
) -> None:
    body = {"GetAllCosRequest": {}}
    missing = (await post(server, wrap(body))).json()["Body"]["Fault"]
    assert missing["Detail"]["Error"]["Code"] == "service.AUTH_REQUIRED"
    assert missing["Reason"]["Text"] == "no valid authtoken present"
    bogus = (await post(server, wrap(body, "0_forged"))).json()["Body"]["Fault"]
    assert bogus["Detail"]["Error"]["Code"] == "service.AUTH_REQUIRED"
    state.expire_sessions()
    expired = await post(server, wrap(body, token))
    assert expired.status_code == 500
    fault = expired.json()["Body"]["Fault"]
    assert fault["Detail"]["Error"]["Code"] == "service.AUTH_EXPIRED"
    assert fault["Reason"]["Text"] == "auth credentials have expired"


async def test_tokens_expire_with_the_clock(seed: dict[str, Any], post: Post, wrap: Wrap) -> None:
    clock = ManualClock(start=1000.0)
    server = MockServer(ZextrasMock, seed=seed, clock=clock)
    state = server.state
    assert isinstance(state, ZextrasState)
    token, lifetime = state.authenticate("admin@example.com", "secret")
    assert lifetime == 43_200_000
    clock.advance(lifetime / 1000 - 1)
    assert (await post(server, wrap({"GetAllCosRequest": {}}, token))).status_code == 200
    clock.advance(2)
    answer = (await post(server, wrap({"GetAllCosRequest": {}}, token))).json()
    assert answer["Body"]["Fault"]["Detail"]["Error"]["Code"] == "service.AUTH_EXPIRED"


async def test_service_failure_on_an_injected_server_error(
    server: MockServer, token: str, post: Post, wrap: Wrap
) -> None:
    server.inject(Fault(kind=FaultKind.STATUS, status=500))
    response = await post(server, wrap({"GetAllCosRequest": {}}, token))
    assert response.status_code == 500
    fault = response.json()["Body"]["Fault"]
    assert fault["Code"]["Value"] == "soap:Receiver"
    assert fault["Detail"]["Error"]["Code"] == "service.FAILURE"


async def test_parse_error_for_a_broken_body(server: MockServer, post: Post) -> None:
    response = await post(server, b'{"Body": {"AuthRequest": ')
    assert response.status_code == 500
    assert response.json()["Body"]["Fault"]["Detail"]["Error"]["Code"] == "service.PARSE_ERROR"
    response = await post(server, b"<soap:Envelope")
    assert response.status_code == 500
    assert _xml_fault(response.content)[2] == "service.PARSE_ERROR"


# -- domain limits ----------------------------------------------------------------------------


async def test_domain_limit_refuses_creation_not_resources(
    server: MockServer, state: ZextrasState, token: str, post: Post, wrap: Wrap
) -> None:
    domain = state.domain_by("name", "example.com")
    members = 6  # admin, anna, ben, carla, info and the seeded zimbra admin
    state.modify_domain(domain.id, [("zimbraDomainMaxAccounts", str(members + 1))])
    ok = await post(server, wrap({"CreateAccountRequest": {"name": "seven@example.com"}}, token))
    assert ok.status_code == 200
    full = await post(server, wrap({"CreateAccountRequest": {"name": "eight@example.com"}}, token))
    assert full.json()["Body"]["Fault"]["Detail"]["Error"]["Code"] == "account.TOO_MANY_ACCOUNTS"
    room = {
        "name": "room-9@example.com",
        "a": [
            {"n": "displayName", "_content": "R9"},
            {"n": "zimbraCalResType", "_content": "Location"},
        ],
    }
    assert (
        await post(server, wrap({"CreateCalendarResourceRequest": room}, token))
    ).status_code == 200
    assert [
        a.name for a in state.data.accounts if a.name.startswith(("seven", "eight", "room-9"))
    ] == ["seven@example.com", "room-9@example.com"]


async def test_per_cos_limit_on_creation_and_plan_change(
    server: MockServer, state: ZextrasState, token: str, post: Post, wrap: Wrap
) -> None:
    domain = state.domain_by("name", "example.com")
    state.modify_domain(domain.id, [("zimbraDomainCOSMaxAccounts", f"{SYNC}:2")])
    move = {"ModifyAccountRequest": {"id": ANNA, "a": [{"n": "zimbraCOSId", "_content": SYNC}]}}
    assert (await post(server, wrap(move, token))).status_code == 200  # ben + anna = 2
    create = {
        "CreateAccountRequest": {
            "name": "s3@example.com",
            "a": [{"n": "zimbraCOSId", "_content": SYNC}],
        }
    }
    refused = (await post(server, wrap(create, token))).json()["Body"]["Fault"]
    assert refused["Detail"]["Error"]["Code"] == "account.TOO_MANY_ACCOUNTS"
    assert refused["Reason"]["Text"] == (
        f"number of accounts reached the limit: domain=example.com[cos={SYNC},count=2,limit=2]"
    )
    carla = state.account_by_name("carla@example.com")
    again = {
        "ModifyAccountRequest": {"id": carla.id, "a": [{"n": "zimbraCOSId", "_content": SYNC}]}
    }
    assert (await post(server, wrap(again, token))).status_code == 500
    assert state.effective_cos(carla).name == "collaborate", "a refused plan change was applied"
    # Modifying an account already on the COS (no COS change) is not counted again.
    rename = {"ModifyAccountRequest": {"id": ANNA, "a": [{"n": "displayName", "_content": "A"}]}}
    assert (await post(server, wrap(rename, token))).status_code == 200


# -- counting ---------------------------------------------------------------------------------


def test_count_account_uses_the_effective_cos(state: ZextrasState) -> None:
    domain = state.domain_by("name", "example.com")
    counts = {cos.name: n for cos, n in state.count_account(domain)}
    # mail: admin, anna, info (domain default) and the seeded zimbra system account; the
    # galsync and spam system resources and the calendar resources are not counted.
    assert counts == {"mail": 4, "sync": 1, "collaborate": 1}
    state.modify_domain(domain.id, [("zimbraDomainDefaultCOSId", "")])
    assert {c.name: n for c, n in state.count_account(domain)}["default"] == 4


def test_licensed_mailboxes_follow_the_documented_filter(state: ZextrasState) -> None:
    assert state.licensed_mailboxes() == 5  # admin, anna, ben, carla, info
    state.create_account("ext@example.com", None, [("zimbraIsExternalVirtualAccount", "TRUE")])
    state.create_account("new@example.com", None, [])
    state.create_account(
        "r2@example.com",
        None,
        [("zimbraCalResType", "Equipment"), ("displayName", "R2")],
        calresource=True,
    )
    assert state.licensed_mailboxes() == 6


# -- licence ----------------------------------------------------------------------------------


def _licence(state: ZextrasState) -> dict[str, Any]:
    return state.licence_info()


def test_trial_for_thirty_days_then_none(seed: dict[str, Any]) -> None:
    clock = ManualClock(start=0.0)
    server = MockServer(ZextrasMock, seed=seed, clock=clock)
    state = server.state
    assert isinstance(state, ZextrasState)
    info = state.licence_info()
    assert (info["type"], info["subType"], info["expired"]) == ("Trial", "TRIAL", False)
    assert info["dateEnd"] - info["dateStart"] == 30 * 86_400_000
    assert all(f["enabled"] for f in info["features"]), "a trial has every feature on"
    clock.advance(30 * 86_400 + 1)
    info = state.licence_info()
    assert (info["type"], info["expired"]) == ("None", True)


async def test_activation_by_token_expiry_and_removal(
    server: MockServer, state: ZextrasState, token: str, post: Post, wrap: Wrap
) -> None:
    async def zextras(**params: Any) -> dict[str, Any]:
        body = {"zextras": {"module": "ZxCore", **params}}
        answer = (await post(server, wrap(body, token))).json()["Body"]["response"]
        content: dict[str, Any] = json.loads(answer["content"])
        return content

    bad = await zextras(action="activate-license", token="NOPE")
    assert bad["ok"] is False and state.data.licence.active is None
    done = await zextras(action="activate-license", token="MOCK-PRO-100")
    assert done["ok"] and done["message"] == "License activated"
    assert state.data.licence.token == "MOCK-PRO-100"
    info = (await zextras(action="getLicenseInfo"))["response"]
    assert (info["type"], info["licensedUsers"], info["accountCount"]) == ("Purchased", "100", 5)
    enabled = {f["name"] for f in info["features"] if f["enabled"]}
    assert {"activesync_basic", "backup_basic", "wsc_basic"} <= enabled  # Pro + Team Pro
    state.create_account("live@example.com", None, [])
    assert (await zextras(action="getLicenseInfo"))["response"]["accountCount"] == 6
    state.data.licence.active.dateEnd = state.now_ms - 1  # type: ignore[union-attr]
    expired = (await zextras(action="getLicenseInfo"))["response"]
    assert expired["expired"] is True and expired["maintenanceStatus"] == "expired"
    refused = await zextras(action="doRemoveLicense")
    assert refused["ok"] is False and state.data.licence.active is not None
    removed = await zextras(action="doRemoveLicense", iamsure="true")
    assert removed["ok"] and state.data.licence.active is None


# -- request forms ----------------------------------------------------------------------------


async def test_attribute_element_and_attrs_forms_are_equivalent(
    server: MockServer, state: ZextrasState, token: str, post: Post, wrap: Wrap
) -> None:
    collaborate = state.cos_by("name", "collaborate").id
    forms = [
        {"id": ANNA, "a": [{"n": "zimbraCOSId", "_content": SYNC}]},
        {"id": {"_content": ANNA}, "_attrs": {"zimbraCOSId": collaborate}},
    ]
    expected = [SYNC, collaborate]
    for form, cos in zip(forms, expected, strict=True):
        assert (await post(server, wrap({"ModifyAccountRequest": form}, token))).status_code == 200
        assert state.account_by_name("anna@example.com").first("zimbraCOSId") == cos


async def test_element_form_of_every_scalar(
    server: MockServer, state: ZextrasState, token: str, post: Post
) -> None:
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP12}"><soap:Header><context xmlns="urn:zimbra">'
        f"<authToken>{token}</authToken></context></soap:Header><soap:Body>"
        '<CreateAccountRequest xmlns="urn:zimbraAdmin"><name>el@example.com</name>'
        f'<password>pw</password><a n="zimbraCOSId">{SYNC}</a></CreateAccountRequest>'
        "</soap:Body></soap:Envelope>"
    ).encode()
    assert (await post(server, body)).status_code == 200
    created = state.account_by_name("el@example.com")
    assert (created.password, created.first("zimbraCOSId")) == ("pw", SYNC)


@pytest.mark.parametrize(
    "path",
    [
        "/service/admin/soap",
        "/service/admin/soap/",
        "/service/admin/soap/GetAllCosRequest",
        "/service/admin/soap/zextras",
    ],
)
async def test_trailing_path_segment_is_accepted(
    server: MockServer, token: str, post: Post, wrap: Wrap, path: str
) -> None:
    response = await post(server, wrap({"GetAllCosRequest": {}}, token), path=path)
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["Body"]["GetAllCosResponse"]["cos"]] == [
        "collaborate",
        "default",
        "mail",
        "sync",
    ]


async def test_other_services_are_not_found(
    server: MockServer, token: str, post: Post, wrap: Wrap
) -> None:
    response = await post(server, wrap({"GetAllCosRequest": {}}, token), path="/service/soap")
    assert response.status_code == 404


async def test_cookie_and_format_switch(server: MockServer, token: str, post: Post) -> None:
    body = {
        "Header": {"context": {"_jsns": "urn:zimbra", "format": {"type": "xml"}}},
        "Body": {"GetAllCosRequest": {"_jsns": "urn:zimbraAdmin"}},
    }
    response = await post(server, body, Cookie=f"ZM_ADMIN_AUTH_TOKEN={token}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{{{SOAP12}}}Envelope"
    assert len(root.findall(".//{urn:zimbraAdmin}cos")) == 4


async def test_entries_are_arrays_and_typed_in_json(
    server: MockServer, token: str, post: Post, wrap: Wrap
) -> None:
    get = {"GetAccountRequest": {"account": {"by": "name", "_content": "ben@example.com"}}}
    account = (await post(server, wrap(get, token))).json()["Body"]["GetAccountResponse"]["account"]
    assert isinstance(account, list) and len(account) == 1
    attrs = {a["n"]: a["_content"] for a in account[0]["a"]}
    assert attrs["zimbraCOSId"] == SYNC and attrs["zimbraMailQuota"] == str(5 * 1024**3)
    classes = [a["_content"] for a in account[0]["a"] if a["n"] == "objectClass"]
    assert len(classes) == 3, "a multi-valued attribute repeats its name"
    search = {
        "SearchDirectoryRequest": {
            "query": "(uid=*)",
            "types": "accounts",
            "limit": 2,
            "domain": "example.com",
        }
    }
    found = (await post(server, wrap(search, token))).json()["Body"]["SearchDirectoryResponse"]
    assert found["more"] is True and isinstance(found["searchTotal"], int)
    all_cos = (await post(server, wrap({"GetAllCosRequest": {}}, token))).json()
    default = next(c for c in all_cos["Body"]["GetAllCosResponse"]["cos"] if c["name"] == "default")
    assert default["isDefaultCos"] is True


def test_seed_and_snapshot_round_trip(state: ZextrasState) -> None:
    snapshot = state.snapshot()
    server = MockServer(ZextrasMock, seed={k: v for k, v in snapshot.items() if k != "operations"})
    again = server.state.snapshot()
    assert again["accounts"] == snapshot["accounts"]
    assert again["licence"] == snapshot["licence"]


async def test_batch_continue_and_stop(
    server: MockServer, state: ZextrasState, token: str, post: Post
) -> None:
    def batch(onerror: str) -> dict[str, Any]:
        return {
            "Header": {"context": {"_jsns": "urn:zimbra", "authToken": {"_content": token}}},
            "Body": {
                "BatchRequest": {
                    "_jsns": "urn:zimbra",
                    "onerror": onerror,
                    "GetAccountRequest": {
                        "_jsns": "urn:zimbraAdmin",
                        "requestId": 1,
                        "account": {"by": "name", "_content": "nobody@example.com"},
                    },
                    "ModifyAccountRequest": {
                        "_jsns": "urn:zimbraAdmin",
                        "requestId": 2,
                        "id": ANNA,
                        "a": [{"n": "zimbraCOSId", "_content": SYNC}],
                    },
                }
            },
        }

    stopped = (await post(server, batch("stop"))).json()["Body"]["BatchResponse"]
    assert [f["requestId"] for f in stopped["Fault"]] == ["1"]
    assert stopped["Fault"][0]["Detail"]["Error"]["Code"] == "account.NO_SUCH_ACCOUNT"
    assert "ModifyAccountResponse" not in stopped
    assert state.account_by_name("anna@example.com").first("zimbraCOSId") is None
    went_on = (await post(server, batch("continue"))).json()["Body"]["BatchResponse"]
    assert went_on["_jsns"] == "urn:zimbra"
    assert went_on["ModifyAccountResponse"][0]["requestId"] == "2"
    assert went_on["ModifyAccountResponse"][0]["_jsns"] == "urn:zimbraAdmin"
    assert state.account_by_name("anna@example.com").first("zimbraCOSId") == SYNC
