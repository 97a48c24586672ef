"""Zextras and Exchange plan changes after a lost answer or a failure between two steps: the
result and the journal row say what the mock now holds (``changed``, ``partial`` or
``failed`` verified), never ``unknown``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.mock import Fault, MockServer
from mailadmin.orchestration.registry import get_registry

EXCHANGE_ANNA = "anna@contoso.onmicrosoft.com"
ZEXTRAS_ANNA = "anna@example.org"
_MB = 1024**2


def _server(name: str) -> MockServer:
    from mailadmin.cli.demo import DemoScenario

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    return MockServer(entry.load_mock(), seed=scenario.seed)


def _orchestrator(name: str, server: MockServer, store_url: str) -> Orchestrator:
    from mailadmin.cli.demo import CATALOGUE, DemoScenario

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    instance = {**scenario.instance, "endpoint": f"http://{name}.test", "retries": 0}
    config = {
        **CATALOGUE,
        "instances": {name: instance},
        "tenants": {t: {**table, "instance": name} for t, table in scenario.tenants.items()},
        "journal": {"url": store_url},
    }
    return Orchestrator.from_dict(
        config, registry=get_registry(), http={name: server.router(f"http://{name}.test")}
    )


@pytest.fixture
async def zextras(store_url: str) -> AsyncIterator[tuple[Orchestrator, MockServer]]:
    server = _server("zextras")
    async with _orchestrator("zextras", server, store_url) as orch:
        yield orch, server


@pytest.fixture
async def exchange(store_url: str) -> AsyncIterator[tuple[Orchestrator, MockServer]]:
    server = _server("exchange")
    async with _orchestrator("exchange", server, store_url) as orch:
        yield orch, server


def _row(orch: Orchestrator) -> Any:
    assert orch.journal is not None
    [entry] = orch.journal.entries()
    return entry


def _zextras_cos(server: MockServer, address: str) -> str:
    state: Any = server.state
    return str(state.effective_cos(state.account_by_name(address)).name)


def _exchange_mailbox(server: MockServer, address: str) -> Any:
    state: Any = server.state
    return state.find(state.tenant("contoso.onmicrosoft.com"), address)


# -- Zextras: one ModifyAccount ---------------------------------------------------------------


async def test_zextras_lost_answer_of_an_applied_plan_change_is_changed(
    zextras: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = zextras
    server.inject(Fault(kind="drop", operation="ModifyAccountRequest", handled=True))
    result = await orch.set_plan(ZEXTRAS_ANNA, "sync")
    assert result.outcome == "changed" and "answer was lost" in result.note
    assert _zextras_cos(server, ZEXTRAS_ANNA) == "sync"
    assert [w.operation for w in server.writes()] == ["ModifyAccountRequest"]  # not resent
    entry = _row(orch)
    assert (entry.status, entry.outcome, entry.state_after) == ("done", "changed", "sync")
    assert not entry.open


async def test_zextras_plan_change_that_never_landed_is_failed_verified(
    zextras: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = zextras
    server.inject(Fault(kind="drop", operation="ModifyAccountRequest"))
    with pytest.raises(errors.Unavailable):
        await orch.set_plan(ZEXTRAS_ANNA, "sync")
    assert _zextras_cos(server, ZEXTRAS_ANNA) == "mail"
    entry = _row(orch)
    assert (entry.status, entry.outcome) == ("failed", "failed")
    assert entry.state_after == "mail"  # what was read back
    assert not entry.open


# -- Exchange: Set-Mailbox (quotas), then Set-CASMailbox (client access) ---------------------


async def test_exchange_lost_answer_of_both_steps_is_changed(
    exchange: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = exchange
    server.inject(Fault(kind="drop", operation="set-casmailbox", handled=True))
    result = await orch.set_plan(EXCHANGE_ANNA, "sync")
    assert (result.outcome, result.before, result.after) == ("changed", "collaborate", "sync")
    assert "answer was lost" in result.note
    anna = _exchange_mailbox(server, EXCHANGE_ANNA)
    assert (anna.prohibit_send_receive_quota, anna.mapi, anna.activesync) == (
        5120 * _MB,
        False,
        True,
    )
    entry = _row(orch)
    assert (entry.status, entry.outcome) == ("done", "changed") and not entry.open


async def test_exchange_failure_between_the_steps_is_partial_then_resumed(
    exchange: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = exchange
    server.inject(Fault(kind="status", status=500, operation="set-casmailbox"))
    with pytest.raises(errors.PartialChange) as caught:
        await orch.set_plan(EXCHANGE_ANNA, "sync")
    assert (caught.value.applied, caught.value.missing) == (("quota",), ("client_access",))
    anna = _exchange_mailbox(server, EXCHANGE_ANNA)
    assert (anna.prohibit_send_receive_quota, anna.mapi) == (5120 * _MB, True)
    entry = _row(orch)
    assert (entry.status, entry.outcome, entry.applied, entry.missing) == (
        "failed",
        "partial",
        ["quota"],
        ["client_access"],
    )
    assert entry.state_after["plan"] == "collaborate" and entry.open

    server.clear_faults()
    await orch.resume()
    anna = _exchange_mailbox(server, EXCHANGE_ANNA)
    assert (anna.prohibit_send_receive_quota, anna.mapi) == (5120 * _MB, False)
    settled = _row(orch)
    assert (settled.id, settled.outcome, settled.resumed_from) == (entry.id, "changed", "partial")


async def test_exchange_plan_change_that_never_landed_is_failed_verified(
    exchange: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = exchange
    quota = _exchange_mailbox(server, EXCHANGE_ANNA).prohibit_send_receive_quota
    assert quota != 5120 * _MB
    server.inject(Fault(kind="drop", operation="set-mailbox"))
    with pytest.raises(errors.Unavailable):
        await orch.set_plan(EXCHANGE_ANNA, "sync")
    anna = _exchange_mailbox(server, EXCHANGE_ANNA)
    assert (anna.prohibit_send_receive_quota, anna.mapi) == (quota, True)
    assert [w.operation for w in server.writes()] == ["set-mailbox"]
    entry = _row(orch)
    assert (entry.status, entry.outcome) == ("failed", "failed") and not entry.open
