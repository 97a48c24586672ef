"""How a run is cut into jobs: lanes by subject, chunks per lane, one lock and queue per
lane (no database needed)."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from mailadmin.orchestration.orchestrator import Orchestrator


def _orch(**worker: object) -> Orchestrator:
    plans = {"mail": {"native": "basic"}, "sync": {"native": "standard"}}
    return Orchestrator.from_dict(
        {
            "journal": {"url": None},
            "worker": worker,
            "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}},
            "instances": {
                "a": {"provider": "memory", "endpoint": "http://127.0.0.1:9", "plans": plans},
                "b": {"provider": "memory", "endpoint": "http://127.0.0.1:9", "plans": plans},
            },
            "tenants": {
                "one.test": {"instance": "a", "domains": ["one.test"]},
                "two.test": {"instance": "b", "domains": ["two.test"]},
            },
        },
        journal=False,
    )


def _items(n: int, domain: str = "one.test", plan: str = "sync") -> list[dict[str, object]]:
    return [{"mailbox": f"u{i}@{domain}", "plan": plan} for i in range(n)]


def test_a_subject_falls_in_the_same_lane_in_every_run() -> None:
    orch = _orch(shards=8, chunk_size=10)
    first = orch.runs.plan("r1", "set_plan", _items(200))
    # Another run, other order, other plan, different case: same lanes per mailbox.
    items = [{"mailbox": str(i["mailbox"]).upper(), "plan": "mail"} for i in _items(200)]
    second = orch.runs.plan("r2", "set_plan", list(reversed(items)))

    def lanes(planned):
        return {row["key"]: planned.chunks[row["chunk"]][1] for row in planned.rows}

    assert lanes(first) == lanes(second)
    assert len(set(lanes(first).values())) == 8


def test_chunks_hold_one_lane_and_at_most_chunk_size_items() -> None:
    orch = _orch(shards=4, chunk_size=7)
    planned = orch.runs.plan("r", "set_plan", _items(100) + _items(30, "two.test"))
    per_chunk: dict[int, list[dict[str, object]]] = defaultdict(list)
    for row in planned.rows:
        per_chunk[row["chunk"]].append(row)
    assert sum(len(rows) for rows in per_chunk.values()) == 130
    assert [row["seq"] for row in planned.rows] == list(range(130))
    for chunk, rows in per_chunk.items():
        assert len(rows) <= 7
        queue, lock = planned.chunks[chunk]
        instance = rows[0]["key"].split("/")[0]
        assert queue == instance and lock.startswith(f"mailadmin/{instance}/lane-")
    # Every instance gets its own lanes: 4 each.
    locks = Counter(lock for _, lock in planned.chunks.values())
    assert {lock.split("/")[1] for lock in locks} == {"a", "b"}
    assert len({lock for lock in locks if "/a/" in lock}) == 4


def test_an_instance_limit_sets_its_lane_count() -> None:
    orch = _orch(shards=16, limits={"a": 2})
    planned = orch.runs.plan("r", "set_plan", _items(300) + _items(300, "two.test"))
    locks = {lock for _, lock in planned.chunks.values()}
    assert len({lock for lock in locks if "/a/" in lock}) == 2
    assert len({lock for lock in locks if "/b/" in lock}) == 16


def test_add_ons_of_tenants_of_one_instance_get_their_limits_lanes() -> None:
    orch = _orch(shards=1)
    items = [
        {"tenant": "one.test", "addon": "storage_gb", "quantity": 5},
        {"tenant": "two.test", "addon": "mailboxes", "quantity": 9},
    ]
    planned = orch.runs.plan("r", "apply_addon", items)
    assert [row["key"] for row in planned.rows] == ["a/limits/one.test", "b/limits/two.test"]
    assert {lock for _, lock in planned.chunks.values()} == {
        "mailadmin/a/lane-0",
        "mailadmin/b/lane-0",
    }


def test_an_unroutable_item_stops_the_plan_before_anything_is_written() -> None:
    from mailadmin.contract import errors

    orch = _orch()
    with pytest.raises(errors.ValidationError):
        orch.runs.plan("r", "set_plan", [*_items(3), {"mailbox": "x@nowhere.test", "plan": "sync"}])
    with pytest.raises(errors.ValidationError):
        orch.runs.plan("r", "set_plan", [{"mailbox": "u1@one.test", "plan": "gold"}])


def test_a_run_names_each_subject_once() -> None:
    from mailadmin.contract import errors

    orch = _orch()
    twice = [*_items(3), {"mailbox": "U1@one.test", "plan": "mail"}]
    with pytest.raises(errors.ValidationError, match="item 4 repeats item 2"):
        orch.runs.plan("r", "set_plan", twice)
    # Two add-ons of one tenant are two items (in one lane: they share its limits)...
    addons = [
        {"tenant": "one.test", "addon": "storage_gb", "quantity": 5},
        {"tenant": "one.test", "addon": "mailboxes", "quantity": 9},
    ]
    planned = orch.runs.plan("r", "apply_addon", addons)
    assert len({planned.chunks[row["chunk"]] for row in planned.rows}) == 1
    # ... one add-on twice is refused.
    with pytest.raises(errors.ValidationError):
        orch.runs.plan("r", "apply_addon", [*addons, {**addons[0], "quantity": 6}])
