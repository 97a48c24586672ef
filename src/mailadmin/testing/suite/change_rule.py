"""The one dry-run rule, and capabilities per instance, checked for every provider.

``ChangeResult.dry_run`` is true exactly when the call was made with ``dry_run=True``,
whatever the outcome (``unchanged`` included), and false on every real call. An instance's
capabilities may narrow its class's by settings, never widen them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.capabilities import KNOWN_ADDONS
from mailadmin.contract.models import ChangeResult, MailboxRef, Outcome
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import assert_no_writes, async_test

if TYPE_CHECKING:
    from typing import Any

    from mailadmin.testing.harness import Harness

__all__ = ["ChangeRuleSuite"]


def _rule(result: ChangeResult[Any], dry_run: bool, what: str) -> None:
    assert isinstance(result, ChangeResult), f"{what} returned {type(result).__name__}"
    assert result.dry_run is dry_run, (
        f"{what} ({result.outcome.value}) says dry_run={result.dry_run}; the call was "
        f"{'a dry run' if dry_run else 'real'}"
    )


def _instance_supports(h: Harness, key: str) -> None:
    capabilities = h.provider.instance_capabilities
    if not capabilities.supports(key):
        pytest.skip(f"{h.provider.instance} does not support {key}: {capabilities.reason(key)}")


class ChangeRuleSuite:
    """``dry_run`` on a write result tells how the call was made, for every outcome."""

    @async_test
    async def test_set_plan_results_tell_dry_runs_from_real_calls(
        self, mailadmin_harness: Harness
    ) -> None:
        """Unchanged and changed, as a dry run and for real."""
        h = mailadmin_harness
        old, new = h.plans
        _rule(await h.provider.set_plan(h.mailbox, old), False, "set_plan")
        h.mock.clear_requests()
        same = await h.provider.set_plan(h.mailbox, old, dry_run=True)
        assert same.outcome is Outcome.UNCHANGED, f"a dry run to the same plan is {same.outcome}"
        _rule(same, True, "a dry-run set_plan to the plan it has")
        other = await h.provider.set_plan(h.mailbox, new, dry_run=True)
        _rule(other, True, "a dry-run set_plan to another plan")
        assert_no_writes(h, "a dry-run set_plan")
        again = await h.provider.set_plan(h.mailbox, old)
        assert again.outcome is Outcome.UNCHANGED
        _rule(again, False, "a real set_plan that changes nothing")

    @async_test
    @pytest.mark.parametrize("addon", KNOWN_ADDONS)
    @requires("addon:{addon}")
    async def test_apply_addon_results_tell_dry_runs_from_real_calls(
        self, mailadmin_harness: Harness, addon: str
    ) -> None:
        """An unchanged total reports ``dry_run`` as the call was made."""
        h = mailadmin_harness
        _instance_supports(h, f"addon:{addon}")
        first, _ = h.target.addon_quantities
        _rule(await h.provider.apply_addon(h.tenant, addon, first), False, "apply_addon")
        h.mock.clear_requests()
        same = await h.provider.apply_addon(h.tenant, addon, first, dry_run=True)
        assert same.outcome is Outcome.UNCHANGED
        _rule(same, True, f"a dry-run apply_addon of {addon} to its total")
        assert_no_writes(h, f"a dry-run apply_addon of {addon}")

    @async_test
    @requires("delete_mailbox:user")
    async def test_deleting_a_missing_mailbox_as_a_dry_run_says_so(
        self, mailadmin_harness: Harness
    ) -> None:
        """Nothing to delete: ``unchanged``, and still marked as a dry run."""
        h = mailadmin_harness
        _instance_supports(h, "delete_mailbox:user")
        gone = MailboxRef(tenant=h.tenant, address=h.new_address("gone"))
        result = await h.provider.delete_mailbox(gone, dry_run=True)
        assert result.outcome is Outcome.UNCHANGED
        _rule(result, True, "a dry-run delete_mailbox of a missing mailbox")

    @async_test
    async def test_instance_capabilities_only_narrow_the_class(
        self, mailadmin_harness: Harness
    ) -> None:
        """Whatever an instance supports, its class declares."""
        h = mailadmin_harness
        declared = h.target.provider.capabilities
        instance = h.provider.instance_capabilities
        wider = [f.key for f in instance.features() if f.supported and not declared.supports(f.key)]
        assert not wider, f"the instance supports what its class does not declare: {wider}"
        narrowed = [
            f.key for f in declared.features() if f.supported and not instance.supports(f.key)
        ]
        assert all(instance.reason(key) for key in narrowed), "a narrowed feature has no reason"
