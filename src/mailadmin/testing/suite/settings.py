"""Mailbox settings (display name, forwarding, quota, aliases) and single sign-on, where
declared.

Each write is checked in the mock's state through the target's probe: the platform holds
the new value afterwards, a repeat is ``unchanged`` and sends nothing, a dry run sends
nothing and leaves the platform as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxRef, Outcome
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import assert_no_writes, assert_result, async_test

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["SettingsSuite"]

#: A display name no fixture holds.
NEW_NAME = "Kit Display Name"
#: A quota in MB every platform accepts below its plans' quotas.
NEW_QUOTA_MB = 1536


class SettingsSuite:
    """Each mailbox setting does what it declares, on the platform."""

    @async_test
    @requires("set_display_name")
    async def test_set_display_name(self, mailadmin_harness: Harness) -> None:
        """The platform holds the new name; again is ``unchanged`` and sends nothing."""
        h = mailadmin_harness
        result = await h.provider.set_display_name(h.mailbox, NEW_NAME)
        assert_result(result, operation="set_display_name", subject=h.mailbox.address)
        assert result.after == NEW_NAME
        if h.platform.available:
            held = h.platform.mailbox_settings().display_name
            assert held == NEW_NAME, f"after set_display_name the platform holds {held!r}"
        h.mock.clear_requests()
        again = await h.provider.set_display_name(h.mailbox, NEW_NAME)
        assert_result(again, operation="set_display_name", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "setting the display name a mailbox has")

    @async_test
    @requires("set_display_name")
    async def test_set_display_name_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run reports the change, sends no write, and the name stays."""
        h = mailadmin_harness
        held = h.platform.mailbox_settings().display_name if h.platform.available else None
        h.mock.clear_requests()
        result = await h.provider.set_display_name(h.mailbox, NEW_NAME, dry_run=True)
        assert_result(result, operation="set_display_name", dry_run=True)
        assert_no_writes(h, "a dry run of set_display_name")
        if h.platform.available:
            assert h.platform.mailbox_settings().display_name == held, "a dry run renamed"

    @async_test
    @requires("set_forwarding")
    async def test_set_and_clear_forwarding(self, mailadmin_harness: Harness) -> None:
        """Forwarding set is held by the platform; ``""`` clears it."""
        h = mailadmin_harness
        target = h.new_address("forward-target")
        result = await h.provider.set_forwarding(h.mailbox, target)
        assert_result(result, operation="set_forwarding", subject=h.mailbox.address)
        assert (result.before, result.after) == ("", target)
        if h.platform.available:
            held = h.platform.mailbox_settings().forwarding
            assert held == target, f"after set_forwarding the platform forwards to {held!r}"
        h.mock.clear_requests()
        again = await h.provider.set_forwarding(h.mailbox, target)
        assert_result(again, operation="set_forwarding", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "setting the forwarding a mailbox has")
        cleared = await h.provider.set_forwarding(h.mailbox, "")
        assert (cleared.before, cleared.after) == (target, "")
        if h.platform.available:
            assert h.platform.mailbox_settings().forwarding == "", "forwarding was not cleared"

    @async_test
    @requires("set_quota")
    async def test_set_quota(self, mailadmin_harness: Harness) -> None:
        """The platform holds the new quota in MB; again is ``unchanged``."""
        h = mailadmin_harness
        result = await h.provider.set_quota(h.mailbox, NEW_QUOTA_MB)
        assert_result(result, operation="set_quota", subject=h.mailbox.address)
        assert result.after == NEW_QUOTA_MB
        if h.platform.available:
            held = h.platform.mailbox_settings().quota_mb
            assert held == NEW_QUOTA_MB, f"after set_quota the platform holds {held!r} MB"
        h.mock.clear_requests()
        again = await h.provider.set_quota(h.mailbox, NEW_QUOTA_MB)
        assert_result(again, operation="set_quota", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "setting the quota a mailbox has")

    @async_test
    @requires("set_quota")
    async def test_set_quota_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run of a quota change sends no write; the quota stays."""
        h = mailadmin_harness
        held = h.platform.mailbox_settings().quota_mb if h.platform.available else None
        h.mock.clear_requests()
        result = await h.provider.set_quota(h.mailbox, NEW_QUOTA_MB, dry_run=True)
        assert_result(result, operation="set_quota", dry_run=True)
        assert_no_writes(h, "a dry run of set_quota")
        if h.platform.available:
            assert h.platform.mailbox_settings().quota_mb == held, "a dry run changed the quota"

    @async_test
    @requires("add_alias", "remove_alias", "list_aliases")
    async def test_add_list_and_remove_alias(self, mailadmin_harness: Harness) -> None:
        """An added alias is held by the platform and listed; adding it again is
        ``unchanged``; removing it leaves the platform without it."""
        h = mailadmin_harness
        alias = h.new_address("kit-alias")
        result = await h.provider.add_alias(h.mailbox, alias)
        assert_result(result, operation="add_alias", subject=h.mailbox.address)
        assert alias in (result.after or []) and alias not in (result.before or [])
        if h.platform.available:
            held = h.platform.mailbox_settings().aliases
            assert alias in held, f"after add_alias the platform holds aliases {held}"
        assert alias in await h.provider.list_aliases(h.mailbox)
        h.mock.clear_requests()
        again = await h.provider.add_alias(h.mailbox, alias)
        assert_result(again, operation="add_alias", outcomes=(Outcome.UNCHANGED,))
        assert_no_writes(h, "adding an alias a mailbox has")
        removed = await h.provider.remove_alias(h.mailbox, alias)
        assert_result(removed, operation="remove_alias")
        assert alias not in (removed.after or [])
        if h.platform.available:
            assert alias not in h.platform.mailbox_settings().aliases, "the alias stayed"
        assert alias not in await h.provider.list_aliases(h.mailbox)

    @async_test
    @requires("add_alias")
    async def test_add_alias_dry_run_sends_nothing(self, mailadmin_harness: Harness) -> None:
        """A dry run of an alias sends no write; the platform holds no such alias."""
        h = mailadmin_harness
        alias = h.new_address("kit-dry-alias")
        h.mock.clear_requests()
        result = await h.provider.add_alias(h.mailbox, alias, dry_run=True)
        assert_result(result, operation="add_alias", dry_run=True)
        assert_no_writes(h, "a dry run of add_alias")
        if h.platform.available:
            assert alias not in h.platform.mailbox_settings().aliases, "a dry run added it"

    @async_test
    @requires("set_display_name")
    async def test_setting_of_a_missing_mailbox(self, mailadmin_harness: Harness) -> None:
        """A mailbox that does not exist is ``NotFoundError``; nothing is written."""
        h = mailadmin_harness
        missing = MailboxRef(tenant=h.tenant, address=h.new_address("missing"))
        h.mock.clear_requests()
        with pytest.raises(errors.NotFoundError):
            await h.provider.set_display_name(missing, NEW_NAME)
        assert_no_writes(h, "a setting of a missing mailbox")

    @async_test
    @requires("single_sign_on")
    async def test_single_sign_on(self, mailadmin_harness: Harness) -> None:
        """A sign-on link is a URL of the platform; it is no write."""
        h = mailadmin_harness
        h.mock.clear_requests()
        found = await h.provider.single_sign_on(h.mailbox)
        assert found.url.startswith(("http://", "https://")), "the sign-on link is no URL"
        assert found.url not in repr(found), "the sign-on link shows in its repr"
        assert_no_writes(h, "single_sign_on")
