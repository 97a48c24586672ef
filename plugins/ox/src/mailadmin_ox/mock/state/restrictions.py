"""Reseller restrictions: their names and the user limits checked before a user is created
or moves to another access combination (reference section 3.4)."""

from __future__ import annotations

from collections.abc import Iterable

from mailadmin_ox.mock.model import MockContext, MockUser
from mailadmin_ox.mock.state.auth import AuthRules
from mailadmin_ox.mock.state.base import Actor, int_or_none

__all__ = [
    "CONTEXT_LIMIT",
    "OVERALL_LIMIT",
    "OVERALL_LIMIT_BY",
    "USER_LIMIT",
    "USER_LIMIT_BY",
    "RestrictionRules",
]

USER_LIMIT = "Context.MaxUser"
USER_LIMIT_BY = "Context.MaxUserByModuleaccess_"
OVERALL_LIMIT = "Subadmin.MaxOverallUser"
OVERALL_LIMIT_BY = "Subadmin.MaxOverallUserByModuleaccess_"
CONTEXT_LIMIT = "Subadmin.MaxContext"
_FIXED_RESTRICTIONS = (
    "Subadmin.MaxContext",
    "Subadmin.MaxOverallContextQuota",
    "Subadmin.MaxOverallUser",
    "Context.MaxUser",
    "Subadmin.CanCreateSubadmin",
    "Subadmin.MaxSubadmin",
)


class RestrictionRules(AuthRules):
    """Restriction names and the limits they set."""

    # -- restrictions -------------------------------------------------------------------------

    def available_restrictions(self) -> list[str]:
        """Every restriction name OX knows, per-combination ones included."""
        names = list(_FIXED_RESTRICTIONS)
        for combination in self.combinations:
            names.append(OVERALL_LIMIT_BY + combination)
            names.append(USER_LIMIT_BY + combination)
        return names

    def _check_restriction_name(self, name: str, *, context_level: bool) -> None:
        known = self.available_restrictions()
        if name not in known or (context_level and not name.startswith("Context.")):
            raise self.fault("InvalidDataException", f"No restriction named {name} available")

    def _check_user_limits(
        self, context: MockContext, access: frozenset[str], *, user: MockUser | None
    ) -> None:
        """Reseller restrictions, checked before a user is created (``user`` None) or moved
        to another combination. The context admin counts as a user."""
        combination = self.combination_of(access)
        moving = user is None or self.combination_of(user.access) != combination
        if user is None:
            limit = int_or_none(context.restrictions.get(USER_LIMIT))
            if limit is not None and len(context.users) >= limit:
                raise self.reseller_fault(f"Maximum number of users per context reached: {limit}")
        if moving and combination is not None:
            limit = int_or_none(context.restrictions.get(USER_LIMIT_BY + combination))
            # Counted only under a limit: a scan of every user costs ms at 10k users.
            if limit is not None and self._holding(context.users.values(), combination) >= limit:
                raise self.reseller_fault(
                    f"Maximum number of users by moduleaccess per context reached: {limit}"
                )
        owner = self.resellers.get(context.owner or 0)
        if owner is None:
            return
        owned = self.contexts_of(Actor("reseller", reseller=owner))
        if user is None:
            limit = int_or_none(owner.restrictions.get(OVERALL_LIMIT))
            if limit is not None and sum(len(c.users) for c in owned) >= limit:
                raise self.reseller_fault(f"Maximum overall number of users reached: {limit}")
        if moving and combination is not None:
            limit = int_or_none(owner.restrictions.get(OVERALL_LIMIT_BY + combination))
            users = (u for c in owned for u in c.users.values())
            if limit is not None and self._holding(users, combination) >= limit:
                raise self.reseller_fault(
                    f"Maximum overall number of users by moduleaccess reached: {limit}"
                )

    def _holding(self, users: Iterable[MockUser], combination: str) -> int:
        """How many of ``users`` hold exactly ``combination``."""
        tokens = self.combinations.get(combination)
        # The first combination with a token set names it, so compare sets, not names.
        if tokens is None or self.combination_of(tokens) != combination:
            return sum(1 for u in users if self.combination_of(u.access) == combination)
        return sum(1 for u in users if u.access == tokens)
