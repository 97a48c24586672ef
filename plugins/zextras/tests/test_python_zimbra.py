"""python-zimbra (the Zimbra community's client, from PyPI) drives the mock unchanged, in
JSON and in XML (SOAP 1.2), and every write it makes shows in the mock's state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState

from mailadmin.mock import MockServer, serve

pythonzimbra = pytest.importorskip("pythonzimbra")
from pythonzimbra.communication import Communication  # noqa: E402
from pythonzimbra.tools import auth  # noqa: E402
from pythonzimbra.tools.dict import get_value  # noqa: E402

FORMATS = ["json", "xml"]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[MockServer, str]]:
    server = MockServer(ZextrasMock)
    with serve(server) as url:
        yield server, f"{url}/service/admin/soap"


@pytest.fixture
def mock(served: tuple[MockServer, str]) -> tuple[ZextrasState, str]:
    server, url = served
    server.reset()
    assert isinstance(server.state, ZextrasState)
    return server.state, url


def _token(url: str, kind: str) -> object:
    token = auth.authenticate(
        url, "admin@example.com", "secret", admin_auth=True, request_type=kind, raise_on_error=True
    )
    # The server sends authToken as an array of one element; python-zimbra's JSON filter
    # unwraps the array but keeps {"_content": token}, and sends that back as it is.
    value = token["_content"] if isinstance(token, dict) else token
    assert isinstance(value, str) and value.startswith("0_")
    return token


def _send(url: str, kind: str, token: object, name: str, body: dict[str, object]) -> Any:
    comm = Communication(url)
    request = comm.gen_request(request_type=kind, token=token)
    request.add_request(name, body, "urn:zimbraAdmin")
    return comm.send_request(request)


@pytest.mark.parametrize("kind", FORMATS)
def test_authenticate_and_read_an_account(mock: tuple[ZextrasState, str], kind: str) -> None:
    state, url = mock
    token = _token(url, kind)
    response = _send(
        url,
        kind,
        token,
        "GetAccountRequest",
        {"account": {"by": "name", "_content": "ben@example.com"}},
    )
    assert not response.is_fault()
    account = response.get_response()["GetAccountResponse"]["account"]
    assert account["name"] == "ben@example.com"
    assert account["id"] == state.account_by_name("ben@example.com").id
    assert get_value(account["a"], "zimbraCOSId") == state.cos_by("name", "sync").id


@pytest.mark.parametrize("kind", FORMATS)
def test_modify_account_changes_the_cos_in_the_state(
    mock: tuple[ZextrasState, str], kind: str
) -> None:
    state, url = mock
    token = _token(url, kind)
    anna = state.account_by_name("anna@example.com")
    collaborate = state.cos_by("name", "collaborate").id
    response = _send(
        url,
        kind,
        token,
        "ModifyAccountRequest",
        {"id": anna.id, "a": [{"n": "zimbraCOSId", "_content": collaborate}]},
    )
    assert not response.is_fault()
    assert state.account_by_name("anna@example.com").first("zimbraCOSId") == collaborate
    assert state.effective_cos(anna).name == "collaborate"


@pytest.mark.parametrize("kind", FORMATS)
def test_count_account_and_search_count(mock: tuple[ZextrasState, str], kind: str) -> None:
    _, url = mock
    token = _token(url, kind)
    counts = _send(
        url,
        kind,
        token,
        "CountAccountRequest",
        {"domain": {"by": "name", "_content": "example.com"}},
    ).get_response()["CountAccountResponse"]["cos"]
    assert {c["name"]: int(c["_content"]) for c in counts} == {
        "mail": 3,
        "sync": 1,
        "collaborate": 1,
    }
    found = _send(
        url,
        kind,
        token,
        "SearchDirectoryRequest",
        {"query": "(zimbraCalResType=*)", "types": "resources", "countOnly": 1},
    ).get_response()["SearchDirectoryResponse"]
    assert int(found["num"]) == 2


@pytest.mark.parametrize("kind", FORMATS)
def test_create_account_is_in_the_state(mock: tuple[ZextrasState, str], kind: str) -> None:
    state, url = mock
    token = _token(url, kind)
    sync = state.cos_by("name", "sync").id
    response = _send(
        url,
        kind,
        token,
        "CreateAccountRequest",
        {
            "name": "new@example.com",
            "password": "pw-1",
            "a": [{"n": "zimbraCOSId", "_content": sync}],
        },
    )
    assert not response.is_fault()
    created = response.get_response()["CreateAccountResponse"]["account"]
    account = state.account_by_name("new@example.com")
    assert created["id"] == account.id
    assert account.first("zimbraCOSId") == sync and account.password == "pw-1"


@pytest.mark.parametrize("kind", FORMATS)
def test_faults_are_read_by_the_client(mock: tuple[ZextrasState, str], kind: str) -> None:
    _, url = mock
    token = _token(url, kind)
    response = _send(
        url,
        kind,
        token,
        "GetAccountRequest",
        {"account": {"by": "name", "_content": "nobody@example.com"}},
    )
    assert response.is_fault()
    assert response.get_fault_code() == "account.NO_SUCH_ACCOUNT"
    assert response.get_fault_message() == "no such account: nobody@example.com"


@pytest.mark.parametrize("kind", FORMATS)
def test_wrong_password_fails_authentication(mock: tuple[ZextrasState, str], kind: str) -> None:
    _, url = mock
    token = auth.authenticate(url, "admin@example.com", "nope", admin_auth=True, request_type=kind)
    assert token is None


@pytest.mark.parametrize("kind", FORMATS)
def test_zextras_licence_request(mock: tuple[ZextrasState, str], kind: str) -> None:
    """The sensu check's call: ``zextras`` with module, action and targetServers."""
    state, url = mock
    token = _token(url, kind)
    response = _send(
        url,
        kind,
        token,
        "zextras",
        {
            "module": "ZxCore",
            "action": "getLicenseInfo",
            "targetServers": [{"_content": "mail.example.com"}],
        },
    )
    content = json.loads(response.get_response()["response"]["content"])
    info = content["response"]["mail.example.com"]["response"]
    assert info["type"] == "Trial" and info["accountCount"] == state.licensed_mailboxes() == 5


@pytest.mark.parametrize("kind", FORMATS)
def test_batch_request(mock: tuple[ZextrasState, str], kind: str) -> None:
    """python-zimbra's batch mode: answers tagged by requestId, a fault in the middle."""
    state, url = mock
    comm = Communication(url)
    request = comm.gen_request(request_type=kind, token=_token(url, kind), set_batch=True)
    sync = state.cos_by("name", "sync").id
    anna = state.account_by_name("anna@example.com").id
    first = request.add_request(
        "ModifyAccountRequest",
        {"id": anna, "a": [{"n": "zimbraCOSId", "_content": sync}]},
        "urn:zimbraAdmin",
    )
    second = request.add_request(
        "GetAccountRequest",
        {"account": {"by": "name", "_content": "nobody@example.com"}},
        "urn:zimbraAdmin",
    )
    third = request.add_request("GetAllCosRequest", {}, "urn:zimbraAdmin")
    response = comm.send_request(request)
    assert response.is_batch() and response.is_fault()
    info = response.get_batch()
    assert {str(k): v for k, v in info["idToName"].items()} == {
        str(first): "ModifyAccountResponse",
        str(third): "GetAllCosResponse",
    }
    # (python-zimbra's XML get_fault_code() expects every batch answer to be a fault, so the
    # fault is read by its requestId, which works in both forms.)
    fault = response.get_response(second)["Fault"]
    assert fault["Detail"]["Error"]["Code"] == "account.NO_SUCH_ACCOUNT"
    if kind == "json":
        assert response.get_fault_code() == {str(second): "account.NO_SUCH_ACCOUNT"}
    modified = response.get_response(first)["ModifyAccountResponse"]["account"]
    # The client unwraps a one-element list but not the lists inside it (JSON form).
    modified = modified[0] if isinstance(modified, list) else modified
    assert modified["id"] == anna
    assert state.account_by_name("anna@example.com").first("zimbraCOSId") == sync
