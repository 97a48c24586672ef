"""set_password, suspend and resume of a mailbox and of a tenant, and creating and
removing a tenant, where declared.

Each check reads the mock's state through the target's probe: a password the platform
would accept, a mailbox or tenant it holds suspended; and that a suspension deleted
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, MailboxRef, Outcome, TenantRef
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import (
    assert_no_writes,
    assert_platform_mailbox,
    assert_result,
    async_test,
)

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["LifecycleSuite"]

#: A password every platform's default policy accepts (length, classes of characters).
NEW_PASSWORD = "Kit-Pass-2026!xyz"


class LifecycleSuite:
    """Passwords and suspensions do what they declare, on the platform."""

    @async_test
    @requires("set_password")
    async def test_set_password(self, mailadmin_harness: Harness) -> None:
        """The platform accepts the new password afterwards; the result never shows it."""
        h = mailadmin_harness
        result = await h.provider.set_password(h.mailbox, NEW_PASSWORD)
        assert_result(result, operation="set_password", subject=h.mailbox.address)
        assert NEW_PASSWORD not in result.model_dump_json(), "the result shows the password"
        if h.platform.available:
            assert h.platform.password_matches(NEW_PASSWORD), (
                f"after set_password, the platform does not accept the new password of "
                f"{h.mailbox.address}"
            )

    @async_test
    @requires("set_password")
    async def test_set_password_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run reports the change and sends no write; the old password still holds."""
        h = mailadmin_harness
        h.mock.clear_requests()
        result = await h.provider.set_password(h.mailbox, NEW_PASSWORD, dry_run=True)
        assert_result(result, operation="set_password", subject=h.mailbox.address, dry_run=True)
        assert_no_writes(h, "a dry run of set_password")
        if h.platform.available:
            assert not h.platform.password_matches(NEW_PASSWORD), (
                "a dry run of set_password changed the password"
            )

    @async_test
    @requires("set_password")
    async def test_set_password_of_a_missing_mailbox(self, mailadmin_harness: Harness) -> None:
        """A mailbox that does not exist is ``NotFoundError``, naming it."""
        h = mailadmin_harness
        missing = MailboxRef(tenant=h.tenant, address=h.new_address("missing"))
        with pytest.raises(errors.NotFoundError) as caught:
            await h.provider.set_password(missing, NEW_PASSWORD)
        assert NEW_PASSWORD not in str(caught.value.debug), "the error's debug shows the password"

    @async_test
    @requires("suspend_mailbox", "resume_mailbox")
    async def test_suspend_and_resume_mailbox(self, mailadmin_harness: Harness) -> None:
        """Suspending holds the mailbox suspended, deleting nothing; again is ``unchanged``
        and sends nothing; resuming makes it active."""
        h = mailadmin_harness
        address = h.mailbox.address
        result = await h.provider.suspend_mailbox(h.mailbox)
        assert_result(result, operation="suspend_mailbox", subject=address)
        assert (result.before, result.after) == ("active", "suspended")
        if h.platform.available:
            assert h.platform.mailbox_suspended(), f"after suspend_mailbox {address} is active"
        assert_platform_mailbox(h, address, MailboxKind.USER, "suspend_mailbox")
        h.mock.clear_requests()
        again = await h.provider.suspend_mailbox(h.mailbox)
        assert_result(
            again, operation="suspend_mailbox", subject=address, outcomes=(Outcome.UNCHANGED,)
        )
        assert_no_writes(h, "suspending a suspended mailbox")
        resumed = await h.provider.resume_mailbox(h.mailbox)
        assert_result(resumed, operation="resume_mailbox", subject=address)
        assert (resumed.before, resumed.after) == ("suspended", "active")
        if h.platform.available:
            assert not h.platform.mailbox_suspended(), f"after resume_mailbox {address} is not"

    @async_test
    @requires("suspend_mailbox")
    async def test_suspend_mailbox_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run of a suspension sends no write; the mailbox stays active."""
        h = mailadmin_harness
        h.mock.clear_requests()
        result = await h.provider.suspend_mailbox(h.mailbox, dry_run=True)
        assert_result(result, operation="suspend_mailbox", dry_run=True)
        assert_no_writes(h, "a dry run of suspend_mailbox")
        if h.platform.available:
            assert not h.platform.mailbox_suspended(), "a dry run suspended the mailbox"

    @async_test
    @requires("suspend_tenant", "resume_tenant")
    async def test_suspend_and_resume_tenant(self, mailadmin_harness: Harness) -> None:
        """Suspending a tenant holds it suspended and deletes none of its mailboxes; again
        is ``unchanged`` and sends nothing; resuming makes it active."""
        h = mailadmin_harness
        held = h.platform.mailboxes() if h.platform.available else {}
        result = await h.provider.suspend_tenant(h.tenant)
        assert_result(result, operation="suspend_tenant")
        assert (result.before, result.after) == ("active", "suspended")
        if h.platform.available:
            assert h.platform.tenant_suspended(), "after suspend_tenant the tenant is active"
            assert h.platform.mailboxes() == held, "suspend_tenant changed the tenant's mailboxes"
        h.mock.clear_requests()
        again = await h.provider.suspend_tenant(h.tenant)
        assert_result(again, operation="suspend_tenant", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "suspending a suspended tenant")
        resumed = await h.provider.resume_tenant(h.tenant)
        assert_result(resumed, operation="resume_tenant")
        assert (resumed.before, resumed.after) == ("suspended", "active")
        if h.platform.available:
            assert not h.platform.tenant_suspended(), "after resume_tenant it is still suspended"

    @async_test
    @requires("suspend_tenant")
    async def test_suspend_tenant_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run of a tenant's suspension sends no write; the tenant stays active."""
        h = mailadmin_harness
        h.mock.clear_requests()
        result = await h.provider.suspend_tenant(h.tenant, dry_run=True)
        assert_result(result, operation="suspend_tenant", dry_run=True)
        assert_no_writes(h, "a dry run of suspend_tenant")
        if h.platform.available:
            assert not h.platform.tenant_suspended(), "a dry run suspended the tenant"

    @async_test
    @requires("create_tenant", "delete_tenant")
    async def test_create_and_delete_tenant(self, mailadmin_harness: Harness) -> None:
        """A new tenant is on the platform afterwards; creating it again is ``unchanged``
        and sends nothing; deleting it removes it; deleting it again is ``unchanged``."""
        h = mailadmin_harness
        tenant = TenantRef(name="kit-new." + h.tenant.key.lower().rpartition("@")[2])
        result = await h.provider.create_tenant(tenant)
        assert_result(result, operation="create_tenant", subject=tenant.name)
        assert (result.before, result.after) == ("absent", "present")
        if h.platform.available:
            assert h.platform.tenant_exists(tenant), f"after create_tenant {tenant.name} is absent"
        h.mock.clear_requests()
        again = await h.provider.create_tenant(tenant)
        assert_result(again, operation="create_tenant", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "creating a tenant that exists")
        removed = await h.provider.delete_tenant(tenant)
        assert_result(removed, operation="delete_tenant", subject=tenant.name)
        assert (removed.before, removed.after) == ("present", "absent")
        if h.platform.available:
            assert not h.platform.tenant_exists(tenant), "after delete_tenant it is still there"
        h.mock.clear_requests()
        gone = await h.provider.delete_tenant(tenant)
        assert_result(gone, operation="delete_tenant", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "deleting a tenant that is gone")

    @async_test
    @requires("list_tenants")
    async def test_list_tenants_holds_the_target_tenant(self, mailadmin_harness: Harness) -> None:
        """The tenants the platform lists (what reconcile compares with the customers)
        hold the target's tenant, once; listing sends no write."""
        h = mailadmin_harness
        h.mock.clear_requests()
        listed = await h.provider.list_tenants()
        assert_no_writes(h, "listing tenants")
        wanted = {h.tenant.key.lower(), h.tenant.name.lower()}
        found = [t for t in listed if {t.key.lower(), t.name.lower()} & wanted]
        assert len(found) == 1, f"{h.tenant.name} listed {len(found)} times in {listed}"

    @async_test
    @requires("create_tenant")
    async def test_create_tenant_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run of a creation sends no write; the tenant stays absent."""
        h = mailadmin_harness
        tenant = TenantRef(name="kit-dry." + h.tenant.key.lower().rpartition("@")[2])
        h.mock.clear_requests()
        result = await h.provider.create_tenant(tenant, dry_run=True)
        assert_result(result, operation="create_tenant", dry_run=True)
        assert_no_writes(h, "a dry run of create_tenant")
        if h.platform.available:
            assert not h.platform.tenant_exists(tenant), "a dry run created the tenant"

    @async_test
    @requires("delete_tenant")
    async def test_delete_tenant_with_mailboxes_is_refused_or_empties_it(
        self, mailadmin_harness: Harness
    ) -> None:
        """The target's tenant still has mailboxes: the platform refuses with a
        ``ConflictError`` (its mailboxes untouched) or removes them with it."""
        h = mailadmin_harness
        held = h.platform.mailboxes() if h.platform.available else {}
        try:
            await h.provider.delete_tenant(h.tenant)
        except errors.ConflictError:
            if h.platform.available:
                assert h.platform.mailboxes() == held, "a refused delete_tenant lost mailboxes"
                assert h.platform.tenant_exists(h.tenant), "a refused delete_tenant removed it"
            return
        if h.platform.available:
            assert not h.platform.tenant_exists(h.tenant), "delete_tenant left the tenant"
