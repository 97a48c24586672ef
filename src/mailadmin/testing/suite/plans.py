"""set_plan: upgrades and downgrades report before and after, and a repeat is a no-op."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailadmin.contract.models import Outcome
from mailadmin.testing.suite._checks import (
    assert_no_writes,
    assert_platform_plan,
    assert_result,
    async_test,
)

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["SetPlanSuite"]


class SetPlanSuite:
    """Moving the target's mailbox between its two plans."""

    @async_test
    async def test_set_plan_then_set_plan_again_is_unchanged(
        self, mailadmin_harness: Harness
    ) -> None:
        """The second identical call answers ``unchanged`` and sends no write."""
        h = mailadmin_harness
        for plan in h.plans:
            first = await h.provider.set_plan(h.mailbox, plan)
            assert_result(
                first,
                operation="set_plan",
                subject=h.mailbox.address,
                outcomes=(Outcome.CHANGED, Outcome.UNCHANGED, Outcome.ACCEPTED),
            )
            assert first.after == plan
            if first.outcome is not Outcome.ACCEPTED:
                assert_platform_plan(h, plan, f"set_plan to {plan}")
            h.mock.clear_requests()
            again = await h.provider.set_plan(h.mailbox, plan)
            assert_result(
                again,
                operation="set_plan",
                subject=h.mailbox.address,
                outcomes=(Outcome.UNCHANGED,),
            )
            assert (again.before, again.after) == (plan, plan)
            assert_no_writes(h, "an unchanged set_plan")

    @async_test
    async def test_set_plan_reports_before_and_after(self, mailadmin_harness: Harness) -> None:
        """A change answers ``changed`` (or ``accepted``) with the old and the new plan."""
        h = mailadmin_harness
        old, new = h.plans
        await h.provider.set_plan(h.mailbox, old)
        result = await h.provider.set_plan(h.mailbox, new)
        assert_result(result, operation="set_plan", subject=h.mailbox.address)
        assert (result.before, result.after) == (old, new)
        if result.outcome is not Outcome.ACCEPTED:
            assert_platform_plan(h, new, f"set_plan from {old} to {new}")
        back = await h.provider.set_plan(h.mailbox, old)
        assert_result(back, operation="set_plan", subject=h.mailbox.address)
        assert (back.before, back.after) == (new, old)
        if back.outcome is not Outcome.ACCEPTED:
            assert_platform_plan(h, old, f"set_plan from {new} back to {old}")
