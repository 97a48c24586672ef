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

from typing import Literal

from pydantic import Field, field_validator

from mailadmin.sdk import Credentials, PlanMapping, ProviderSettings
from mailadmin_ox.combinations import STOCK

__all__ = ["Mode", "OXPlanMapping", "OXSettings"]

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
    (OX has no call that lists it; defaults to the stock table).
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

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, for redaction."""
        found = super().secrets()
        for creds in self.context_credentials.values():
            value = creds.secret.get_secret_value()
            if value:
                found.append(value)
        return found
