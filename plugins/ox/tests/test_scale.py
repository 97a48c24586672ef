"""What the performance work of issue 15 keeps true for OX (no timings: see benchmarks/).

The mock finds users through an index that follows renames, deletions and new users; a
plan change that moves only the access combination costs one read and one write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailadmin_ox.mock.platform import OXMock

from mailadmin.contract.models import MailboxRef, TenantRef
from mailadmin.mock import MockServer

if TYPE_CHECKING:
    from conftest import Make

EXAMPLE = TenantRef(name="example.com", native_id="1")


def _users(n: int) -> dict[str, Any]:
    users = [
        {
            "id": 10 + i,
            "name": f"u{i}",
            "display_name": f"User {i}",
            "given_name": "User",
            "sur_name": str(i),
            "primaryEmail": f"u{i}@example.com",
            "email1": f"u{i}@example.com",
            "access_combination": "pim",
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
