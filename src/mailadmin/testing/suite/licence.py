"""get_licence: seats licensed, used and free agree, and over-use is flagged."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.capabilities import LicenceKind
from mailadmin.contract.models import Licence, LicenceState
from mailadmin.testing.suite._checks import async_test

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["LicenceSuite"]


class LicenceSuite:
    """Licence figures as the platform reports them."""

    @async_test
    async def test_licence_figures_are_consistent(self, mailadmin_harness: Harness) -> None:
        """Free is licensed minus used; features and validity make sense."""
        h = mailadmin_harness
        licence = await h.provider.get_licence()
        check_licence(licence)

    @async_test
    async def test_the_licence_follows_the_declared_model(self, mailadmin_harness: Harness) -> None:
        """A platform declared without licences (``none``) reports no limit, in state
        ``none``; one declared licensed never reports a minimum above what it sells."""
        h = mailadmin_harness
        model = h.capabilities.licence
        licence = await h.provider.get_licence()
        check_licence(licence)
        if model.kind is LicenceKind.NONE:
            assert licence.seats_licensed is None, "a platform without licences limits seats"
            assert licence.state is LicenceState.NONE, (
                f"a platform without licences reports state {licence.state.value}, not none"
            )
            assert not licence.over_used

    @async_test
    async def test_over_use_is_flagged(self, mailadmin_harness: Harness) -> None:
        """A platform seeded over its licence reports negative free seats, flagged."""
        h = mailadmin_harness
        if h.capabilities.licence.kind is LicenceKind.NONE:
            pytest.skip(f"{h.target.provider.name} declares no licences: nothing can be over-used")
        if h.target.over_licence_seed is None:
            pytest.skip("the target gives no over_licence_seed to put the platform over licence")
        h.mock.seed(h.target.over_licence_seed)
        licence = await h.provider.get_licence()
        check_licence(licence)
        assert licence.seats_licensed is not None, "an over-used licence has a seat limit"
        assert licence.seats_used > licence.seats_licensed
        assert licence.over_used
        assert licence.seats_free is not None and licence.seats_free < 0


def check_licence(licence: Licence) -> None:
    """The consistency rules every licence answer follows."""
    assert isinstance(licence, Licence)
    assert licence.seats_used >= 0
    if licence.seats_licensed is None:
        assert licence.seats_free is None and not licence.over_used
    else:
        assert licence.seats_free == licence.seats_licensed - licence.seats_used
        assert licence.over_used is (licence.seats_used > licence.seats_licensed)
    if licence.valid_from is not None and licence.valid_until is not None:
        assert licence.valid_from <= licence.valid_until, "the licence ends before it starts"
    names = [feature.name for feature in licence.features]
    assert len(names) == len(set(names)), f"licence features listed twice: {names}"
