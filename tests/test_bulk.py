"""Bulk work: bounded concurrency, progress, per-item results, caller-chosen failure mode."""

from __future__ import annotations

import asyncio

import pytest

from mailadmin.contract import errors
from mailadmin.orchestration.bulk import BulkError, run_bulk


def _work(keys: list[str], failing: str, seen: list[str], gauge: list[int]):
    active = 0

    def make(key: str):
        async def call() -> str:
            nonlocal active
            active += 1
            gauge.append(active)
            await asyncio.sleep(0)
            active -= 1
            seen.append(key)
            if key == failing:
                raise errors.NotFoundError(f"Mailbox {key} does not exist")
            return key.upper()

        return call

    return [(key, make(key)) for key in keys]


async def test_one_failure_never_aborts_the_rest_and_is_reported() -> None:
    keys = [f"m{i}@example.com" for i in range(20)]
    seen: list[str] = []
    gauge: list[int] = []
    progress: list[tuple[int, int]] = []
    result = await run_bulk(
        _work(keys, "m3@example.com", seen, gauge),
        concurrency=4,
        progress=lambda done, total, key: progress.append((done, total)),
    )
    assert sorted(seen) == sorted(keys)
    assert result.failed == 1 and result.succeeded == 19
    assert [i.key for i in result.items] == keys  # input order kept
    failed = result.items[3]
    assert failed.error is not None and failed.error.code == "not_found"
    assert "m3@example.com" in failed.error.message and not failed.error.retryable
    assert result.items[0].value == "M0@EXAMPLE.COM"
    assert max(gauge) <= 4
    assert progress[-1] == (20, 20) and len(progress) == 20


async def test_skip_leaves_failures_out_and_raise_raises_after_all_ran() -> None:
    keys = ["a@x.io", "b@x.io", "c@x.io"]
    seen: list[str] = []
    skipped = await run_bulk(_work(keys, "b@x.io", seen, []), on_error="skip")
    assert [i.key for i in skipped.items] == ["a@x.io", "c@x.io"] and skipped.failed == 1
    seen.clear()
    with pytest.raises(BulkError) as caught:
        await run_bulk(_work(keys, "b@x.io", seen, []), on_error="raise")
    assert sorted(seen) == sorted(keys)
    assert caught.value.result.failed == 1 and "1 of 3 items failed" in str(caught.value)


async def test_unexpected_exceptions_become_safe_item_errors() -> None:
    async def boom() -> None:
        raise KeyError("internal-token-123")

    result = await run_bulk([("x", boom)])
    error = result.items[0].error
    assert error is not None and "internal-token-123" not in error.message
    assert "KeyError" not in error.message


async def test_bad_bulk_arguments_are_validation_errors() -> None:
    with pytest.raises(errors.ValidationError):
        await run_bulk([], concurrency=0)
