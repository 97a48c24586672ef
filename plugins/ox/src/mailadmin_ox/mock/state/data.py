"""The OX mock's data: one pydantic model holding every context, user and reseller.

:class:`OXData` is what :class:`~mailadmin_ox.mock.state.OXState` keeps in ``self.data``.
Its JSON form (``model_dump(mode="json")``, the mock's ``GET /_mock/state``) is the seed
document :mod:`mailadmin_ox.mock.state.seed` reads back: contexts and resellers as lists,
users with their WSDL field names and the name of their access combination.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_serializer

from mailadmin_ox.combinations import STOCK
from mailadmin_ox.mock.model import MockContext, MockReseller, MockUser

__all__ = ["MASTER", "OXData"]

#: The master admin's default login and password.
MASTER = ("oxadminmaster", "secret")


class OXData(BaseModel):
    """Everything one OX mock server holds.

    ``master``: the master admin's (login, password); ``allow_master_override``: OX's
    ``ALLOW_MASTER_OVERRIDE``; ``combinations``: access combination name -> module tokens;
    ``contexts`` and ``resellers`` by id; ``jvm_id`` and ``fault_counter`` make OX's
    ``; exceptionId <jvm>-<n>`` suffix (fixed, so answers are reproducible).
    """

    master: tuple[str, str] = MASTER
    allow_master_override: bool = True
    combinations: dict[str, frozenset[str]] = Field(default_factory=lambda: dict(STOCK))
    contexts: dict[int, MockContext] = Field(default_factory=dict)
    resellers: dict[int, MockReseller] = Field(default_factory=dict)
    next_context_id: int = 1
    next_reseller_id: int = 1
    jvm_id: int = 1364817042
    fault_counter: int = 0

    def combination_of(self, access: frozenset[str]) -> str | None:
        """The first combination whose token set is exactly ``access`` (``None``: none)."""
        return next((name for name, tokens in self.combinations.items() if tokens == access), None)

    @model_serializer(mode="plain")
    def _document(self) -> dict[str, Any]:
        # The seed document's shape, so a snapshot loads back as a seed.
        return {
            "master": {
                "login": self.master[0],
                "password": self.master[1],
                "allow_master_override": self.allow_master_override,
            },
            "access_combinations": {n: sorted(t) for n, t in self.combinations.items()},
            "resellers": [_reseller_data(r) for r in self.resellers.values()],
            "contexts": [self._context_data(c) for c in self.contexts.values()],
        }

    def _context_data(self, context: MockContext) -> dict[str, Any]:
        owner = self.resellers.get(context.owner or 0)
        return {
            "id": context.id,
            "name": context.name,
            "maxQuota": context.max_quota,
            "usedQuota": context.used_quota,
            "enabled": context.enabled,
            "loginMappings": list(context.login_mappings),
            "userAttributes": context.attributes,
            "restrictions": dict(context.restrictions),
            "owner": owner.name if owner else None,
            "users": [self._user_data(u) for u in context.users.values()],
            "resources": [
                {
                    "id": r.id,
                    "name": r.name,
                    "displayname": r.display_name,
                    "email": r.email,
                    "description": r.description,
                    "available": r.available,
                }
                for r in context.resources.values()
            ],
            "accounts": [
                {
                    "primaryAddress": a.primary_address,
                    "name": a.name,
                    "login": a.login,
                    "personal": a.personal,
                    "users": a.users,
                    "groups": a.groups,
                }
                for a in context.accounts.values()
            ],
            "groups": [
                {"id": g.id, "name": g.name, "displayname": g.display_name, "members": g.members}
                for g in context.groups.values()
            ],
        }

    def _user_data(self, user: MockUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "password": user.password,
            "contextadmin": user.context_admin,
            "access_combination": self.combination_of(user.access),
            "access": sorted(user.access),
            "maxQuota": user.max_quota,
            "usedQuota": user.used_quota,
            "aliases": list(user.aliases),
            "userAttributes": user.attributes,
            **user.fields,
        }


def _reseller_data(reseller: MockReseller) -> dict[str, Any]:
    return {
        "id": reseller.id,
        "name": reseller.name,
        "password": reseller.password,
        "displayname": reseller.display_name,
        "parentId": reseller.parent_id,
        "restrictions": dict(reseller.restrictions),
    }
