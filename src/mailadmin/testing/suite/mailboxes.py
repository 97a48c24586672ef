"""list_mailboxes, create_mailbox and delete_mailbox, where declared."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.models import Mailbox, MailboxKind, MailboxRef, NewMailbox, Outcome
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import (
    assert_no_writes,
    assert_platform_mailbox,
    assert_platform_plan,
    assert_result,
    async_test,
)

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["MailboxSuite"]

_KINDS = [kind.value for kind in MailboxKind]


class MailboxSuite:
    """The optional mailbox operations do what they declare."""

    @async_test
    @requires("list_mailboxes")
    async def test_list_includes_the_known_mailbox(self, mailadmin_harness: Harness) -> None:
        """The target's user mailbox is listed once, as a user mailbox."""
        h = mailadmin_harness
        listed = await h.provider.list_mailboxes(h.tenant)
        assert all(isinstance(m, Mailbox) for m in listed)
        addresses = [m.address for m in listed]
        assert len(addresses) == len(set(addresses)), "a mailbox is listed twice"
        known = [m for m in listed if m.address == h.mailbox.address]
        assert known, f"{h.mailbox.address} is not listed"
        assert known[0].kind is MailboxKind.USER

    @async_test
    @pytest.mark.parametrize("kind", _KINDS)
    @requires("create_mailbox:{kind}")
    async def test_create_mailbox(self, mailadmin_harness: Harness, kind: str) -> None:
        """Creates a mailbox of the kind; it is listed where listing is declared."""
        h = mailadmin_harness
        address = h.new_address(kind)
        plan = h.plans[1] if kind == MailboxKind.USER.value else None
        result = await h.provider.create_mailbox(
            h.tenant, NewMailbox(address=address, kind=MailboxKind(kind), plan=plan)
        )
        assert_result(result, operation="create_mailbox", subject=address)
        assert result.after is not None and result.after.address == address
        assert result.after.kind.value == kind
        assert_platform_mailbox(h, address, MailboxKind(kind), f"creating a {kind} mailbox")
        if plan is not None:
            new = MailboxRef(tenant=h.tenant, address=address)
            assert_platform_plan(h, plan, f"creating a {kind} mailbox on {plan}", new)
        if h.capabilities.supports("list_mailboxes"):
            listed = {m.address: m for m in await h.provider.list_mailboxes(h.tenant)}
            assert address in listed, f"the new {kind} mailbox is not listed"
            assert listed[address].kind.value == kind

    @async_test
    @pytest.mark.parametrize("kind", _KINDS)
    @requires("create_mailbox:{kind}")
    async def test_create_what_exists_is_unchanged(
        self, mailadmin_harness: Harness, kind: str
    ) -> None:
        """Creating a mailbox that exists (same address, same kind) is ``unchanged``, on
        every platform, and leaves one mailbox: a create is absolute, like every write."""
        h = mailadmin_harness
        address = h.new_address(kind)
        new = NewMailbox(address=address, kind=MailboxKind(kind))
        await h.provider.create_mailbox(h.tenant, new)
        again = await h.provider.create_mailbox(h.tenant, new)
        assert_result(
            again, operation="create_mailbox", subject=address, outcomes=(Outcome.UNCHANGED,)
        )
        assert again.after is not None and again.after.address == address
        assert_platform_mailbox(h, address, MailboxKind(kind), f"creating a {kind} mailbox twice")

    @async_test
    @requires("delete_mailbox:user")
    async def test_delete_mailbox_then_again_is_unchanged(self, mailadmin_harness: Harness) -> None:
        """Deletes the known mailbox; deleting it again is ``unchanged`` and sends no write."""
        h = mailadmin_harness
        result = await h.provider.delete_mailbox(h.mailbox)
        assert_result(result, operation="delete_mailbox", subject=h.mailbox.address)
        h.mock.clear_requests()
        again = await h.provider.delete_mailbox(h.mailbox)
        assert_result(
            again,
            operation="delete_mailbox",
            subject=h.mailbox.address,
            outcomes=(Outcome.UNCHANGED,),
        )
        assert_no_writes(h, "deleting a mailbox that is gone")
        assert_platform_mailbox(h, h.mailbox.address, None, "delete_mailbox")
        if h.capabilities.supports("list_mailboxes"):
            listed = [m.address for m in await h.provider.list_mailboxes(h.tenant)]
            assert h.mailbox.address not in listed, "the deleted mailbox is still listed"

    @async_test
    @pytest.mark.parametrize("kind", [k for k in _KINDS if k != MailboxKind.USER.value])
    @requires("create_mailbox:{kind}", "delete_mailbox:{kind}")
    async def test_delete_mailbox_of_each_kind(self, mailadmin_harness: Harness, kind: str) -> None:
        """A created shared, room or equipment mailbox can be deleted."""
        h = mailadmin_harness
        address = h.new_address(kind)
        await h.provider.create_mailbox(
            h.tenant, NewMailbox(address=address, kind=MailboxKind(kind))
        )
        result = await h.provider.delete_mailbox(MailboxRef(tenant=h.tenant, address=address))
        assert_result(result, operation="delete_mailbox", subject=address)
        assert result.before is None or result.before.kind.value == kind
        assert_platform_mailbox(h, address, None, f"deleting a {kind} mailbox")
