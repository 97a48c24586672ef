"""What the performance work of issue 15 keeps true for the Zextras mock (no timings: see
benchmarks/): accounts found through an index that follows additions, deletions and
renames; a large seed loads with the same merge rules."""

from __future__ import annotations

import pytest
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState, ZimbraFault

from mailadmin.mock import MockServer


def _seed(n: int, cos: str = "mail") -> dict[str, object]:
    return {
        "accounts": [{"name": f"u{i}@example.com", "attrs": {"zimbraCOSId": cos}} for i in range(n)]
    }


def _state(n: int) -> ZextrasState:
    state = MockServer(ZextrasMock, seed=_seed(n)).state
    assert isinstance(state, ZextrasState)
    return state


def test_accounts_are_found_by_name_and_id_after_changes() -> None:
    state = _state(200)
    u7 = state.account_by_name("U7@example.com")
    assert state.account_by_id(u7.id) is u7

    state.delete_account(state.account_by_name("u3@example.com").id)
    with pytest.raises(ZimbraFault):
        state.account_by_name("u3@example.com")
    assert state.account_by_name("u7@example.com") is u7  # positions moved

    u7.name = "seven@example.com"
    with pytest.raises(ZimbraFault):
        state.account_by_name("u7@example.com")
    assert state.account_by_name("seven@example.com") is u7
    assert state.account_by_id(u7.id) is u7


def test_a_later_seed_entry_replaces_an_earlier_one_of_the_same_name() -> None:
    seed = _seed(3)
    seed["accounts"] = [*seed["accounts"], {"name": "U1@example.com", "attrs": {}}]  # type: ignore[list-item]
    state = MockServer(ZextrasMock, seed=seed).state
    assert isinstance(state, ZextrasState)

    names = [a.name for a in state.data.accounts]
    assert names.count("U1@example.com") == 1
    assert "u1@example.com" not in names
    assert names[-3:] == ["u0@example.com", "u2@example.com", "U1@example.com"]


async def test_a_bulk_run_reads_the_plans_cos_once_and_signs_in_once() -> None:
    from mailadmin_zextras.demo import sample_config

    from mailadmin.testing import Orchestrator

    server = MockServer(ZextrasMock, seed=_seed(30))
    config = sample_config()
    config["instances"]["zextras"]["endpoint"] = ZextrasMock.base_url
    config["journal"] = {"url": None}
    async with Orchestrator.from_dict(
        config, journal=False, http={"zextras": server.transport()}
    ) as orch:
        result = await orch.set_plans(
            [(f"u{i}@example.com", "sync") for i in range(30)], concurrency=8
        )

    assert result.ok
    plans = len(config["instances"]["zextras"]["plans"])
    assert len(server.calls("GetCosRequest")) == plans  # not once per item in flight
    assert len(server.calls("AuthRequest")) == 1
    assert len(server.calls("GetAccountRequest")) == len(server.calls("ModifyAccountRequest")) == 30
