"""Settings of an OX provider instance and of its plans.

Example (TOML)::

    [providers.ox-eu]
    type = "ox"
    endpoint = "https://ox.example.net"
    mode = "reseller"
    credentials = { username = "brand1", secret = "..." }

    [providers.ox-eu.plans.sync]
    access_combination = "pim_mobility"
    quota_mb = 5120
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailadmin.sdk import Credentials, MailboxKind, PlanMapping, ProviderSettings
from mailadmin_ox.combinations import STOCK

__all__ = ["Mode", "OXPlanMapping", "OXResourceKinds", "OXSettings"]

#: Who the provider signs in as.
#: ``context_admin``: the ``oxadmin`` of each context (core user/resource services);
#: ``master_admin``: ``oxadminmaster`` (core services with master override, context service);
#: ``reseller``: a sub-admin (reseller services for users and contexts).
Mode = Literal["context_admin", "master_admin", "reseller"]


class OXPlanMapping(PlanMapping):
    """How one neutral plan maps onto OX.

    ``access_combination``: the combination name set with ``changeByModuleAccessName``
    (``"pim_mobility"``); ``quota_mb``: the user's ``maxQuota`` in MB (``None`` leaves it
    alone); ``class_of_service``: OX Cloud class of service, written as user attribute
    ``cloud/service`` (``"cloud_pim"``); ``user_attributes``: further user attributes,
    namespace -> name -> value (``{"config": {"com.openexchange.unifiedquota.enabled":
    "true"}}``); ``description``: shown by ``list_plans``.
    """

    access_combination: str = Field(min_length=1)
    class_of_service: str | None = None
    user_attributes: dict[str, dict[str, str]] = Field(default_factory=dict)
    description: str = ""

    @field_validator("access_combination")
    @classmethod
    def _no_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name an access combination")
        return value.strip()

    def attributes(self) -> dict[str, dict[str, str]]:
        """Every user attribute the plan sets, the class of service included."""
        merged = {ns: dict(values) for ns, values in self.user_attributes.items()}
        if self.class_of_service:
            merged.setdefault("cloud", {})["service"] = self.class_of_service
        return merged


class OXResourceKinds(BaseModel):
    """How this instance tells a room from equipment among OX resources.

    OX knows resources (OXResourceService: ``available``, ``description``,
    ``displayname``, ``email``, ``id``, ``name``) but not their kind, so the kind is a
    convention of the site: a resource is a room when the ``field`` it names starts with
    one of the ``room`` markers, equipment when it starts with one of the ``equipment``
    markers (case-blind; the longest matching marker wins). A resource matching neither
    is counted as ``unclassified`` (``unmarked = "unclassified"``, the default) or, when a
    site has only one kind, as that kind (``unmarked = "room"``).

    ``create_mailbox`` writes the first marker of the kind: as the ``description``, or in
    front of the ``displayname``; with ``name`` or ``email`` the address itself must carry
    it, and an address that does not is refused before anything is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Literal["description", "displayname", "name", "email"] = "description"
    room: tuple[str, ...] = ("room",)
    equipment: tuple[str, ...] = ("equipment",)
    unmarked: Literal["unclassified", "room", "equipment"] = "unclassified"

    @field_validator("room", "equipment")
    @classmethod
    def _markers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        markers = tuple(m.strip().lower() for m in value)
        if not markers or not all(markers):
            raise ValueError("needs at least one non-blank marker")
        return markers

    def kind_of(self, resource: Mapping[str, str | None]) -> MailboxKind | None:
        """The kind of a resource given its fields; ``None``: it cannot be told."""
        value = (resource.get(self.field) or "").strip().lower()
        matches = [
            (len(marker), kind)
            for kind, markers in (
                (MailboxKind.ROOM, self.room),
                (MailboxKind.EQUIPMENT, self.equipment),
            )
            for marker in markers
            if value.startswith(marker)
        ]
        if matches:
            return max(matches, key=lambda match: match[0])[1]
        return None if self.unmarked == "unclassified" else MailboxKind(self.unmarked)

    def marker(self, kind: MailboxKind) -> str:
        """The marker written for a new resource of ``kind``."""
        return (self.room if kind is MailboxKind.ROOM else self.equipment)[0]


class OXSettings(ProviderSettings):
    """Settings of one OX instance.

    ``endpoint``: base URL; the services are under ``/webservices/``.
    ``mode``: see :data:`Mode`. ``credentials``: the login of that mode.
    ``context_id``: the context used when a tenant carries no ``native_id`` (and the one
    ``test_connection`` and ``get_licence`` look at in ``context_admin`` mode, with every
    context of ``context_credentials``).
    ``context_credentials``: per context (id or name), the context admin's login, used instead of
    ``credentials`` for that context's users, resources and functional accounts.
    ``login``: how a mailbox address becomes an OX user name: its ``local_part``
    (``anna``) or the whole ``address`` (``anna@example.com``).
    ``count_context_admin``: whether the context admin counts as a user mailbox.
    ``storage_base_mb``: context ``maxQuota`` without any storage add-on; the
    ``storage_gb`` add-on sets ``maxQuota = storage_base_mb + 1024 * quantity``.
    ``shared_mailbox_groups``: the group ids given access to a new functional account
    (``0``: all users of the context). ``concurrency``: parallel per-user calls when
    counting. ``access_combinations``: the server's combination table, for ``list_plans``
    (OX has no call that lists it; defaults to the stock table). ``resource_kinds``: how
    rooms are told from equipment (:class:`OXResourceKinds`).
    """

    mode: Mode = "context_admin"
    plans: dict[str, OXPlanMapping] = Field(default_factory=dict)  # type: ignore[assignment]
    context_id: int | None = Field(default=None, ge=1)
    context_credentials: dict[str, Credentials] = Field(default_factory=dict)
    login: Literal["local_part", "address"] = "local_part"
    count_context_admin: bool = True
    storage_base_mb: int = Field(default=0, ge=0)
    shared_mailbox_groups: tuple[int, ...] = (0,)
    concurrency: int = Field(default=8, ge=1, le=64)
    access_combinations: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {name: tuple(sorted(tokens)) for name, tokens in STOCK.items()}
    )
    resource_kinds: OXResourceKinds = Field(default_factory=OXResourceKinds)

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, for redaction."""
        found = super().secrets()
        for creds in self.context_credentials.values():
            value = creds.secret.get_secret_value()
            if value:
                found.append(value)
        return found
