"""Polling an accepted operation: done, Retry-After honoured, a maximum duration kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.mock import (
    ManualClock,
    MockPlatform,
    MockRequest,
    MockServer,
    MockState,
    OperationState,
    Progression,
    Route,
)
from mailadmin.wire.polling import PollTimeout, poll
from mailadmin.wire.transport import Transport


class Time:
    """A clock that the injected sleep moves, so tests take no time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def answers(
    *responses: httpx.Response,
) -> tuple[list[int], Callable[[], Awaitable[httpx.Response]]]:
    calls: list[int] = []
    queue = list(responses)

    async def check() -> httpx.Response:
        calls.append(1)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return calls, check


def running(retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(202, headers=headers, json={"status": "running"})


DONE = httpx.Response(200, json={"status": "succeeded"})


def is_done(response: httpx.Response) -> bool:
    return bool(response.json()["status"] != "running")


async def test_poll_returns_the_first_finished_answer_honouring_retry_after() -> None:
    time = Time()
    calls, check = answers(running("7"), running("2"), DONE)

    result = await poll(
        check,
        done=is_done,
        max_duration=60,
        sleep=time.sleep,
        clock=time.clock,
    )

    assert result is DONE
    assert time.sleeps == [7.0, 2.0]
    assert len(calls) == 3


async def test_without_retry_after_the_wait_grows_up_to_its_cap() -> None:
    time = Time()
    _, check = answers(*([running()] * 6), DONE)

    await poll(
        check,
        done=is_done,
        max_duration=600,
        interval=1,
        backoff=2,
        max_interval=5,
        sleep=time.sleep,
        clock=time.clock,
    )

    assert time.sleeps == [1, 2, 4, 5, 5, 5]


async def test_poll_gives_up_after_its_maximum_duration_without_sleeping_past_it() -> None:
    time = Time()
    calls, check = answers(running("4"))

    with pytest.raises(PollTimeout) as caught:
        await poll(
            check,
            done=is_done,
            max_duration=10,
            sleep=time.sleep,
            clock=time.clock,
            what="Creating the mailbox",
        )

    assert str(caught.value) == "Creating the mailbox did not finish within 10 seconds"
    assert isinstance(caught.value, errors.Unavailable)
    assert time.sleeps == [4, 4, 2]  # the last wait is cut at the deadline
    assert time.now == 10
    assert len(calls) == 4  # one last look at the deadline


async def test_a_retry_after_beyond_the_deadline_is_cut_to_it() -> None:
    time = Time()
    _, check = answers(running("3600"))
    with pytest.raises(PollTimeout):
        await poll(check, done=is_done, max_duration=30, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == [30]


# -- against a mock's asynchronous operation -------------------------------------------------


class JobState(MockState):
    def reset(self) -> None:
        super().reset()
        self.operations.set_progression(Progression.after_polls(2))


def start(request: MockRequest, state: JobState) -> httpx.Response:
    operation = state.operations.start("job")
    return httpx.Response(202, headers={"Location": f"/jobs/{operation.id}"})


def status(request: MockRequest, state: JobState) -> httpx.Response:
    operation = state.operations.poll(request.path_params["id"])
    assert operation is not None
    if operation.state is OperationState.IN_PROGRESS:
        return httpx.Response(200, headers={"Retry-After": "3"}, json={"status": "running"})
    return httpx.Response(200, json={"status": operation.state.value})


class JobMock(MockPlatform):
    name = "jobs"
    state_class = JobState
    routes = (
        Route("POST", "/jobs", start, write=True),
        Route("GET", "/jobs/{id}", status),
    )


async def test_polling_a_mock_operation_until_it_completes() -> None:
    server = MockServer(JobMock, clock=ManualClock())
    transport = Transport("http://mock.invalid", backend=server.transport())
    time = Time()

    accepted = await transport.request("POST", "jobs", write=True)
    location = accepted.headers["Location"]
    final = await poll(
        lambda: transport.request("GET", location, write=False),
        done=is_done,
        max_duration=60,
        sleep=time.sleep,
        clock=time.clock,
    )

    assert final.json()["status"] == "succeeded"
    assert time.sleeps == [3.0, 3.0]
