"""Asynchronous operations: immediate, after N polls, after T seconds."""

from __future__ import annotations

import httpx
import pytest

from mailadmin.mock import (
    ManualClock,
    MockPlatform,
    MockServer,
    OperationFailed,
    Operations,
    OperationState,
    Progression,
    serve,
)


def test_operations_finish_by_their_progression() -> None:
    clock = ManualClock()
    operations = Operations(clock)
    done: list[str] = []

    immediate = operations.start("bump", "a", apply=lambda: done.append("now") or 1)
    assert immediate.state is OperationState.SUCCEEDED and immediate.result == 1

    operations.set_progression(Progression.after_polls(2))
    polled = operations.start("bump", "b", apply=lambda: done.append("polled"))
    states = [operations.poll(polled.id).state for _ in range(3)]  # type: ignore[union-attr]
    assert states == ["in_progress", "in_progress", "succeeded"]

    operations.set_progression(Progression.after_seconds(10), kind="bump")
    timed = operations.start("bump", "c", apply=lambda: done.append("timed"))
    assert operations.get(timed.id).state is OperationState.IN_PROGRESS  # type: ignore[union-attr]
    clock.advance(9.9)
    operations.settle()
    assert not timed.done
    clock.advance(0.1)
    operations.settle()
    assert timed.state is OperationState.SUCCEEDED
    assert done == ["now", "polled", "timed"]
    assert operations.progression("other") == Progression.after_polls(2)


def test_an_operation_can_fail_with_a_message() -> None:
    operations = Operations(ManualClock())

    def refuse() -> None:
        raise OperationFailed("seat limit reached")

    failed = operations.start("bump", apply=refuse)
    assert failed.state is OperationState.FAILED
    assert failed.error == "seat limit reached"
    assert operations.poll("op-404") is None


async def test_progression_modes_through_the_platform(toy: type[MockPlatform]) -> None:
    clock = ManualClock()
    server = MockServer(toy, clock=clock)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://t.test") as http:
        started = await http.post("/jobs/a")
        first = (await http.get(f"/operations/{started.json()['operation']}")).json()

        server.state.operations.set_progression(Progression.after_polls(1))
        slow = (await http.post("/jobs/a")).json()["operation"]
        polls = [(await http.get(f"/operations/{slow}")).json()["state"] for _ in range(2)]

        server.state.operations.set_progression(Progression.after_seconds(60))
        timed = (await http.post("/jobs/a")).json()["operation"]
        value_while_running = (await http.get("/items/a")).json()["value"]
        clock.advance(60)
        value_after = (await http.get("/items/a")).json()["value"]  # settled by time alone

    assert started.status_code == 202
    assert first["state"] == "succeeded" and first["result"] == 101
    assert polls == ["in_progress", "succeeded"]
    assert value_while_running == 201
    assert value_after == 301
    assert timed == "op-3"


async def test_progression_and_clock_over_http(toy: type[MockPlatform]) -> None:
    with serve(MockServer(toy, clock=ManualClock())) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            configured = await http.put(
                "/_mock/operations", json={"kind": "bump", "mode": "seconds", "seconds": 30}
            )
            job = (await http.post("/jobs/x")).json()["operation"]
            running = (await http.get(f"/operations/{job}")).json()["state"]
            await http.post("/_mock/clock", json={"advance": 30})
            listed = (await http.get("/_mock/operations")).json()
            bad = await http.put("/_mock/operations", json={"mode": "someday"})

    assert configured.status_code == 200
    assert running == "in_progress"
    assert [(o["id"], o["state"], o["result"]) for o in listed] == [(job, "succeeded", 100)]
    assert bad.status_code == 400


def test_progressions_validate() -> None:
    with pytest.raises(ValueError):
        Progression(mode="polls", polls=-1)
    assert Progression.immediate().mode == "immediate"
