"""Dry runs: every write operation reports what it would do and sends no write."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.capabilities import KNOWN_ADDONS
from mailadmin.contract.models import MailboxKind, NewMailbox, Outcome
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import (
    assert_no_writes,
    assert_platform_addon,
    assert_platform_mailbox,
    assert_platform_plan,
    assert_result,
    async_test,
)

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["DryRunSuite"]

_KINDS = [kind.value for kind in MailboxKind]


class DryRunSuite:
    """``dry_run=True``: the answer of the real call, marked ``dry_run``, and no write."""

    @async_test
    async def test_dry_run_set_plan_sends_no_write(self, mailadmin_harness: Harness) -> None:
        """Reports the change; the mailbox stays on its plan."""
        h = mailadmin_harness
        old, new = h.plans
        await h.provider.set_plan(h.mailbox, old)
        h.mock.clear_requests()
        preview = await h.provider.set_plan(h.mailbox, new, dry_run=True)
        assert_result(preview, operation="set_plan", subject=h.mailbox.address, dry_run=True)
        assert (preview.before, preview.after) == (old, new)
        same = await h.provider.set_plan(h.mailbox, old, dry_run=True)
        assert_result(same, operation="set_plan", outcomes=(Outcome.UNCHANGED,), dry_run=True)
        assert_no_writes(h, "a dry-run set_plan")
        assert_platform_plan(h, old, "a dry-run set_plan")
        still = await h.provider.set_plan(h.mailbox, old)
        assert still.outcome is Outcome.UNCHANGED, "the dry run changed the plan"

    @async_test
    @pytest.mark.parametrize("addon", KNOWN_ADDONS)
    @requires("addon:{addon}")
    async def test_dry_run_apply_addon_sends_no_write(
        self, mailadmin_harness: Harness, addon: str
    ) -> None:
        """Reports the new total; the old total stays."""
        h = mailadmin_harness
        first, second = h.target.addon_quantities
        await h.provider.apply_addon(h.tenant, addon, first)
        h.mock.clear_requests()
        preview = await h.provider.apply_addon(h.tenant, addon, second, dry_run=True)
        assert_result(preview, operation="apply_addon", dry_run=True)
        assert (preview.before, preview.after) == (first, second)
        assert_no_writes(h, f"a dry-run apply_addon of {addon}")
        assert_platform_addon(h, addon, first, f"a dry-run apply_addon of {addon}")
        still = await h.provider.apply_addon(h.tenant, addon, first)
        assert still.outcome is Outcome.UNCHANGED, "the dry run changed the add-on"

    @async_test
    @pytest.mark.parametrize("kind", _KINDS)
    @requires("create_mailbox:{kind}")
    async def test_dry_run_create_mailbox_sends_no_write(
        self, mailadmin_harness: Harness, kind: str
    ) -> None:
        """Reports the mailbox it would create; none is created."""
        h = mailadmin_harness
        address = h.new_address(kind)
        plan = h.plans[0] if kind == MailboxKind.USER.value else None
        before = await h.provider.count_mailboxes(h.tenant)
        h.mock.clear_requests()
        preview = await h.provider.create_mailbox(
            h.tenant, NewMailbox(address=address, kind=MailboxKind(kind), plan=plan), dry_run=True
        )
        assert_result(preview, operation="create_mailbox", subject=address, dry_run=True)
        assert preview.after is not None and preview.after.address == address
        assert preview.after.kind.value == kind
        assert_no_writes(h, "a dry-run create_mailbox")
        assert_platform_mailbox(h, address, None, "a dry-run create_mailbox")
        assert await h.provider.count_mailboxes(h.tenant) == before, "a mailbox was created"

    @async_test
    @requires("delete_mailbox:user")
    async def test_dry_run_delete_mailbox_sends_no_write(self, mailadmin_harness: Harness) -> None:
        """Reports the deletion; the mailbox stays."""
        h = mailadmin_harness
        before = await h.provider.count_mailboxes(h.tenant)
        h.mock.clear_requests()
        preview = await h.provider.delete_mailbox(h.mailbox, dry_run=True)
        assert_result(preview, operation="delete_mailbox", subject=h.mailbox.address, dry_run=True)
        assert_no_writes(h, "a dry-run delete_mailbox")
        assert_platform_mailbox(h, h.mailbox.address, MailboxKind.USER, "a dry-run delete_mailbox")
        assert await h.provider.count_mailboxes(h.tenant) == before, "the mailbox was deleted"
