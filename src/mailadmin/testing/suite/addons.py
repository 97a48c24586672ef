"""apply_addon: the quantity is a total, so the same call twice changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.capabilities import KNOWN_ADDONS
from mailadmin.contract.models import Outcome
from mailadmin.testing.requirements import requires
from mailadmin.testing.suite._checks import (
    assert_no_writes,
    assert_platform_addon,
    assert_result,
    async_test,
)

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["AddonSuite"]


class AddonSuite:
    """Every declared add-on takes an absolute quantity, idempotently."""

    @async_test
    @pytest.mark.parametrize("addon", KNOWN_ADDONS)
    @requires("addon:{addon}")
    async def test_apply_addon_sets_an_absolute_quantity(
        self, mailadmin_harness: Harness, addon: str
    ) -> None:
        """Set a total, set it again (``unchanged``, no write), then another total."""
        await check_addon(mailadmin_harness, addon)

    @async_test
    async def test_other_declared_addons(self, mailadmin_harness: Harness) -> None:
        """The same for add-ons the provider declares beyond the known ones."""
        h = mailadmin_harness
        others = sorted(h.capabilities.addons - set(KNOWN_ADDONS))
        if not others:
            pytest.skip(f"{h.target.provider.name} declares no add-on beyond the known ones")
        for addon in others:
            await check_addon(h, addon)

    @async_test
    async def test_addons_of_one_tenant_keep_each_other(self, mailadmin_harness: Harness) -> None:
        """Setting one add-on leaves every other add-on of the tenant as it was: a
        platform that keeps a tenant's limits in one record must not lose the others."""
        h = mailadmin_harness
        addons = sorted(h.capabilities.addons)
        if len(addons) < 2:
            pytest.skip(f"{h.target.provider.name} declares fewer than two add-ons")
        low, high = sorted(h.target.addon_quantities)
        totals = {addon: low + n for n, addon in enumerate(addons)}
        for addon, total in totals.items():
            await h.provider.apply_addon(h.tenant, addon, total)
        for addon, total in totals.items():
            assert_platform_addon(h, addon, total, "setting every add-on in turn")
        await h.provider.apply_addon(h.tenant, addons[0], high + len(addons))
        for addon, total in list(totals.items())[1:]:
            assert_platform_addon(h, addon, total, f"changing {addons[0]} again")


async def check_addon(h: Harness, addon: str) -> None:
    """Apply ``addon`` at the target's two quantities, with a repeat in between."""
    first, second = h.target.addon_quantities
    tenant = h.tenant.name
    result = await h.provider.apply_addon(h.tenant, addon, first)
    assert_result(
        result,
        operation="apply_addon",
        outcomes=(Outcome.CHANGED, Outcome.UNCHANGED, Outcome.ACCEPTED),
    )
    assert result.after == first, f"{addon}: after is {result.after}, expected {first}"
    assert_platform_addon(h, addon, first, f"apply_addon {addon} {first}")
    h.mock.clear_requests()
    again = await h.provider.apply_addon(h.tenant, addon, first)
    assert_result(again, operation="apply_addon", outcomes=(Outcome.UNCHANGED,))
    assert (again.before, again.after) == (first, first), f"{addon} on {tenant}"
    assert_no_writes(h, f"an unchanged apply_addon of {addon}")
    changed = await h.provider.apply_addon(h.tenant, addon, second)
    assert_result(changed, operation="apply_addon")
    assert (changed.before, changed.after) == (first, second), f"{addon} on {tenant}"
    assert_platform_addon(h, addon, second, f"apply_addon {addon} {second}")
