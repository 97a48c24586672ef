"""Seeds of the OX mock: the sample data, the seed document and how a seed merges in.

A seed document has the shape of a snapshot (``GET /_mock/state``); every key is optional:
``master`` (``login``, ``password``, ``allow_master_override``), ``access_combinations``
(name -> tokens; replaces the table), ``resellers`` (upserted by name) and ``contexts``
(each replaces the context of its id; one without a context admin gets
``oxadmin``/``secret``). Users take their WSDL field names (``display_name``,
``primaryEmail``...) plus ``access_combination`` or ``access`` (module tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mailadmin.mock import SeedError
from mailadmin_ox.mock.model import (
    MockAccount,
    MockContext,
    MockGroup,
    MockReseller,
    MockResource,
    MockUser,
)
from mailadmin_ox.mock.state.base import OXFault, attribute_map
from mailadmin_ox.mock.state.resellers import ResellerRules

__all__ = ["SAMPLE", "OXSeed", "SeedRules"]

#: The sample data loaded over the bare defaults (the shape :meth:`OXState.load_seed` takes).
SAMPLE: dict[str, Any] = {
    "resellers": [
        {
            "id": 1,
            "name": "reseller",
            "password": "secret",
            "displayname": "Sample reseller",
            "restrictions": {"Subadmin.MaxOverallUser": "50", "Subadmin.MaxContext": "10"},
        }
    ],
    "contexts": [
        {
            "id": 1,
            "name": "example.com",
            "maxQuota": 1024,
            "owner": "reseller",
            "users": [
                {
                    "id": 3,
                    "name": "anna",
                    "display_name": "Anna Example",
                    "given_name": "Anna",
                    "sur_name": "Example",
                    "access_combination": "pim",
                    "maxQuota": 2048,
                },
                {
                    "id": 4,
                    "name": "ben",
                    "display_name": "Ben Example",
                    "given_name": "Ben",
                    "sur_name": "Example",
                    "access_combination": "pim_mobility",
                    "maxQuota": 5120,
                },
                {
                    "id": 5,
                    "name": "carla",
                    "display_name": "Carla Example",
                    "given_name": "Carla",
                    "sur_name": "Example",
                    "access_combination": "groupware_premium",
                    "maxQuota": 10240,
                },
            ],
            "accounts": [
                {
                    "primaryAddress": "info@example.com",
                    "name": "Info",
                    "login": "info@example.com",
                    "personal": "Example Info",
                    "groups": [0],
                }
            ],
            "resources": [
                {
                    "id": 1,
                    "name": "room-1@example.com",
                    "displayname": "Room 1",
                    "email": "room-1@example.com",
                    "description": "room",
                }
            ],
        }
    ],
}


# -- the seed document -------------------------------------------------------------------------

# Restriction values and similar strings: numbers are accepted and kept as text, as OX does.
_Text = str | int


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MasterSeed(_Part):
    """The master admin."""

    login: str | None = None
    password: str | None = None
    allow_master_override: bool = True


class ResellerSeed(_Part):
    """A reseller (sub-admin); ``parent`` / ``parentId`` name or number its creator."""

    id: int | None = None
    name: str
    password: str = "secret"
    displayname: str | None = None
    parent: str | int | None = None
    parentId: int | None = None
    restrictions: dict[str, _Text] = Field(default_factory=dict)


class UserSeed(BaseModel):
    """A user; any other key is a user field by its WSDL name (``display_name``...)."""

    model_config = ConfigDict(extra="allow")

    id: int | None = None
    name: str
    password: str | None = None
    contextadmin: bool = False
    access_combination: str | None = None
    access: list[str] | None = None
    maxQuota: int | None = None
    usedQuota: int | None = None
    aliases: list[str] = Field(default_factory=list)
    userAttributes: dict[str, dict[str, _Text]] = Field(default_factory=dict)


class ResourceSeed(_Part):
    """A resource (room or equipment)."""

    id: int | None = None
    name: str
    displayname: str | None = None
    email: str
    description: str = ""
    available: bool = True


class AccountSeed(_Part):
    """A functional account; ``groups`` ``[0]`` means every user of the context."""

    primaryAddress: str
    name: str | None = None
    login: str | None = None
    personal: str = ""
    users: list[int] = Field(default_factory=list)
    groups: list[int] = Field(default_factory=list)


class GroupSeed(_Part):
    """A group (id 1 is the context's default group and is kept)."""

    id: int
    name: str
    displayname: str | None = None
    members: list[int] = Field(default_factory=list)


class ContextSeed(_Part):
    """A context; ``owner`` is the name of the reseller owning it."""

    id: int
    name: str | None = None
    maxQuota: int = -1
    usedQuota: int = 0
    enabled: bool = True
    loginMappings: list[str] = Field(default_factory=list)
    userAttributes: dict[str, dict[str, _Text]] = Field(default_factory=dict)
    restrictions: dict[str, _Text] = Field(default_factory=dict)
    owner: str | None = None
    users: list[UserSeed] = Field(default_factory=list)
    resources: list[ResourceSeed] = Field(default_factory=list)
    accounts: list[AccountSeed] = Field(default_factory=list)
    groups: list[GroupSeed] = Field(default_factory=list)


class OXSeed(_Part):
    """A whole seed document (every key optional)."""

    master: MasterSeed | None = None
    access_combinations: dict[str, list[str]] | None = None
    resellers: list[ResellerSeed] = Field(default_factory=list)
    contexts: list[ContextSeed] = Field(default_factory=list)


# -- merging a seed in -------------------------------------------------------------------------


class SeedRules(ResellerRules):
    """Defaults (the bare data plus :data:`SAMPLE`) and seeds."""

    seed_model = OXSeed

    def reset(self) -> None:
        """Back to the documented defaults: the bare data, then :data:`SAMPLE`."""
        super().reset()
        self._load(SAMPLE)

    def apply_seed(self, seed: BaseModel) -> None:
        """Merge a validated :class:`OXSeed` (see the module docs)."""
        # Only what the seed says: defaults of absent keys must not overwrite the state.
        document = seed.model_dump(exclude_unset=True)
        try:
            self._load(document)
        except SeedError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration) as exc:
            raise SeedError(f"the OX seed is malformed: {exc!r}") from None
        except OXFault as fault:
            raise SeedError(f"the OX seed is inconsistent: {fault.message}") from None

    def _load(self, data: Mapping[str, Any]) -> None:
        master = data.get("master")
        if master:
            self.master = (
                str(master.get("login", self.master[0])),
                str(master.get("password", self.master[1])),
            )
            self.allow_master_override = bool(master.get("allow_master_override", True))
        if "access_combinations" in data:
            self.combinations = {
                str(n): frozenset(str(t) for t in tokens)
                for n, tokens in data["access_combinations"].items()
            }
        for item in data.get("resellers") or []:
            self._load_reseller(item)
        for item in data.get("contexts") or []:
            self._load_context(item)

    def _load_reseller(self, item: Mapping[str, Any]) -> None:
        name = str(item["name"])
        existing = next((r for r in self.resellers.values() if r.name == name), None)
        reseller_id = existing.id if existing else int(item.get("id") or self.data.next_reseller_id)
        parent = item.get("parent") or item.get("parentId") or 0
        if isinstance(parent, str):
            parent = next(r.id for r in self.resellers.values() if r.name == parent)
        self.resellers[reseller_id] = MockReseller(
            id=reseller_id,
            name=name,
            password=str(item.get("password", "secret")),
            display_name=str(item.get("displayname", name)),
            parent_id=int(parent),
            restrictions={str(k): str(v) for k, v in (item.get("restrictions") or {}).items()},
        )
        self.data.next_reseller_id = max(self.data.next_reseller_id, reseller_id + 1)

    def _load_context(self, item: Mapping[str, Any]) -> None:
        context_id = int(item["id"])
        owner_name = item.get("owner")
        owner = None
        if owner_name:
            owner = next((r.id for r in self.resellers.values() if r.name == owner_name), None)
            if owner is None:
                raise SeedError(f"context {context_id}: unknown owner {owner_name!r}")
        users = list(item.get("users") or [])
        admin = next((u for u in users if u.get("contextadmin")), None)
        context = self._add_context(
            context_id,
            str(item.get("name") or context_id),
            max_quota=int(item.get("maxQuota", -1)),
            owner=owner,
            admin=_plain_fields(admin) if admin else None,
        )
        context.used_quota = int(item.get("usedQuota", 0))
        context.enabled = bool(item.get("enabled", True))
        context.login_mappings = list(item.get("loginMappings") or [])
        context.attributes = attribute_map(item.get("userAttributes") or {})
        context.restrictions = {str(k): str(v) for k, v in (item.get("restrictions") or {}).items()}
        if admin is not None:
            self._load_access(context.users[2], admin, context_admin=True)
        for entry in users:
            if entry is admin:
                continue
            self._load_user(context, entry)
        for entry in item.get("groups") or []:
            if int(entry["id"]) == 1:
                continue
            group = MockGroup(
                int(entry["id"]),
                str(entry["name"]),
                str(entry.get("displayname", entry["name"])),
                [int(m) for m in entry.get("members") or []],
            )
            context.groups[group.id] = group
            context.next_id = max(context.next_id, group.id + 1)
        for entry in item.get("resources") or []:
            resource = MockResource(
                id=int(entry.get("id") or context.next_resource_id),
                name=str(entry["name"]),
                display_name=str(entry.get("displayname", entry["name"])),
                email=str(entry["email"]),
                description=str(entry.get("description", "")),
                available=bool(entry.get("available", True)),
            )
            context.resources[resource.id] = resource
            context.next_resource_id = max(context.next_resource_id, resource.id + 1)
        for entry in item.get("accounts") or []:
            account = MockAccount(
                primary_address=str(entry["primaryAddress"]),
                name=str(entry.get("name", entry["primaryAddress"])),
                login=str(entry.get("login", entry["primaryAddress"])),
                personal=str(entry.get("personal", "")),
                users=[int(u) for u in entry.get("users") or []],
                groups=[int(g) for g in entry.get("groups") or [0]],
            )
            context.accounts[account.primary_address.lower()] = account

    def _load_user(self, context: MockContext, entry: Mapping[str, Any]) -> None:
        user_id = int(entry.get("id") or context.next_id)
        name = str(entry["name"])
        domain = context.name if "." in context.name else "example.com"
        user = MockUser(
            id=user_id, name=name, password=str(entry.get("password", "secret")), access=frozenset()
        )
        self._load_access(user, entry, context_admin=False)
        defaults = {
            "display_name": name,
            "given_name": name,
            "sur_name": name,
            "primaryEmail": f"{name}@{domain}" if "@" not in name else name,
        }
        defaults["email1"] = defaults["primaryEmail"]
        self._apply_user_data(context, user, {**defaults, **_plain_fields(entry)})
        context.users[user_id] = user
        context.groups[1].members.append(user_id)
        context.next_id = max(context.next_id, user_id + 1)

    def _load_access(
        self, user: MockUser, entry: Mapping[str, Any], *, context_admin: bool
    ) -> None:
        if entry.get("access") is not None:
            tokens = frozenset(str(t) for t in entry["access"])
        else:
            tokens = self.combination(str(entry.get("access_combination") or "all"))
        user.access = self.effective(tokens, context_admin=context_admin)
        if entry.get("usedQuota") is not None:
            user.used_quota = int(entry["usedQuota"])
        if entry.get("maxQuota") is not None:
            user.max_quota = int(entry["maxQuota"])


# Seed keys that are not User fields.
_NOT_FIELDS = ("contextadmin", "access", "access_combination", "usedQuota")


def _plain_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    plain = {k: v for k, v in entry.items() if k not in _NOT_FIELDS}
    if "userAttributes" in plain:
        plain["userAttributes"] = attribute_map(plain["userAttributes"])
    return plain
