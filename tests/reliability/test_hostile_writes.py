"""Hostile answers to every write, on every platform: a refusal inside a 200, an answer of
another operation, fields of the wrong type. Whatever the write (create, delete, add-on,
password, suspend, resume), such an answer is never recorded ``changed`` while the platform
still holds the old state; an answer that is neither a refusal nor the operation's own is
``unknown``, and the provider reads the platform back before saying so.

The mock answers the hostile body in place of the real one (the request never reaches its
state), so the state must be what it was: that is checked in the mock's own state. The
figures join the ``hostile:`` summary line (``N write answers, N never recorded changed``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mailadmin.contract import errors
from mailadmin.mock import MockServer
from mailadmin.mock.faults import Fault

KINDS = ("refused_in_200", "other_operation", "wrong_type")
OPERATIONS = ("create", "delete", "addon", "password", "suspend", "resume")
PLATFORMS = ("ox", "zextras", "exchange", "mailcow")
PASSWORD = "Ve7y-long-Passw0rd!"


@dataclass
class Rig:
    """One platform: its mock, a provider over it, the mailbox written and how the mock's
    own state answers "is this mailbox there" and "what does it hold"."""

    server: MockServer
    provider: Any
    tenant: dict[str, Any]
    mailbox: dict[str, Any]
    new: dict[str, Any]
    #: wire operation (route) of each write
    routes: dict[str, str]
    #: hostile answer of ``kind`` to the write routed ``route``
    answer: Callable[[str, str], Fault]
    #: the mock's own view: a snapshot of what the operations change
    state: Callable[[], Any]


# -- hostile answers, per platform --------------------------------------------------------------


def _soap_fault_answer(route: str, content: bytes, content_type: str) -> Fault:
    return Fault(
        kind="status",
        status=200,
        operation=route,
        body=content.decode("utf-8"),
        content_type=content_type,
    )


def _ox_answer(kind: str, route: str) -> Fault:
    from mailadmin_ox.mock.platform import _fault_response
    from mailadmin_ox.mock.state.base import OXFault
    from mailadmin_ox.namespaces import S

    from mailadmin.mock.soap import soap_response
    from mailadmin.sdk import Node, SoapVersion

    operation = route.rpartition(".")[2]
    if kind == "refused_in_200":
        answer = _fault_response(OXFault("NoSuchUserException", "No such user 7 in context 1"))
    elif kind == "other_operation":
        answer = soap_response(
            Node(S, "getAccessCombinationNameResponse", None, (Node(S, "return", "webmail"),)),
            version=SoapVersion.SOAP11,
        )
    else:
        answer = soap_response(
            Node(
                S,
                f"{operation}Response",
                None,
                (Node(S, "return", None, (Node(S, "id", "not-a-number"),)),),
            ),
            version=SoapVersion.SOAP11,
        )
    return _soap_fault_answer(route, answer.content, answer.headers["content-type"])


def _zextras_answer(kind: str, route: str) -> Fault:
    response = route[: -len("Request")] + "Response"
    if kind == "refused_in_200":
        body: Any = {
            "Body": {
                "Fault": {
                    "Code": {"Value": "soap:Sender"},
                    "Reason": {"Text": "no such account: anna@example.com"},
                    "Detail": {"Error": {"Code": "account.NO_SUCH_ACCOUNT", "_jsns": "urn:zimbra"}},
                }
            }
        }
    elif kind == "other_operation":
        body = {"Body": {"GetVersionInfoResponse": {"info": {"version": "10.1.0"}}}}
    else:
        # The response's object as a string, or the response itself a list.
        field = "domain" if "Domain" in route else "account"
        inner: Any = {field: "anna"} if route != "SetPasswordRequest" else ["done"]
        body = {"Body": {response: inner}}
    return Fault.json_answer(body, operation=route)


def _exchange_answer(kind: str, route: str) -> Fault:
    if route == "update user":  # Graph
        if kind == "refused_in_200":
            error = {"code": "Request_ResourceNotFound", "message": "Resource does not exist"}
            return Fault.json_answer({"error": error}, operation=route)
        if kind == "other_operation":
            skus = {"value": [{"skuId": "4b9405b0-7788-4568-add1-99614e613b69"}]}
            return Fault.json_answer(skus, operation=route)
        return Fault.json_answer({"accountEnabled": "yes"}, operation=route)
    from mailadmin_exchange.mock.handlers import admin_error
    from mailadmin_exchange.mock.state import CmdletError

    if kind == "refused_in_200":
        answer = admin_error(
            404,
            CmdletError(
                404,
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                "The operation couldn't be performed because object 'x' couldn't be found.",
                error_id="Ex6F9304",
            ),
        )
        return _soap_fault_answer(route, answer.content, answer.headers["content-type"])
    if kind == "other_operation":
        # Get-Mailbox's rows (of another mailbox) where the cmdlet returns none, or its own.
        row = {"Identity": "ben", "PrimarySmtpAddress": "ben@contoso.onmicrosoft.com"}
        return Fault.json_answer({"value": [row]}, operation=route)
    return Fault.json_answer({"value": "no rows"}, operation=route)


#: mailcow's success key of each write (what another operation's answer carries instead)
_MAILCOW_OTHER = {
    "add_mailbox": "domain_modified",
    "delete_mailbox": "mailbox_modified",
    "edit_domain": "mailbox_modified",
    "edit_mailbox": "domain_modified",
}


def _mailcow_answer(kind: str, route: str) -> Fault:
    if kind == "refused_in_200":
        body: Any = [{"type": "danger", "msg": ["access_denied"]}]
    elif kind == "other_operation":
        body = [{"type": "success", "msg": [_MAILCOW_OTHER[route], "example.com"]}]
    else:
        body = [{"type": "success", "msg": 42}]
    return Fault.json_answer(body, operation=route)


def _snapshot(server: MockServer) -> str:
    """The mock's whole state, comparable."""
    return json.dumps(server.snapshot(), sort_keys=True, default=str)


# -- the rigs -----------------------------------------------------------------------------------


def _ox_rig() -> Rig:
    from mailadmin_ox.demo import sample_config
    from mailadmin_ox.mock.platform import OXMock
    from mailadmin_ox.provider import OXProvider

    server = MockServer(OXMock)
    settings = {
        "mode": "master_admin",
        "credentials": {"username": "oxadminmaster", "secret": "secret"},
        "plans": sample_config()["instances"]["ox"]["plans"],
        "retries": 0,
    }
    provider = OXProvider(settings, instance="ox-test", http=server.transport())
    tenant = {"name": "example.com", "native_id": "1"}
    return Rig(
        server,
        provider,
        tenant,
        {"tenant": tenant, "address": "anna@example.com"},
        {"address": "newbie@example.com"},
        {
            "create": "OXUserService.create",
            "delete": "OXUserService.delete",
            "addon": "OXContextService.change",
            "password": "OXUserService.change",
            "suspend": "OXUserService.change",
            "resume": "OXUserService.change",
        },
        _ox_answer,
        lambda: _snapshot(server),
    )


def _zextras_rig() -> Rig:
    from mailadmin_zextras.demo import sample_config
    from mailadmin_zextras.mock.platform import ZextrasMock
    from mailadmin_zextras.provider import ZextrasProvider

    server = MockServer(ZextrasMock)
    instance = sample_config()["instances"]["zextras"]
    settings = {**{k: v for k, v in instance.items() if k != "provider"}, "retries": 0}
    provider = ZextrasProvider(settings, instance="zx-test", http=server.transport())
    tenant = {"name": "example.com"}
    return Rig(
        server,
        provider,
        tenant,
        {"tenant": tenant, "address": "anna@example.com"},
        {"address": "newbie@example.com"},
        {
            "create": "CreateAccountRequest",
            "delete": "DeleteAccountRequest",
            "addon": "ModifyDomainRequest",
            "password": "SetPasswordRequest",
            "suspend": "ModifyAccountRequest",
            "resume": "ModifyAccountRequest",
        },
        _zextras_answer,
        lambda: _snapshot(server),
    )


def _exchange_rig() -> Rig:
    from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
    from mailadmin_exchange.mock.platform import ExchangeMock
    from mailadmin_exchange.provider import ExchangeProvider

    server = MockServer(ExchangeMock)
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
    tenant = {"name": DEFAULT_TENANT}
    return Rig(
        server,
        provider,
        tenant,
        {"tenant": tenant, "address": f"anna@{DEFAULT_TENANT}"},
        {"address": f"desk@{DEFAULT_TENANT}", "kind": "shared"},
        {
            "create": "New-Mailbox",
            "delete": "Remove-Mailbox",
            "addon": "Set-Mailbox",
            "password": "update user",
            "suspend": "update user",
            "resume": "update user",
        },
        _exchange_answer,
        lambda: _snapshot(server),
    )


def _mailcow_rig() -> Rig:
    from mailadmin_mailcow.mock import MailcowMock
    from mailadmin_mailcow.provider import MailcowProvider

    server = MockServer(MailcowMock)
    settings = {
        "endpoint": "http://mailcow.test",
        "credentials": {"username": "api", "secret": "0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"},
        "retries": 0,
    }
    provider = MailcowProvider(settings, instance="mc-test", http=server.transport())
    tenant = {"name": "example.com"}
    return Rig(
        server,
        provider,
        tenant,
        {"tenant": tenant, "address": "anna@example.com"},
        {"address": "newbie@example.com"},
        {
            "create": "add_mailbox",
            "delete": "delete_mailbox",
            "addon": "edit_domain",
            "password": "edit_mailbox",
            "suspend": "edit_mailbox",
            "resume": "edit_mailbox",
        },
        _mailcow_answer,
        lambda: _snapshot(server),
    )


RIGS: dict[str, Callable[[], Rig]] = {
    "ox": _ox_rig,
    "zextras": _zextras_rig,
    "exchange": _exchange_rig,
    "mailcow": _mailcow_rig,
}


async def _prepare(rig: Rig, operation: str) -> Callable[[], Awaitable[Any]]:
    """Bring the platform to where the write changes something; the write to send."""
    p, mailbox, tenant = rig.provider, rig.mailbox, rig.tenant
    new_ref = {"tenant": tenant, "address": rig.new["address"]}
    if operation == "create":
        return lambda: p.create_mailbox(tenant, rig.new)
    if operation == "delete":
        await p.create_mailbox(tenant, rig.new)
        return lambda: p.delete_mailbox(new_ref)
    if operation == "addon":
        await p.apply_addon(tenant, {"name": "storage_gb"}, 40)
        return lambda: p.apply_addon(tenant, {"name": "storage_gb"}, 70)
    if operation == "password":
        return lambda: p.set_password(mailbox, PASSWORD)
    if operation == "suspend":
        await p.resume_mailbox(mailbox)
        return lambda: p.suspend_mailbox(mailbox)
    await p.suspend_mailbox(mailbox)
    return lambda: p.resume_mailbox(mailbox)


async def hostile_write(platform: str, operation: str, kind: str) -> tuple[str, bool, bool]:
    """Send ``operation`` on ``platform`` answered by a ``kind`` hostile answer; returns
    (outcome or error code, mock state kept, read back after the write)."""
    rig = RIGS[platform]()
    try:
        write = await _prepare(rig, operation)
        before = rig.state()
        rig.server.inject(rig.answer(kind, rig.routes[operation]))
        sent = len(rig.server.requests)
        try:
            result = await write()
        except errors.MailadminError as exc:
            outcome = exc.code
        else:
            outcome = result.outcome.value
        after = rig.server.requests[sent:]
        first = next((n for n, r in enumerate(after) if r.write), None)
        read_back = first is not None and any(not r.write for r in after[first:])
        rig.server.clear_faults()
        return outcome, rig.state() == before, read_back
    finally:
        await rig.provider.aclose()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("platform", PLATFORMS)
async def test_a_hostile_answer_to_any_write_is_never_changed(
    platform, operation, kind, hostile_tally
):
    pytest.importorskip(f"mailadmin_{platform}")
    outcome, kept, read_back = await hostile_write(platform, operation, kind)
    hostile_tally.write_answers += 1
    if outcome != "changed" and kept:
        hostile_tally.write_answers_kept += 1
    assert kept, f"{platform} {operation}: the hostile answer cannot have changed the mock"
    assert outcome != "changed", f"{platform} {operation}: a {kind} answer was recorded changed"
    if kind == "refused_in_200":
        return
    # Nobody can say whether the write landed: unknown, and the platform read back.
    assert outcome == "unknown", f"{platform} {operation}: a {kind} answer came back {outcome}"
    if operation != "password":  # a password cannot be read back on any platform
        assert read_back, f"{platform} {operation}: an unknown answer was not read back"
