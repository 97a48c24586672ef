"""The fault matrix: every provider x every operation x every fault its mock can inject.

What each case must end in is data (:data:`READ_OUTCOMES`, :data:`WRITE_OUTCOMES`,
:data:`OVERRIDES`): ``ok`` (retried where needed and succeeded) or the typed error the caller
gets. Every case also checks that the mock's state and the journal agree:

- a write the journal records ``done`` left the mock exactly as the same write without a
  fault does;
- ``failed`` left the mock as it was (nothing half-applied is reported failed);
- ``partial`` left part of it (neither the start state nor the target);
- ``unknown`` left either, and says so;
- a read changed nothing and wrote no journal row.

Faults come from the mock toolkit (``Fault``: status, rate_limit, drop, malformed,
truncate, with ``handled`` for "applied, answer lost"), from the mocks' own state (sessions
and tokens ending) and, for what only a network does (a refused connection, a timeout
before or after the platform applied the change), from a transport wrapped around the
mock. Waits between retries are recorded, not slept, so the file runs in seconds.

The journal's outcomes are issue 12's: ``failed`` only when nothing was applied (read
back, or refused by the platform), ``unknown`` when an unverified error leaves it open,
``partial``. A row whose honest outcome needs more than the journal gives yet is skipped
with that reason, visibly.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, NewMailbox
from mailadmin.mock import Fault, MockServer

from .conftest import Summary

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROVIDERS = ("memory", "ox", "zextras", "exchange")
OPERATIONS = (
    "set_plan",
    "count_mailboxes",
    "apply_addon",
    "get_licence",
    "create_mailbox",
    "delete_mailbox",
)
WRITES = frozenset({"set_plan", "apply_addon", "create_mailbox", "delete_mailbox"})
#: Requests that sign in; a fault aimed at "the operation's request" never means these.
SIGN_IN = frozenset({"oauth2_token", "AuthRequest"})
#: Where the mocks keep what they issued at sign-in (Zimbra sessions, OAuth tokens).
SIGN_IN_PARTS = ("sessions", "oauth")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _masked(data: Any) -> Any:
    """``data`` with generated ids and passwords masked: two runs of one create make
    different ones."""
    return _no_passwords(json.loads(_UUID.sub("<id>", json.dumps(data, default=str))))


def _no_passwords(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: "<secret>" if k == "password" else _no_passwords(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_no_passwords(v) for v in data]
    return data


@dataclass(frozen=True)
class Subjects:
    """What each operation is called with on one platform (its demo's data)."""

    tenant: str
    mailbox: str
    plan: str
    addon: str
    quantity: int
    new_address: str
    new_kind: MailboxKind
    doomed: str


SUBJECTS = {
    "memory": Subjects(
        "example.net",
        "anna@example.net",
        "sync",
        "mailboxes",
        30,
        "newbox@example.net",
        MailboxKind.USER,
        "ben@example.net",
    ),
    "ox": Subjects(
        "example.com",
        "anna@example.com",
        "sync",
        "mailboxes",
        30,
        "newbox@example.com",
        MailboxKind.USER,
        "ben@example.com",
    ),
    "zextras": Subjects(
        "example.org",
        "anna@example.org",
        "sync",
        "mailboxes",
        30,
        "newbox@example.org",
        MailboxKind.USER,
        "ben@example.org",
    ),
    # Exchange user mailboxes come with Entra users: create and delete a shared one; its
    # seats are Microsoft licences, so the add-on it holds is storage.
    "exchange": Subjects(
        "contoso.onmicrosoft.com",
        "anna@contoso.onmicrosoft.com",
        "sync",
        "storage_gb",
        7,
        "newbox@contoso.onmicrosoft.com",
        MailboxKind.SHARED,
        "info@contoso.onmicrosoft.com",
    ),
}


# -- the faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultSpec:
    """One fault: where it hits (``target``: the operation's first request, the second
    write of a two-step change, or the second page of a listing) and how.

    ``mock``: a toolkit fault (its ``operation`` and ``calls`` are filled in per case);
    ``wire``: what the wrapped transport does (``refuse``: the connection is refused;
    ``timeout_before``: the request times out before reaching the platform;
    ``timeout_after``: the platform applies it, then the answer times out; ``expire``:
    the platform's sessions end right after the request is answered); ``before``: a
    state action run before the call; ``providers``/``operations``: where it applies.
    """

    description: str
    target: str = "first"
    mock: dict[str, Any] | None = None
    wire: str | None = None
    before: Callable[[MockServer], None] | None = None
    providers: frozenset[str] | None = None
    operations: frozenset[str] | None = None


def _end_sessions(server: MockServer) -> None:
    """The platform's sign-ins end (Zimbra's AUTH_EXPIRED, an expired OAuth token)."""
    state: Any = server.state
    if hasattr(state, "expire_sessions"):
        state.expire_sessions()
    else:
        state.oauth.expire_all()


def _ox_unknown_fault() -> str:
    return (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        "<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Something new went"
        " wrong</faultstring><detail><ns1:QuantumFluxException"
        ' xmlns:ns1="http://soap.admin.openexchange.com"><ns1:flux>42</ns1:flux>'
        "</ns1:QuantumFluxException></detail></soap:Fault></soap:Body></soap:Envelope>"
    )


def _zimbra_unknown_fault() -> str:
    return (
        '{"Header": {"context": {"_jsns": "urn:zimbra"}}, "Body": {"Fault": {"Code": '
        '{"Value": "soap:Receiver"}, "Reason": {"Text": "something new went wrong"}, '
        '"Detail": {"Error": {"Code": "zextras.QUANTUM_FLUX", "Trace": "qtp-1", '
        '"_jsns": "urn:zimbra"}}}}, "_jsns": "urn:zimbraSoap"}'
    )


def _expired_page() -> str:
    # The admin API's answer to a next link it no longer serves (reference 1.6).
    from mailadmin_exchange.mock.handlers import _expired_page as page

    return page().text


SESSIONS = frozenset({"zextras", "exchange"})
SOAP = frozenset({"ox", "zextras"})

FAULTS: dict[str, FaultSpec] = {
    "connect_refused": FaultSpec("the connection is refused once", wire="refuse"),
    "timeout_before": FaultSpec(
        "the request times out before the platform saw it", wire="timeout_before"
    ),
    "timeout_after": FaultSpec(
        "the platform applied the request, then the answer timed out", wire="timeout_after"
    ),
    "drop": FaultSpec("the connection drops before the platform acted", mock={"kind": "drop"}),
    "drop_after_applied": FaultSpec(
        "the platform applied the request, then the connection dropped",
        mock={"kind": "drop", "handled": True},
    ),
    "status_500": FaultSpec("HTTP 500 (the platform's error body)", mock={"kind": "status"}),
    "status_502": FaultSpec("HTTP 502 from a gateway", mock={"kind": "status", "status": 502}),
    "status_503": FaultSpec("HTTP 503", mock={"kind": "status", "status": 503}),
    "status_504": FaultSpec("HTTP 504 from a gateway", mock={"kind": "status", "status": 504}),
    "status_504_after_applied": FaultSpec(
        "the platform applied the request, the gateway answered 504",
        mock={"kind": "status", "status": 504, "handled": True},
    ),
    "rate_limit": FaultSpec(
        "HTTP 429 with Retry-After: 2", mock={"kind": "rate_limit", "retry_after": 2}
    ),
    "malformed": FaultSpec(
        "the platform applied the request, the body is malformed", mock={"kind": "malformed"}
    ),
    "truncated": FaultSpec(
        "the platform applied the request, the body is cut in half", mock={"kind": "truncate"}
    ),
    "session_expired_before": FaultSpec(
        "the sign-in (session, token) expired before the call",
        before=_end_sessions,
        providers=SESSIONS,
    ),
    "session_expired_mid_run": FaultSpec(
        "the sign-in expires right after the call's first request",
        wire="expire",
        providers=SESSIONS,
    ),
    "soap_fault_unknown_detail": FaultSpec(
        "a SOAP fault whose detail names an exception nobody knows",
        mock={"kind": "status", "status": 500, "body": "soap"},
        providers=SOAP,
    ),
    "exchange_403_nul": FaultSpec(
        "Exchange's 403 with a NUL body",
        mock={"kind": "status", "status": 403, "body": "\0"},
        providers=frozenset({"exchange"}),
    ),
    "exchange_paging_expired": FaultSpec(
        "Exchange's 400 for a next link it no longer serves",
        target="second_page",
        mock={"kind": "status", "status": 400, "body": "expired_page"},
        providers=frozenset({"exchange"}),
        operations=frozenset({"count_mailboxes"}),
    ),
    "fail_between_steps": FaultSpec(
        "HTTP 500 on the second request of a two-step change (the first was applied)",
        target="second_write",
        mock={"kind": "status", "status": 500},
        operations=WRITES,
    ),
}


# -- the expected outcomes ------------------------------------------------------------------

OK = "ok"
#: The write may have been applied and its answer is lost: only a read-back tells which.
LOST = "lost"

#: Reads: the transport resends what failed in transit or was throttled; a 500 and an
#: answer that cannot be read are the platform's word and end the call, typed.
READ_OUTCOMES: dict[str, str] = {
    "connect_refused": OK,
    "timeout_before": OK,
    "timeout_after": OK,
    "drop": OK,
    "drop_after_applied": OK,
    "status_500": "Unavailable",
    "status_502": OK,
    "status_503": OK,
    "status_504": OK,
    "status_504_after_applied": OK,
    "rate_limit": OK,
    "malformed": "ProtocolError",
    "truncated": "ProtocolError",
    "session_expired_before": OK,
    "session_expired_mid_run": OK,
    "soap_fault_unknown_detail": "ProviderError",
    "exchange_403_nul": "AuthenticationError",
    "exchange_paging_expired": "Unavailable",
}

#: Writes: resent only when the request surely never reached the platform (refused
#: connection, 429, 503); otherwise the provider reads the subject back (``LOST``) or the
#: error stands and the platform holds nothing of it.
WRITE_OUTCOMES: dict[str, str] = {
    "connect_refused": OK,
    "timeout_before": LOST,
    "timeout_after": LOST,
    "drop": LOST,
    "drop_after_applied": LOST,
    "status_500": "Unavailable",
    "status_502": LOST,
    "status_503": OK,
    "status_504": LOST,
    "status_504_after_applied": LOST,
    "rate_limit": OK,
    "malformed": LOST,
    "truncated": LOST,
    "session_expired_before": OK,
    "session_expired_mid_run": OK,
    "soap_fault_unknown_detail": "ProviderError",
    "exchange_403_nul": "AuthenticationError",
    "fail_between_steps": LOST,
}

#: Writes that read the platform back after a lost answer (issue 12's ``Change.verify``).
READS_BACK = frozenset(
    {("memory", "set_plan"), ("exchange", "apply_addon")}
    | {(p, "set_plan") for p in ("ox", "zextras", "exchange")}
    # Creations, deletions and add-ons of every platform plugin read back too (issue 29.3).
    | {
        (p, op)
        for p in ("ox", "zextras", "exchange", "mailcow")
        for op in ("create_mailbox", "delete_mailbox", "apply_addon")
    }
)

#: What a read-back makes of a lost answer, by what the platform holds: the whole target
#: (the call succeeds), nothing (the transport error stands), part of it (partial). After a
#: timeout nothing seen may still land, so it is unknown until ``journal resume``.
LOST_OUTCOMES: dict[str, str] = {
    "timeout_before": "OutcomeUnknown",
    "timeout_after": OK,
    "drop": "Unavailable",
    "drop_after_applied": OK,
    "status_502": "Unavailable",
    "status_504": "Unavailable",
    "status_504_after_applied": OK,
    "malformed": OK,
    "truncated": OK,
    "fail_between_steps": "PartialChange",
}

#: Without a read-back, a lost answer ends in the transport's error; whether the platform
#: applied the write is open, and the journal says so (``unknown``, settled by resume).
LOST_NO_READ_BACK: dict[str, str] = {
    "timeout_before": "Unavailable",
    "timeout_after": "Unavailable",
    "drop": "Unavailable",
    "drop_after_applied": "Unavailable",
    "status_502": "Unavailable",
    "status_504": "Unavailable",
    "status_504_after_applied": "Unavailable",
    "malformed": "ProtocolError",
    "truncated": "ProtocolError",
    "fail_between_steps": "Unavailable",
}

#: What the journal records for an error the provider did not read back (issue 12): an
#: error that leaves open whether the write landed (no answer, a server fault, an answer
#: that cannot be read) is ``unknown``; a refusal the platform stated is ``failed``.
MAYBE_APPLIED = frozenset({"Unavailable", "ProtocolError", "ProviderError"})

#: Writes the provider never lets the transport resend (a create is not absolute; OX and
#: Exchange send a delete once too), so a refused connection, a 503 or a 429 ends them with
#: the typed error and nothing applied. Memory and Zextras resend a delete that surely
#: did not arrive.
NOT_RESENT = frozenset(
    {(p, "create_mailbox") for p in PROVIDERS}
    | {("ox", "delete_mailbox"), ("exchange", "delete_mailbox")}
)
NOT_RESENT_OUTCOMES = {
    "connect_refused": "Unavailable",
    "status_503": "Unavailable",
    "rate_limit": "RateLimited",
}

#: Changes sent as several requests, in order: an answer lost on the first leaves the
#: rest unsent, so the read-back finds part of the target.
TWO_STEP = frozenset({("ox", "set_plan"), ("exchange", "set_plan")})
#: Changes sent as one request per mailbox, side by side: when one fails the others are
#: applied, so any error is a partial change (Exchange reads every mailbox back).
FAN_OUT = frozenset({("exchange", "apply_addon")})

#: Cases that differ from the tables above, and why.
OVERRIDES: dict[tuple[str, str, str], str] = {
    # OX's combination (Exchange's Set-Mailbox quotas) was applied and its answer lost:
    # the quota (Set-CASMailbox) step was never sent.
    **{
        (provider, "set_plan", fault): "PartialChange"
        for provider in ("ox", "exchange")
        for fault in (
            "timeout_after",
            "drop_after_applied",
            "status_504_after_applied",
            "malformed",
            "truncated",
        )
    },
}


@dataclass(frozen=True)
class Case:
    """One row of the matrix: the call's ``expected`` end (``ok`` or an error class) and
    the ``journal``'s outcome for it (``None`` for reads)."""

    provider: str
    operation: str
    fault: str
    expected: str
    journal: str | None = None
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.operation}-{self.fault}"


def _journal_outcome(provider: str, operation: str, outcome: str) -> str | None:
    if operation not in WRITES:
        return None
    if outcome == OK:
        return "changed"
    if outcome in ("PartialChange", "OutcomeUnknown"):
        return {"PartialChange": "partial", "OutcomeUnknown": "unknown"}[outcome]
    if (provider, operation) in READS_BACK:
        return "failed"  # read back: nothing applied
    return "unknown" if outcome in MAYBE_APPLIED else "failed"


def expected(provider: str, operation: str, fault: str) -> Case:
    """The row for one provider, operation and fault, from the tables."""
    key = (provider, operation, fault)
    if key in OVERRIDES:
        outcome = OVERRIDES[key]
    elif operation not in WRITES:
        outcome = READ_OUTCOMES[fault]
    else:
        outcome = WRITE_OUTCOMES[fault]
        if (provider, operation) in NOT_RESENT and fault in NOT_RESENT_OUTCOMES:
            outcome = NOT_RESENT_OUTCOMES[fault]
        if outcome == LOST:
            reads_back = (provider, operation) in READS_BACK
            outcome = (LOST_OUTCOMES if reads_back else LOST_NO_READ_BACK)[fault]
    if (provider, operation) in FAN_OUT and outcome != OK:
        # The other mailboxes' writes landed; the read-back finds a partial change.
        outcome = "PartialChange"
    return Case(*key, outcome, _journal_outcome(provider, operation, outcome))


def _single_write(provider: str, operation: str) -> bool:
    """Changes sent as one request: no 'between two steps' for them."""
    return (provider, operation) not in TWO_STEP | FAN_OUT


def matrix() -> Iterator[Case]:
    """Every applicable row."""
    for provider in PROVIDERS:
        for operation in OPERATIONS:
            for name, spec in FAULTS.items():
                if spec.providers is not None and provider not in spec.providers:
                    continue
                if spec.operations is not None and operation not in spec.operations:
                    continue
                if name == "fail_between_steps" and _single_write(provider, operation):
                    continue
                yield expected(provider, operation, name)


CASES = list(matrix())


# -- the rig ------------------------------------------------------------------------------------


@dataclass
class WireRule:
    """A fault of the network, on the first request of ``operation`` after it is set."""

    kind: str
    operation: str
    action: Callable[[], None] | None = None
    fired: bool = False


class WireFaults(httpx.AsyncBaseTransport):
    """The mock's in-process transport, with a network in front that can fail."""

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.rules: list[WireRule] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        incoming, route = self.server.resolve(request)
        operation = (route.operation or route.name) if route else incoming.operation
        rule = next((r for r in self.rules if not r.fired and r.operation == operation), None)
        if rule is None:
            return await self.server.handle(request)
        rule.fired = True
        if rule.kind == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if rule.kind == "timeout_before":
            raise httpx.ReadTimeout("timed out", request=request)
        response = await self.server.handle(request)
        if rule.kind == "timeout_after":
            raise httpx.ReadTimeout("timed out", request=request)
        assert rule.action is not None
        rule.action()
        return response


@dataclass
class Rig:
    """One platform's mock behind an orchestrator, with its start state kept aside."""

    name: str
    instance: str
    orch: Any
    server: MockServer
    wire: WireFaults
    subjects: Subjects
    start: Any = None
    waits: list[float] = field(default_factory=list)
    clean: dict[str, tuple[Any, Any, list[Any]]] = field(default_factory=dict)

    def restart(self) -> None:
        """Back to the start state with no fault, keeping the provider's sign-ins (the
        sessions and tokens the platform issued), so no case starts by signing in."""
        live = self.server.state
        self.server.state = copy.deepcopy(self.start)
        for part in SIGN_IN_PARTS:
            if hasattr(live, part):
                setattr(self.server.state, part, getattr(live, part))
        self.server.clear_faults()
        self.server.clear_requests()
        self.wire.rules.clear()
        self.waits.clear()
        _forget_open_writes(self.orch.journal)

    def call(self, operation: str) -> Awaitable[Any]:
        s, orch = self.subjects, self.orch
        calls: dict[str, Callable[[], Awaitable[Any]]] = {
            "set_plan": lambda: orch.set_plan(s.mailbox, s.plan),
            "count_mailboxes": lambda: orch.count_mailboxes(s.tenant),
            "apply_addon": lambda: orch.apply_addon(s.tenant, s.addon, s.quantity),
            "get_licence": lambda: orch.get_licence(self.instance),
            "create_mailbox": lambda: orch.create_mailbox(
                s.tenant, NewMailbox(address=s.new_address, kind=s.new_kind)
            ),
            "delete_mailbox": lambda: orch.delete_mailbox(s.doomed),
        }
        return calls[operation]()

    async def sign_in(self) -> None:
        """After a case that ended the platform's sessions: sign in again."""
        await self.call("count_mailboxes")
        await self.call("get_licence")
        self.restart()

    def state(self) -> dict[str, Any]:
        # Asynchronous operations are the mock's bookkeeping of work, not the data.
        return _masked({k: v for k, v in self.server.snapshot().items() if k != "operations"})

    async def clean_run(self, operation: str) -> tuple[Any, Any, list[Any]]:
        """The operation without a fault: its result, the state after, its requests."""
        if operation not in self.clean:
            self.restart()
            result = await self.call(operation)
            self.clean[operation] = (result, self.state(), list(self.server.requests))
            self.restart()
        return self.clean[operation]


async def _build(name: str) -> tuple[Rig, Any]:
    from mailadmin import Orchestrator
    from mailadmin.cli.demo import CATALOGUE, DemoScenario
    from mailadmin.orchestration.registry import get_registry

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    wire = WireFaults(server)
    instance = f"{name}-faults"
    settings: dict[str, Any] = {"timeout": 0.3, "retries": 2, "deadline": 10}
    if name == "exchange":
        settings["page_size"] = 2  # so a count pages, and a next link can expire
    config = {
        **CATALOGUE,
        "instances": {
            instance: {**scenario.instance, "endpoint": f"http://{instance}.test", **settings}
        },
        "tenants": {t: {**table, "instance": instance} for t, table in scenario.tenants.items()},
        "journal": {"url": "sqlite://"},
    }
    context = Orchestrator.from_dict(config, registry=get_registry(), http={instance: wire})
    orch = await context.__aenter__()
    rig = Rig(name, instance, orch, server, wire, SUBJECTS[name])

    async def no_wait(seconds: float) -> None:
        rig.waits.append(seconds)

    orch.provider(instance).http.sleep = no_wait
    # Sign in on every endpoint once, so the start state holds the provider's sessions.
    await orch.count_mailboxes(rig.subjects.tenant)
    await orch.get_licence(instance)
    rig.start = copy.deepcopy(server.state)
    rig.restart()
    return rig, context


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rigs() -> Any:
    built = {}
    contexts = []
    for name in PROVIDERS:
        rig, context = await _build(name)
        built[name] = rig
        contexts.append(context)
    yield built
    for context in contexts:
        await context.__aexit__(None, None, None)


@dataclass
class FaultTally:
    scenarios: int = 0
    passed: int = 0
    skipped: list[str] = field(default_factory=list)


_TALLY = FaultTally()


@pytest.fixture(scope="module", autouse=True)
def _report(summary: Summary) -> Iterator[None]:
    yield
    summary.set("faults", f"faults: {_TALLY.scenarios} scenarios, {_TALLY.passed} passed")
    if _TALLY.skipped:
        summary.note(
            "faults",
            f"faults: {len(_TALLY.skipped)} rows skipped: " + ", ".join(_TALLY.skipped),
        )


# -- the test -----------------------------------------------------------------------------------


def _target(rig: Rig, operation: str, where: str, requests: list[Any]) -> tuple[str, int]:
    """The mock operation key a fault aims at, and which call of it (1-based)."""
    own = [r for r in requests if r.operation not in SIGN_IN and r.route not in SIGN_IN]
    if where == "second_write":
        writes = [r for r in own if r.write]
        assert len(writes) >= 2, f"{rig.name} {operation} is not a two-step change"
        chosen = writes[1]
        key = chosen.operation or chosen.route
        return key, sum(1 for r in writes[:2] if (r.operation or r.route) == key)
    if where == "second_page":
        first = own[0]
        key = first.operation or first.route
        assert sum(1 for r in own if (r.operation or r.route) == key) >= 2, "no second page"
        return key, 2
    chosen = next((r for r in own if r.write), None) if operation in WRITES else None
    chosen = chosen or own[0]
    return chosen.operation or chosen.route, 1


def _body(marker: str, provider: str) -> tuple[str, str]:
    if marker == "soap":
        if provider == "ox":
            return _ox_unknown_fault(), "text/xml; charset=UTF-8"
        return _zimbra_unknown_fault(), "text/javascript; charset=utf-8"
    if marker == "expired_page":
        return _expired_page(), "application/json; charset=utf-8"
    return marker, "application/octet-stream"


def _inject(rig: Rig, case: Case, requests: list[Any]) -> None:
    spec = FAULTS[case.fault]
    operation, number = _target(rig, case.operation, spec.target, requests)
    if spec.before is not None:
        spec.before(rig.server)
    if spec.wire is not None:
        action = (lambda: _end_sessions(rig.server)) if spec.wire == "expire" else None
        rig.wire.rules.append(WireRule(spec.wire, operation, action))
    if spec.mock is not None:
        rule = dict(spec.mock)
        if "body" in rule:
            rule["body"], rule["content_type"] = _body(rule["body"], case.provider)
        rig.server.inject(Fault(operation=operation, calls=frozenset({number}), **rule))


def _forget_open_writes(journal: Any) -> None:
    """The platform is back at its start state, so no earlier write can land on it any
    more: close the rows that would fence the next case's write (docs/journal.md)."""
    from mailadmin.store.journal import sa_open
    from mailadmin.store.schema import journal as table

    journal.write_now(
        lambda db: db.execute(
            table.update().where(sa_open(table)).values(status="failed", outcome="failed")
        )
    )


def _journalled(rig: Rig, operation: str, after: int) -> list[Any]:
    journal = rig.orch.journal
    return [e for e in journal.entries(limit=20, operation=operation) if e.id > after]


def _last_id(rig: Rig) -> int:
    entries = rig.orch.journal.entries(limit=1)
    return entries[0].id if entries else 0


def _same(result: Any, clean: Any) -> bool:
    dump = getattr(result, "model_dump", None)
    if dump is None:
        return bool(result == clean)
    # A note may say the answer was lost and read back; the rest must be the same.
    ignore = {"note", "operation_id"}
    mine = {k: v for k, v in result.model_dump(mode="json").items() if k not in ignore}
    theirs = {k: v for k, v in clean.model_dump(mode="json").items() if k not in ignore}
    if "read back" in str(getattr(result, "note", "")) and isinstance(mine.get("after"), dict):
        # A creation read back reports the mailbox it asked for: the ids and sizes only
        # the platform's own (lost) answer carries are not in it.
        for side in (mine, theirs):
            if isinstance(side.get("after"), dict):
                side["after"] = {
                    k: v for k, v in side["after"].items() if k not in ("native_id", "quota_mb")
                }
    return bool(_masked(mine) == _masked(theirs))


def _diff(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if a.get(k) != b.get(k):
                return _diff(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _diff(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:300]} != {str(b)[:300]}"


def _matches(error: errors.MailadminError | None, outcome: str) -> bool:
    """The call ended as written down: ``ok``, or an error of that class (or a subclass:
    the SOAP layer's EnvelopeError is a ProtocolError)."""
    if outcome == OK:
        return error is None
    return error is not None and isinstance(error, getattr(errors, outcome))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_fault(case: Case, rigs: dict[str, Rig]) -> None:
    if case.skip:
        _TALLY.skipped.append(case.id)
        pytest.skip(case.skip)
    _TALLY.scenarios += 1
    rig = rigs[case.provider]
    spec = FAULTS[case.fault]
    clean_result, clean_state, clean_requests = await rig.clean_run(case.operation)
    rig.restart()
    start_state = rig.state()
    _inject(rig, case, clean_requests)
    last = _last_id(rig)

    error: errors.MailadminError | None = None
    result: Any = None
    try:
        result = await rig.call(case.operation)
    except errors.MailadminError as exc:
        error = exc
    state = rig.state()
    got = OK if error is None else type(error).__name__

    # The answer: success as without the fault, or exactly the typed error written down.
    assert _matches(error, case.expected), (
        f"{case.id}: expected {case.expected}, got {got}: {error}"
    )
    if error is None:
        assert _same(result, clean_result), f"{case.id}: {result!r} != {clean_result!r}"
    else:
        assert str(error) and error.code, case.id

    if case.fault == "rate_limit" and error is None:
        assert 2.0 in rig.waits, f"{case.id}: Retry-After not honoured: {rig.waits}"

    # The mock and the journal agree.
    rows = _journalled(rig, case.operation, last)
    if case.operation not in WRITES:
        assert state == start_state, f"{case.id}: a read changed the platform"
        assert rows == [], f"{case.id}: a read was journalled"
    else:
        assert len(rows) == 1, f"{case.id}: {len(rows)} journal rows for one call"
        row = rows[0]
        assert row.outcome == case.journal, f"{case.id}: journalled {row.outcome}"
        if error is None:
            assert row.status == "done", case.id
            assert state == clean_state, f"{case.id}: journalled done, the mock differs"
        else:
            assert row.status == "failed" and row.error_code == error.code, case.id
        if row.outcome == "failed":
            assert state == start_state, f"{case.id}: journalled failed, the mock changed"
        elif row.outcome == "partial":
            assert row.applied and row.missing, case.id
            assert state not in (start_state, clean_state), f"{case.id}: not partial"
        elif row.outcome == "unknown":
            # Open until resume settles it; a one-step write left all or nothing.
            assert row.open, case.id
            if (case.provider, case.operation) not in TWO_STEP | FAN_OUT:
                half = _diff(state, clean_state)
                assert state in (start_state, clean_state), f"{case.id}: half-applied {half}"
    if spec.before is not None or spec.wire == "expire":
        await rig.sign_in()
    _TALLY.passed += 1
