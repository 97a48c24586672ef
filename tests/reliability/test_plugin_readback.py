"""Zextras and Exchange check what they read back: the real answer of each mock, with one
value made hostile, is refused with a ProtocolError (no write sent, no crash, no relogin
loop). Each input counts towards the ``hostile:`` line.

Zextras: the sign-in answer (read with parse_json, its lifetime a bounded number), an
ended-session check on an unreadable fault, COS names and counts. Exchange: SKU part
numbers and licence counts (subscribedSkus), mailbox plan names (Get-MailboxPlan).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import Fault, MockServer

from .conftest import Tally

Mutate = Callable[[Any], Any]


class Mutating(httpx.AsyncBaseTransport):
    """The mock's answers, with the JSON of one operation's answer passed through
    ``mutate`` (or replaced by raw ``body`` bytes)."""

    def __init__(
        self, server: MockServer, operation: str, mutate: Mutate | None, body: bytes = b""
    ) -> None:
        self.server = server
        self.operation = operation
        self.mutate = mutate
        self.body = body
        self.hits = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.server.handle(request)
        _, route = self.server.resolve(request)
        if route is None or self.operation not in (route.operation, route.name):
            return response
        self.hits += 1
        content = (
            json.dumps(self.mutate(json.loads(response.content))).encode()
            if self.mutate is not None
            else self.body
        )
        headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"content-length"]
        return httpx.Response(response.status_code, headers=headers, content=content)


def _orchestrator(name: str, transport: httpx.AsyncBaseTransport, **settings: Any) -> Any:
    from mailadmin import Orchestrator
    from mailadmin.cli.demo import CATALOGUE, DemoScenario
    from mailadmin.orchestration.registry import get_registry

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    instance = {**scenario.instance, "endpoint": f"http://{name}.test", "retries": 0, **settings}
    config = {
        **CATALOGUE,
        "instances": {name: instance},
        "tenants": {t: {**table, "instance": name} for t, table in scenario.tenants.items()},
        # An in-memory journal: nothing left in the working directory between runs.
        "journal": {"url": "sqlite://"},
    }
    return Orchestrator.from_dict(config, registry=get_registry(), http={name: transport})


def _server(name: str) -> MockServer:
    from mailadmin.cli.demo import DemoScenario
    from mailadmin.orchestration.registry import get_registry

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    return MockServer(entry.load_mock(), seed=scenario.seed)


async def _refused(
    tally: Tally, name: str, transport: Mutating, call: Callable[[Any], Any], **settings: Any
) -> errors.ProtocolError:
    tally.inputs += 1
    async with _orchestrator(name, transport, **settings) as orch:
        with pytest.raises(errors.ProtocolError) as caught:
            await call(orch)
    assert transport.hits >= 1, "the hostile answer was never read"
    assert transport.server.writes() == [], "a write was sent after a hostile answer"
    tally.refused += 1
    return caught.value


HOSTILE_NAMES = {
    "control": "mail\x00",
    "bidi": "mail\u202elatot",
    "huge": "m" * 5000,
    "markup": "<script>alert(1)</script>",
    "empty": "",
    "not-text": 12,
}
HOSTILE_COUNTS = {
    "huge": 10**30,
    "negative": -5,
    "digits-5000": "9" * 5000,
    "superscript": "\u00b2",
    "float": 1.5,
}


# -- Zextras ------------------------------------------------------------------------------------


def _auth(field: str, value: Any) -> Mutate:
    def mutate(answer: Any) -> Any:
        answer["Body"]["AuthResponse"][field] = value
        return answer

    return mutate


@pytest.mark.parametrize(
    "value",
    [10**4000, "9" * 5000, -1, "12h", [{"_content": "1e999"}]],
    ids=["huge", "digits-5000", "negative", "text", "float-text"],
)
async def test_zextras_refuses_a_hostile_session_lifetime(value, hostile_tally: Tally) -> None:
    server = _server("zextras")
    transport = Mutating(server, "AuthRequest", _auth("lifetime", value))
    await _refused(hostile_tally, "zextras", transport, lambda o: o.get_licence("zextras"))


@pytest.mark.parametrize(
    "body",
    [
        b'{"Body": {"AuthResponse": {"authToken": "t", "lifetime": NaN}}}',
        b'{"Body": {"AuthResponse": {"authToken": "t", "lifetime": 1e999}}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"Body": \xff\xfe}',
    ],
    ids=["nan", "infinity", "deep", "not-utf8"],
)
async def test_zextras_reads_the_sign_in_answer_with_parse_json(body, hostile_tally) -> None:
    server = _server("zextras")
    transport = Mutating(server, "AuthRequest", None, body)
    await _refused(hostile_tally, "zextras", transport, lambda o: o.get_licence("zextras"))


async def test_zextras_an_unreadable_fault_is_not_an_ended_session(hostile_tally) -> None:
    # A 500 whose body is 100,000 levels deep: is_expired must say no (and not raise), so
    # the call ends with the platform's error instead of signing in again and again.
    server = _server("zextras")
    server.inject(
        Fault(
            kind="status",
            operation="zextras",
            body="[" * 100_000 + "]" * 100_000,
            content_type="application/json",
        )
    )
    hostile_tally.inputs += 1
    async with _orchestrator("zextras", server.transport()) as orch:
        with pytest.raises(errors.ProviderError) as caught:
            await orch.get_licence("zextras")
    assert not isinstance(caught.value, errors.AuthenticationError)
    assert len(server.calls("AuthRequest")) == 1, "signed in again on an unreadable fault"
    hostile_tally.refused += 1


def _cos_list(value: Any) -> Mutate:
    def mutate(answer: Any) -> Any:
        answer["Body"]["GetAllCosResponse"]["cos"][0]["name"] = value
        return answer

    return mutate


@pytest.mark.parametrize("value", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_zextras_refuses_a_hostile_cos_name_in_the_catalogue(value, hostile_tally) -> None:
    server = _server("zextras")
    transport = Mutating(server, "GetAllCosRequest", _cos_list(value))
    await _refused(hostile_tally, "zextras", transport, lambda o: o.list_plans("zextras"))


@pytest.mark.parametrize("value", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_zextras_refuses_a_hostile_cos_name_before_a_plan_change(
    value, hostile_tally
) -> None:
    # dan is on a COS no plan maps, so set_plan names his current COS by reading the
    # catalogue: a hostile name there stops the change before ModifyAccount is sent.
    server = _server("zextras")
    state: Any = server.state
    account = state.account_by_name("dan@example.org")
    default = next(c for c in state.data.coses if c.name == "default")
    account.attrs["zimbraCOSId"] = [default.id]
    transport = Mutating(server, "GetAllCosRequest", _cos_list_all(value))
    await _refused(
        hostile_tally, "zextras", transport, lambda o: o.set_plan("dan@example.org", "sync")
    )


def _cos_list_all(value: Any) -> Mutate:
    def mutate(answer: Any) -> Any:
        for cos in answer["Body"]["GetAllCosResponse"]["cos"]:
            if cos["name"] == "default":
                cos["name"] = value
        return answer

    return mutate


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", v) for v in HOSTILE_NAMES.values()]
    + [("_content", v) for v in HOSTILE_COUNTS.values()],
    ids=[f"name-{k}" for k in HOSTILE_NAMES] + [f"count-{k}" for k in HOSTILE_COUNTS],
)
async def test_zextras_refuses_hostile_counts_by_cos(field, value, hostile_tally) -> None:
    def mutate(answer: Any) -> Any:
        answer["Body"]["CountAccountResponse"]["cos"][0][field] = value
        return answer

    server = _server("zextras")
    transport = Mutating(server, "CountAccountRequest", mutate)
    await _refused(hostile_tally, "zextras", transport, lambda o: o.count_mailboxes("example.org"))


# -- Exchange -----------------------------------------------------------------------------------


def _sku(field: str, value: Any, inner: str | None = None) -> Mutate:
    def mutate(answer: Any) -> Any:
        sku = answer["value"][0]
        if inner is None:
            sku[field] = value
        else:
            sku[field][inner] = value
        return answer

    return mutate


@pytest.mark.parametrize("value", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_exchange_refuses_a_hostile_sku_name(value, hostile_tally) -> None:
    server = _server("exchange")
    transport = Mutating(server, "subscribedSkus", _sku("skuPartNumber", value))
    await _refused(hostile_tally, "exchange", transport, lambda o: o.get_licence("exchange"))


@pytest.mark.parametrize(
    ("field", "inner", "value"),
    [("prepaidUnits", "enabled", v) for v in HOSTILE_COUNTS.values()]
    + [("consumedUnits", None, v) for v in HOSTILE_COUNTS.values()],
    ids=[f"prepaid-{k}" for k in HOSTILE_COUNTS] + [f"consumed-{k}" for k in HOSTILE_COUNTS],
)
async def test_exchange_refuses_hostile_licence_counts(field, inner, value, hostile_tally) -> None:
    server = _server("exchange")
    transport = Mutating(server, "subscribedSkus", _sku(field, value, inner))
    await _refused(hostile_tally, "exchange", transport, lambda o: o.get_licence("exchange"))


@pytest.mark.parametrize("value", list(HOSTILE_NAMES.values()), ids=list(HOSTILE_NAMES))
async def test_exchange_refuses_a_hostile_mailbox_plan_name(value, hostile_tally) -> None:
    def mutate(answer: Any) -> Any:
        row = answer["value"][0]
        row["DisplayName"] = value
        row["Name"] = value
        return answer

    server = _server("exchange")
    transport = Mutating(server, "get-mailboxplan", mutate)
    await _refused(hostile_tally, "exchange", transport, lambda o: o.list_plans("exchange"))


async def test_exchange_reads_well_formed_answers_as_before() -> None:
    # The checks refuse garbage only: the mocks' own answers still read.
    server = _server("exchange")
    async with _orchestrator("exchange", server.transport()) as orch:
        licence = await orch.get_licence("exchange")
        assert licence.seats_licensed > 0
        assert await orch.list_plans("exchange")
    server = _server("zextras")
    async with _orchestrator("zextras", server.transport()) as orch:
        assert (await orch.count_mailboxes("example.org")).total > 0
        assert {p.native_name for p in await orch.list_plans("zextras")} >= {"mail", "sync"}
