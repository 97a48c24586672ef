"""The ground every OX mock rule stands on: faults, access combinations, context lookup.

:class:`OXStateBase` keeps the data in one pydantic model (:class:`OXData`) and offers it
under the names the rules, handlers and tests use (``state.contexts``...). The rules are
split by area, each module adding one layer: :mod:`.auth`, :mod:`.restrictions`,
:mod:`.contexts`, :mod:`.users`, :mod:`.directory` (resources, functional accounts,
groups), :mod:`.resellers` and :mod:`.seed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailadmin.mock import ModelState
from mailadmin_ox.combinations import ADMIN_ONLY
from mailadmin_ox.mock.model import AttributeMap, MockContext, MockReseller, MockUser
from mailadmin_ox.mock.state.data import OXData
from mailadmin_ox.namespaces import RS, S

__all__ = [
    "USER_MANDATORY",
    "Actor",
    "OXFault",
    "OXStateBase",
    "Ref",
    "apply_fields",
    "attribute_map",
    "int_or_none",
    "merge_attributes",
]

#: The fields OX requires to create a user (a context admin included).
USER_MANDATORY = (
    "name",
    "display_name",
    "password",
    "given_name",
    "sur_name",
    "primaryEmail",
    "email1",
)


class OXFault(Exception):
    """A refusal, written on the wire as a SOAP fault.

    ``exception``: OX's exception name (the fault detail element); ``message``: the
    ``faultstring``; ``code``: ``"Server"`` or ``"Client"``; ``namespace``: of the detail
    element (``OXResellerException`` lives in the reseller namespace).
    """

    def __init__(
        self, exception: str | None, message: str, *, code: str = "Server", namespace: str = S
    ) -> None:
        super().__init__(message)
        self.exception = exception
        self.message = message
        self.code = code
        self.namespace = namespace


class Actor:
    """Who a call is authenticated as: ``kind`` is ``"master"``, ``"reseller"``,
    ``"admin"`` (context admin) or ``"user"``; ``reseller`` / ``user`` when relevant."""

    def __init__(
        self, kind: str, *, reseller: MockReseller | None = None, user: MockUser | None = None
    ) -> None:
        self.kind = kind
        self.reseller = reseller
        self.user = user


Ref = Mapping[str, Any]


class OXStateBase(ModelState[OXData]):
    """Faults, access combinations and context lookup over :class:`OXData`."""

    model = OXData

    # The data under the names the rules and their callers use.
    @property
    def master(self) -> tuple[str, str]:
        """The master admin's (login, password)."""
        return self.data.master

    @master.setter
    def master(self, value: tuple[str, str]) -> None:
        self.data.master = value

    @property
    def allow_master_override(self) -> bool:
        """Whether master credentials are accepted for context-level calls."""
        return self.data.allow_master_override

    @allow_master_override.setter
    def allow_master_override(self, value: bool) -> None:
        self.data.allow_master_override = value

    @property
    def combinations(self) -> dict[str, frozenset[str]]:
        """Access combination name -> module tokens."""
        return self.data.combinations

    @combinations.setter
    def combinations(self, value: dict[str, frozenset[str]]) -> None:
        self.data.combinations = value

    @property
    def contexts(self) -> dict[int, MockContext]:
        """Every context by id."""
        return self.data.contexts

    @property
    def resellers(self) -> dict[int, MockReseller]:
        """Every reseller (sub-admin) by id."""
        return self.data.resellers

    @property
    def jvm_id(self) -> int:
        """The fixed first half of OX's ``exceptionId``."""
        return self.data.jvm_id

    # -- faults ----------------------------------------------------------------------------

    def fault(self, exception: str, message: str, *, namespace: str = S) -> OXFault:
        """An OX fault with the ``; exceptionId`` suffix."""
        self.data.fault_counter += 1
        return OXFault(
            exception,
            f"{message}; exceptionId {self.jvm_id}-{self.data.fault_counter}",
            namespace=namespace,
        )

    def reseller_fault(self, message: str) -> OXFault:
        """An ``OXResellerException``."""
        return self.fault("OXResellerException", message, namespace=RS)

    @staticmethod
    def auth_fault(message: str = "Authentication failed") -> OXFault:
        """An ``InvalidCredentialsException`` (no exceptionId suffix)."""
        return OXFault("InvalidCredentialsException", message)

    # -- access combinations ---------------------------------------------------------------

    def combination(self, name: str | None) -> frozenset[str]:
        """The tokens of a named combination; the faults OX sends for blank or unknown."""
        if name is None or not name.strip():
            raise self.fault("InvalidDataException", "User or UserModuleAccess is null")
        found = self.combinations.get(name)
        if found is None:
            raise self.fault("InvalidDataException", f'No such access combination name "{name}"')
        return found

    def combination_of(self, access: frozenset[str]) -> str | None:
        """The first combination whose token set is exactly ``access`` (``None``: none)."""
        return self.data.combination_of(access)

    @staticmethod
    def effective(tokens: frozenset[str], *, context_admin: bool) -> frozenset[str]:
        """What a user really gets: only context admins hold ``publicfoldereditable``."""
        return tokens if context_admin else tokens - {ADMIN_ONLY}

    # -- contexts and ownership ------------------------------------------------------------

    def _owns(self, reseller: MockReseller, context: MockContext) -> bool:
        owner = context.owner
        while owner:
            if owner == reseller.id:
                return True
            parent = self.resellers.get(owner)
            owner = parent.parent_id if parent else 0
        return False

    def _find_context(self, ref: Ref | None) -> MockContext | None:
        if not ref:
            return None
        if ref.get("id") is not None:
            return self.contexts.get(int(ref["id"]))
        name = ref.get("name")
        if name:
            return next((c for c in self.contexts.values() if c.name == name), None)
        return None

    def context(self, ref: Ref | None) -> MockContext:
        """The referenced context (by ``id`` or ``name``) or ``NoSuchContextException``."""
        found = self._find_context(ref)
        if found is None:
            what = (ref or {}).get("id") or (ref or {}).get("name") or "null"
            raise self.fault("NoSuchContextException", f"Context {what} does not exist")
        return found

    def contexts_of(self, actor: Actor) -> list[MockContext]:
        """Every context the actor may see (all for the master)."""
        if actor.kind == "master":
            return list(self.contexts.values())
        assert actor.reseller is not None
        return [c for c in self.contexts.values() if self._owns(actor.reseller, c)]


def int_or_none(value: str | None) -> int | None:
    """A restriction value as a number (``None``: unset or not a number)."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        return None


def merge_attributes(target: AttributeMap, changes: Mapping[str, Mapping[str, str | None]]) -> None:
    # OX removes an attribute sent without a value.
    for namespace, values in changes.items():
        bucket = target.setdefault(namespace, {})
        for key, value in values.items():
            if value is None:
                bucket.pop(key, None)
            else:
                bucket[key] = str(value)
        if not bucket:
            del target[namespace]


def attribute_map(raw: Mapping[str, Mapping[str, Any]]) -> AttributeMap:
    return {str(ns): {str(k): str(v) for k, v in values.items()} for ns, values in raw.items()}


def apply_fields(user: MockUser, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if key == "maxQuota":
            user.max_quota = int(value)
        elif key == "userAttributes":
            user.attributes = attribute_map(value)
        elif key == "aliases":
            user.aliases = [str(a) for a in value]
        elif key not in ("contextadmin", "usedQuota", "access", "access_combination"):
            user.fields[key] = value
