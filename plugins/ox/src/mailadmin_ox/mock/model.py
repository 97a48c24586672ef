"""The objects an OX mock holds: contexts, users, resources, functional accounts, resellers.

Plain data; the rules that change them live in :mod:`mailadmin_ox.mock.state`.
Quotas are in MB and ``-1`` means unlimited, as in OX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AttributeMap",
    "MockAccount",
    "MockContext",
    "MockGroup",
    "MockReseller",
    "MockResource",
    "MockUser",
]

#: OX user attributes: namespace -> name -> value.
AttributeMap = dict[str, dict[str, str]]


@dataclass
class MockUser:
    """One OX user. ``access`` holds module tokens (``"webmail"``, ``"usm"``); ``fields``
    every other simple field by its WSDL name (``display_name``, ``primaryEmail``...)."""

    id: int
    name: str
    password: str
    access: frozenset[str]
    max_quota: int = -1
    used_quota: int = 0
    context_admin: bool = False
    attributes: AttributeMap = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class MockResource:
    """A bookable room or piece of equipment with an address."""

    id: int
    name: str
    display_name: str
    email: str
    description: str = ""
    available: bool = True


@dataclass
class MockAccount:
    """A functional (secondary) account: a shared mailbox used by users and groups."""

    primary_address: str
    name: str
    login: str
    personal: str = ""
    mail_endpoint_source: str = "primary"
    users: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)


@dataclass
class MockGroup:
    """A group of users."""

    id: int
    name: str
    display_name: str
    members: list[int] = field(default_factory=list)


@dataclass
class MockContext:
    """One context (a customer) with everything in it. The context admin is user
    ``admin_id`` (2); ``owner`` is the reseller admin id (``None``: the master admin)."""

    id: int
    name: str
    max_quota: int = -1
    used_quota: int = 0
    enabled: bool = True
    login_mappings: list[str] = field(default_factory=list)
    attributes: AttributeMap = field(default_factory=dict)
    restrictions: dict[str, str] = field(default_factory=dict)
    owner: int | None = None
    customid: str = ""
    admin_id: int = 2
    users: dict[int, MockUser] = field(default_factory=dict)
    groups: dict[int, MockGroup] = field(default_factory=dict)
    resources: dict[int, MockResource] = field(default_factory=dict)
    accounts: dict[str, MockAccount] = field(default_factory=dict)
    next_id: int = 3
    next_resource_id: int = 1
    # Login -> user id. ``users`` is changed in place all over the state, so the index is
    # checked on every use and rebuilt when it is stale, instead of kept in step.
    _by_name: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def user_named(self, name: str) -> MockUser | None:
        """The user with this login (OX logins compare case-insensitively)."""
        wanted = name.lower()
        found = self._indexed(wanted)
        if found is None:
            self._by_name = {u.name.lower(): i for i, u in self.users.items()}
            found = self._indexed(wanted)
        return found

    def _indexed(self, wanted: str) -> MockUser | None:
        user = self.users.get(self._by_name.get(wanted, -1))
        return user if user is not None and user.name.lower() == wanted else None


@dataclass
class MockReseller:
    """A reseller (sub-admin). ``parent_id`` 0 means created by the master admin."""

    id: int
    name: str
    password: str
    display_name: str = ""
    parent_id: int = 0
    restrictions: dict[str, str] = field(default_factory=dict)
