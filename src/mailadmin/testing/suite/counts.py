"""count_mailboxes: counts by kind and by plan follow creations, deletions and plan changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.models import MailboxCount, MailboxKind, NewMailbox
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import assert_counts_add_up, async_test, plan_count

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["CountSuite"]

_KINDS = [kind.value for kind in MailboxKind]


class CountSuite:
    """Counts are consistent in themselves and with every change the provider makes."""

    @async_test
    async def test_counts_add_up(self, mailadmin_harness: Harness) -> None:
        """Totals match the parts; the known user mailbox is counted."""
        h = mailadmin_harness
        count = await h.provider.count_mailboxes(h.tenant)
        assert isinstance(count, MailboxCount)
        assert count.tenant in (h.tenant.name, h.tenant.key), f"count.tenant is {count.tenant!r}"
        assert_counts_add_up(count)
        assert count.of(MailboxKind.USER) >= 1, "the target's user mailbox is not counted"

    @async_test
    async def test_counts_agree_with_the_platform(self, mailadmin_harness: Harness) -> None:
        """Counted by kind, the platform's own mailboxes give the provider's counts."""
        h = mailadmin_harness
        if not h.platform.available:
            pytest.skip("the target has no probe")
        held = h.platform.mailboxes()
        count = await h.provider.count_mailboxes(h.tenant)
        for kind in MailboxKind:
            on_platform = sum(1 for k in held.values() if k is kind)
            assert count.of(kind) == on_platform, (
                f"{count.of(kind)} {kind.value} mailboxes counted; the platform holds {on_platform}"
            )

    @async_test
    async def test_counts_follow_a_plan_change(self, mailadmin_harness: Harness) -> None:
        """Moving one mailbox moves one count from the old plan to the new."""
        h = mailadmin_harness
        old, new = h.plans
        await h.provider.set_plan(h.mailbox, old)
        before = await h.provider.count_mailboxes(h.tenant)
        await h.provider.set_plan(h.mailbox, new)
        after = await h.provider.count_mailboxes(h.tenant)
        assert_counts_add_up(after)
        assert plan_count(after, old) == plan_count(before, old) - 1
        assert plan_count(after, new) == plan_count(before, new) + 1
        assert after.by_kind == before.by_kind

    @async_test
    @pytest.mark.parametrize("kind", _KINDS)
    @requires("create_mailbox:{kind}")
    async def test_counts_follow_a_creation(self, mailadmin_harness: Harness, kind: str) -> None:
        """A new mailbox of a kind adds one to that kind (and to its plan for users)."""
        h = mailadmin_harness
        plan = h.plans[0] if kind == MailboxKind.USER.value else None
        before = await h.provider.count_mailboxes(h.tenant)
        await h.provider.create_mailbox(
            h.tenant, NewMailbox(address=h.new_address(kind), kind=MailboxKind(kind), plan=plan)
        )
        after = await h.provider.count_mailboxes(h.tenant)
        assert_counts_add_up(after)
        for other in MailboxKind:
            grown = 1 if other.value == kind else 0
            assert after.of(other) == before.of(other) + grown, f"{other.value} count is wrong"
        if plan is not None:
            assert plan_count(after, plan) == plan_count(before, plan) + 1

    @async_test
    @requires("delete_mailbox:user")
    async def test_counts_follow_a_deletion(self, mailadmin_harness: Harness) -> None:
        """Deleting the known user mailbox takes one from users and from its plan."""
        h = mailadmin_harness
        plan = h.plans[0]
        await h.provider.set_plan(h.mailbox, plan)
        before = await h.provider.count_mailboxes(h.tenant)
        await h.provider.delete_mailbox(h.mailbox)
        after = await h.provider.count_mailboxes(h.tenant)
        assert_counts_add_up(after)
        assert after.of(MailboxKind.USER) == before.of(MailboxKind.USER) - 1
        assert plan_count(after, plan) == plan_count(before, plan) - 1

    @async_test
    @requires("list_mailboxes")
    async def test_counts_agree_with_the_list(self, mailadmin_harness: Harness) -> None:
        """Every listed mailbox is counted once, under its kind."""
        h = mailadmin_harness
        listed = await h.provider.list_mailboxes(h.tenant)
        count = await h.provider.count_mailboxes(h.tenant)
        assert count.total == len(listed)
        for kind in MailboxKind:
            assert count.of(kind) == sum(1 for m in listed if m.kind is kind), kind.value
