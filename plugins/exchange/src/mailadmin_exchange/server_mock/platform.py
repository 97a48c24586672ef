"""The Exchange Server mock platform: the ``/PowerShell`` endpoint over WS-Management.

One address, ``POST /PowerShell``, answers every WS-Management action pypsrp sends for a
runspace pool (Create, Command, Send, Receive, Signal, Delete, and the Get of
``is_alive``); each action is its own route so recordings and faults name it
(``create``, ``receive``, ...) and a Command is recorded under its cmdlet
(``set-mailbox``: a write; ``get-mailbox``: a read). Basic authentication against the
seeded credentials; the resource URI must be the ``Microsoft.Exchange`` configuration.

Run it: ``MockServer(ExchangeServerMock)`` and ``serve(server)``; drive it with pypsrp's
``WSMan(host, port=..., path="PowerShell", ssl=False, auth="basic",
encryption="never")`` and ``RunspacePool(wsman, configuration_name="Microsoft.Exchange")``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, ClassVar

import httpx

from mailadmin.mock import MockPlatform, MockRequest, Reply, Route
from mailadmin_exchange.server_mock.cmdlets import run_pipeline
from mailadmin_exchange.server_mock.psrp import Shell
from mailadmin_exchange.server_mock.state import ServerState
from mailadmin_exchange.server_mock.wsman import (
    ACTIONS,
    NS,
    WSManError,
    WSManRequest,
    envelope_response,
    fault_response,
    read_request,
)

if TYPE_CHECKING:
    from mailadmin.mock import Fault

__all__ = ["RESOURCE_URI", "ExchangeServerMock"]

RESOURCE_URI = "http://schemas.microsoft.com/powershell/Microsoft.Exchange"
_PATH = "/PowerShell"
_SHELL_NOT_FOUND = 2150858843
_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"


def _user(request: MockRequest, state: ServerState) -> str:
    """The Basic-authenticated user; 401 (pypsrp's ``AuthenticationError``) otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", None  # type: ignore[assignment]
        for known, secret in state.data.credentials.items():
            if known.lower() == user.lower() and secret == password:
                return known
    raise Reply(
        httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="ex1.contoso.local"'})
    )


def _shell(request: WSManRequest, state: ServerState) -> Shell:
    shell = state.shells.get(request.shell_id or "")
    if shell is None:
        raise WSManError(
            _SHELL_NOT_FOUND,
            f"The request for the Windows Remote Shell with ShellId {request.shell_id} failed "
            "because the shell was not found on the server. Possible causes are: the specified "
            "ShellId is incorrect or the shell no longer exists on the server. Provide the "
            "correct ShellId or create a new shell and try again.",
        )
    return shell


def _bytes(text: str | None) -> bytes:
    try:
        return base64.b64decode((text or "").strip(), validate=True)
    except binascii.Error:
        raise WSManError(2150858817, "The stream data is not valid base64.") from None


def _create(request: WSManRequest, state: ServerState, user: str) -> httpx.Response:
    if request.resource_uri != RESOURCE_URI:
        raise WSManError(
            2150858811,
            f"The WS-Management service cannot process the request. The resource URI "
            f"({request.resource_uri}) was not found in the WS-Management catalog.",
        )
    version = request.options.get("protocolversion", "")
    if not version.startswith("2."):
        raise WSManError(
            2152991685,
            "The client's PowerShell remoting protocol version is not supported by the server.",
        )
    if state.open_shells(user) >= state.data.max_concurrency:
        state.shells_throttled += 1
        raise WSManError(
            2144108120,
            "Fail to create a runspace because you have exceeded the maximum number of "
            f"connections allowed : {state.data.max_concurrency} for the policy party : "
            "MaxConcurrency. Please close existing runspace and try again.",
        )
    shell_element = request.find("rsp:Shell")
    creation = request.find("rsp:Shell/{http://schemas.microsoft.com/powershell}creationXml")
    if shell_element is None or creation is None:
        raise WSManError(2150858817, "The Create request carries no PowerShell creationXml.")
    shell_id = (shell_element.get("ShellId") or "").upper()
    if not shell_id or shell_id in state.shells:
        raise WSManError(2150858817, "The Create request names no new ShellId.")
    shell = Shell(shell_id, user, _bytes(creation.text), lambda s, c: run_pipeline(state, s, c))
    state.shells[shell_id] = shell
    state.shells_opened += 1
    return envelope_response(
        request,
        "<wst:ResourceCreated><wsa:Address>http://ex1.contoso.local/PowerShell</wsa:Address>"
        f"<wsa:ReferenceParameters><wsman:ResourceURI>{RESOURCE_URI}</wsman:ResourceURI>"
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector>'
        "</wsman:SelectorSet></wsa:ReferenceParameters></wst:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{RESOURCE_URI}</rsp:ResourceUri><rsp:Owner>{user}</rsp:Owner>"
        "<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>"
        "</rsp:Shell>",
    )


def _command(request: WSManRequest, state: ServerState) -> httpx.Response:
    shell = _shell(request, state)
    line = request.find("rsp:CommandLine")
    if line is None or not line.get("CommandId"):
        raise WSManError(2150858817, "The Command request carries no CommandLine CommandId.")
    command_id = line.get("CommandId", "").upper()
    arguments = line.find("rsp:Arguments", NS)
    shell.command(command_id, _bytes(arguments.text if arguments is not None else ""))
    return envelope_response(
        request,
        f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>",
    )


def _send(request: WSManRequest, state: ServerState) -> httpx.Response:
    shell = _shell(request, state)
    for stream in request.body.findall("rsp:Send/rsp:Stream", NS) if request.body else []:
        command_id = stream.get("CommandId")
        if command_id and not shell.has_pipeline(command_id):
            raise WSManError(2150858843, f"The command {command_id} was not found in the shell.")
        shell.send(command_id, _bytes(stream.text))
    return envelope_response(request, "<rsp:SendResponse/>")


def _receive(request: WSManRequest, state: ServerState) -> httpx.Response:
    shell = _shell(request, state)
    desired = request.find("rsp:Receive/rsp:DesiredStream")
    command_id = desired.get("CommandId") if desired is not None else None
    if command_id and not shell.has_pipeline(command_id):
        raise WSManError(2150858843, f"The command {command_id} was not found in the shell.")
    data, done = shell.receive(command_id)
    target = f' CommandId="{command_id.upper()}"' if command_id else ""
    body = f'<rsp:ReceiveResponse><rsp:Stream Name="stdout"{target}>'
    body += base64.b64encode(data).decode("ascii") + "</rsp:Stream>"
    if command_id:
        body += f'<rsp:CommandState{target} State="{_DONE if done else _RUNNING}"/>'
    return envelope_response(request, body + "</rsp:ReceiveResponse>")


def _signal(request: WSManRequest, state: ServerState) -> httpx.Response:
    shell = _shell(request, state)
    signal = request.find("rsp:Signal")
    code = request.find("rsp:Signal/rsp:Code")
    if signal is not None and signal.get("CommandId"):
        shell.signal(signal.get("CommandId", ""), (code.text or "") if code is not None else "")
    return envelope_response(request, "<rsp:SignalResponse/>")


def _delete(request: WSManRequest, state: ServerState) -> httpx.Response:
    _shell(request, state)
    del state.shells[request.shell_id or ""]
    return envelope_response(request)


def _get(request: WSManRequest, state: ServerState) -> httpx.Response:
    shell = _shell(request, state)
    return envelope_response(
        request,
        f"<rsp:Shell><rsp:ShellId>{shell.shell_id}</rsp:ShellId><rsp:State>Connected"
        "</rsp:State></rsp:Shell>",
    )


def wsman(request: MockRequest, state: ServerState) -> httpx.Response:
    """Answer one WS-Management request to ``/PowerShell``."""
    user = _user(request, state)
    try:
        parsed = read_request(request.body)
    except WSManError as exc:
        return fault_response("", exc)
    try:
        if parsed.operation == "create":
            return _create(parsed, state, user)
        shell = state.shells.get(parsed.shell_id or "")
        if shell is not None and shell.user != user:
            raise WSManError(2150858843, "The shell was not found on the server.")
        handler = {
            "command": _command,
            "send": _send,
            "receive": _receive,
            "signal": _signal,
            "delete": _delete,
            "get": _get,
        }.get(parsed.operation or "")
        if handler is None:
            raise WSManError(
                2150858816,
                f"The WS-Management service does not support the action {parsed.action}.",
            )
        return handler(parsed, state)
    except WSManError as exc:
        return fault_response(parsed.message_id, exc)


#: Cmdlets a Command may run, each its own route (operation: the cmdlet, lower case) so
#: recordings and faults tell reads from writes, as the Online mock's routes do.
_READ_CMDLETS = (
    "Get-Mailbox",
    "Get-CASMailbox",
    "Get-MailboxStatistics",
    "Get-AcceptedDomain",
    "Get-ExchangeServerAccessLicense",
    "Get-ExchangeServerAccessLicenseUser",
)
_WRITE_CMDLETS = ("Set-Mailbox", "Set-CASMailbox", "New-Mailbox", "Remove-Mailbox")
_CMD = re.compile(rb'<S N="Cmd">([^<]{1,200})</S>')


def _routes() -> tuple[Route, ...]:
    routes = [
        Route("POST", _PATH, wsman, operation=c.lower(), write=c in _WRITE_CMDLETS, name=c)
        for c in _READ_CMDLETS + _WRITE_CMDLETS
    ]
    # Shell management changes no data: Create, Receive, Send, Signal, Delete, Get.
    routes += [
        Route("POST", _PATH, wsman, operation=op, name=op) for op in sorted(set(ACTIONS.values()))
    ]
    routes.append(Route("POST", _PATH, wsman, name="wsman"))
    return tuple(routes)


def _cmdlet(request: WSManRequest) -> str | None:
    """The first cmdlet of a Command's CREATE_PIPELINE (its first fragment)."""
    arguments = request.find("rsp:CommandLine/rsp:Arguments")
    try:
        data = base64.b64decode((arguments.text or "") if arguments is not None else "")
    except binascii.Error:
        return None
    found = _CMD.search(data)
    return found.group(1).decode("utf-8", "replace").lower() if found else None


class ExchangeServerMock(MockPlatform):
    """Exchange Server 2016/2019's remote PowerShell endpoint, multi-tenant by ABPs."""

    name = "exchserver"
    state_class = ServerState
    routes: ClassVar[tuple[Route, ...]] = _routes()
    # Loopback: Basic over plain http is allowed only there (the in-process front door
    # never opens a socket).
    base_url = "http://127.0.0.1"

    def operation_of(self, request: MockRequest) -> str | None:
        """The WS-Management action of the request (``create``, ``receive``, ...); for a
        Command, the cmdlet it runs (``set-mailbox``)."""
        if request.method != "POST":
            return None
        try:
            parsed = read_request(request.body)
        except WSManError:
            return None
        if parsed.operation == "command":
            cmdlet = _cmdlet(parsed)
            known = {c.lower() for c in _READ_CMDLETS + _WRITE_CMDLETS}
            return cmdlet if cmdlet in known else "command"
        return parsed.operation

    def unknown(self, request: MockRequest) -> httpx.Response:
        """IIS's 404 for any other address."""
        return httpx.Response(
            404,
            headers={"Content-Type": "text/html"},
            content=b"<html><body><h2>404 - File or directory not found.</h2></body></html>",
        )

    def fault_response(self, fault: Fault, request: MockRequest) -> httpx.Response | None:
        """An injected ``status`` fault is the WSManFault of a dropped shell (the shell was
        recycled), HTTP 500."""
        if fault.kind.value != "status" or fault.status_code != 500:
            return None
        try:
            message_id = read_request(request.body).message_id
        except WSManError:
            message_id = ""
        return fault_response(
            message_id,
            WSManError(_SHELL_NOT_FOUND, "The shell was not found on the server."),
        )
