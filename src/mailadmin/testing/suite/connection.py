"""test_connection and list_plans: the provider reaches the mock and reads its catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailadmin.contract.models import ConnectionStatus, NativePlan
from mailadmin.testing.suite._checks import async_test

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["ConnectionSuite"]


class ConnectionSuite:
    """The provider talks to the mock it was given and reads the plan catalogue."""

    @async_test
    async def test_connection_succeeds(self, mailadmin_harness: Harness) -> None:
        """Good credentials: ``ok`` with the platform named, through the mock."""
        h = mailadmin_harness
        status = await h.provider.test_connection()
        assert isinstance(status, ConnectionStatus)
        assert status.ok, f"test_connection failed against the mock: {status.detail}"
        assert status.platform.strip(), "ConnectionStatus.platform is empty"
        assert h.mock.requests(), "the provider did not talk to the mock"

    @async_test
    async def test_list_plans_maps_the_configured_plans(self, mailadmin_harness: Harness) -> None:
        """A non-empty catalogue of distinct native plans; configured plans are named."""
        h = mailadmin_harness
        plans = await h.provider.list_plans()
        assert plans and all(isinstance(p, NativePlan) for p in plans)
        names = [p.native_name for p in plans]
        assert len(names) == len(set(names)), f"native plans listed twice: {names}"
        neutral = {p.neutral_name for p in plans}
        for plan in h.plans:
            assert plan in neutral, f"no native plan is mapped to the configured plan '{plan}'"
