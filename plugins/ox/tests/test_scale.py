"""What the performance work of issue 15 keeps true for OX (no timings: see benchmarks/).

The mock finds users through an index that follows renames, deletions and new users; a
plan change that moves only the access combination costs one read and one write."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from mailadmin_ox import provider as ox_provider
from mailadmin_ox.mock.platform import OXMock

from mailadmin.mock import MockServer
from mailadmin.sdk import MailboxKind, MailboxRef, TenantRef

if TYPE_CHECKING:
    from conftest import Make

EXAMPLE = TenantRef(name="example.com", native_id="1")


def _users(n: int, combinations: tuple[str, ...] = ("pim",)) -> dict[str, Any]:
    users = [
        {
            "id": 10 + i,
            "name": f"u{i}",
            "display_name": f"User {i}",
            "given_name": "User",
            "sur_name": str(i),
            "primaryEmail": f"u{i}@example.com",
            "email1": f"u{i}@example.com",
            "access_combination": combinations[i % len(combinations)],
            "maxQuota": 1024 * (1 + i % 3),
        }
        for i in range(n)
    ]
    return {"contexts": [{"id": 1, "name": "example.com", "maxQuota": 10**6, "users": users}]}


def test_the_mock_finds_users_by_login_after_renames_deletions_and_additions() -> None:
    context = MockServer(OXMock, seed=_users(50)).state.contexts[1]  # type: ignore[attr-defined]

    assert context.user_named("U7").id == 17  # logins compare case-insensitively
    context.users[17].name = "seven"
    assert context.user_named("u7") is None
    assert context.user_named("seven").id == 17
    del context.users[18]
    assert context.user_named("u8") is None
    context.users[99] = context.users.pop(19)
    assert context.user_named("u9") is context.users[99]


async def test_a_combination_only_plan_change_is_one_read_and_one_write(make: Make) -> None:
    server = MockServer(OXMock, seed=_users(20))
    plans = {"mail": {"access_combination": "pim"}, "sync": {"access_combination": "pim_mobility"}}
    provider = make(server, plans=plans)

    for i in range(5):
        await provider.set_plan(MailboxRef(tenant=EXAMPLE, address=f"u{i}@example.com"), "sync")

    assert [r.route for r in server.requests] == 5 * [
        "OXUserService.getAccessCombinationName",
        "OXUserService.changeByModuleAccessName",
    ]


async def test_counting_many_users_reads_each_once(make: Make) -> None:
    server = MockServer(OXMock, seed=_users(300))
    provider = make(server, concurrency=4)

    counted = await provider.count_mailboxes(EXAMPLE)

    assert counted.by_plan["mail"] == 300
    reads = server.calls("OXUserService.getAccessCombinationName")
    ids = [r.body.split(b"<d:id>")[2].split(b"<")[0] for r in reads]  # [1] is the context
    assert len(ids) == len(set(ids))
    assert {str(10 + i).encode() for i in range(300)} <= set(ids)


def _expected_plans(server: MockServer, plans: dict[str, dict[str, Any]]) -> dict[str, int]:
    """What the mock's state says each plan holds (the first plan of a combination whose
    quota matches, else the first of that combination; else unmapped)."""
    state: Any = server.state
    counts: Counter[str] = Counter({name: 0 for name in plans})
    for user in state.contexts[1].users.values():
        combination = state.combination_of(user.access)
        matching = [n for n, p in plans.items() if p["access_combination"] == combination]
        by_quota = [n for n in matching if plans[n].get("quota_mb") == user.max_quota]
        counts[(by_quota or matching or ["unmapped"])[0]] += 1
    return dict(counts)


MIXED = ("pim", "pim_mobility", "groupware_premium", "webmail", "pim", "pim")


async def test_a_count_of_many_users_matches_the_mocks_state(make: Make) -> None:
    server = MockServer(OXMock, seed=_users(1_500, MIXED))
    plans = {
        "mail": {"access_combination": "pim"},
        "sync": {"access_combination": "pim_mobility"},
        "collaborate": {"access_combination": "groupware_premium"},
    }
    provider = make(server, plans=plans, concurrency=8)

    counted = await provider.count_mailboxes(EXAMPLE)

    users = server.state.contexts[1].users  # type: ignore[attr-defined]
    assert counted.of(MailboxKind.USER) == len(users) == 1_501  # the context admin too
    assert counted.by_plan == _expected_plans(server, plans)
    assert counted.by_plan["unmapped"] == 250 + 1  # webmail users and the admin ("all")
    assert len(server.calls("OXUserService.listAll")) == 1
    assert len(server.calls("OXUserService.getAccessCombinationName")) == 1_501


async def test_plans_sharing_a_combination_are_counted_a_slice_at_a_time(
    make: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ox_provider, "_SLICE", 120)
    server = MockServer(OXMock, seed=_users(500, MIXED))
    plans = {
        "mail": {"access_combination": "pim", "quota_mb": 1024},
        "mail_plus": {"access_combination": "pim", "quota_mb": 2048},
        "sync": {"access_combination": "pim_mobility"},
    }
    provider = make(server, plans=plans, concurrency=4)

    counted = await provider.count_mailboxes(EXAMPLE)

    assert counted.by_plan == _expected_plans(server, plans)
    assert counted.by_plan["mail"] > 0 and counted.by_plan["mail_plus"] > 0
    fetched = server.calls("OXUserService.getMultipleData")
    # Every user's data once, in batches of at most 100 within slices of 120 users.
    sent = [r.body.count(b"<s:users>") for r in fetched]
    assert sum(sent) == 501 and max(sent) <= 100
    assert len(fetched) == 4 * 2 + 1  # 501 = 4 slices of 120 (100 + 20) and one of 21


class _Streaming(httpx.AsyncBaseTransport):
    """The mock, but its listAll answer (built before the measurement) arrives in pieces
    from the network as from a real server, instead of in memory whole."""

    def __init__(self, server: MockServer) -> None:
        self.inner = server.transport()
        self.listing: bytes | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"listAll" in request.content and self.listing is not None:
            listing = self.listing

            async def pieces() -> AsyncIterator[bytes]:
                for start in range(0, len(listing), 16 * 1024):
                    yield listing[start : start + 16 * 1024]

            return httpx.Response(200, headers={"content-type": "text/xml"}, content=pieces())
        response = await self.inner.handle_async_request(request)
        if b"listAll" in request.content:
            self.listing = await response.aread()
        return response


async def test_listing_20000_users_peaks_far_below_the_size_of_the_answer() -> None:
    server = MockServer(OXMock, seed=_users(20_000))
    http = _Streaming(server)
    raw = {"mode": "context_admin", "context_id": 1}
    raw["credentials"] = {"username": "oxadmin", "secret": "secret"}
    provider = ox_provider.OXProvider(raw, instance="ox-test", http=http)
    first = await provider._user_ids(EXAMPLE, with_admin=True)  # imports, the answer built
    assert http.listing is not None

    tracemalloc.start()
    try:
        ids = await provider._user_ids(EXAMPLE, with_admin=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await provider.aclose()

    assert list(ids) == list(first)
    assert sorted(ids) == sorted(server.state.contexts[1].users)  # type: ignore[attr-defined]
    # Read whole, the answer alone is len(listing) bytes (about 770 KB) and its element
    # tree several times that. Streamed, the ids take 8 bytes each, and beyond them less
    # than a quarter of the answer is ever held (a few pieces and one item).
    beyond_ids = peak - 8 * len(ids)
    assert beyond_ids < len(http.listing) / 4, f"peak {peak} bytes, answer {len(http.listing)}"
