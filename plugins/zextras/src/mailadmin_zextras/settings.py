"""Settings of a Zextras / Carbonio provider instance and of its plans.

Example (TOML)::

    [providers.carbonio]
    type = "zextras"
    endpoint = "https://mail.example.net:7071"
    credentials = { username = "admin@example.net", secret = "..." }

    [providers.carbonio.plans.sync]
    cos = "sync"
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from mailadmin.sdk import PlanMapping, ProviderSettings

__all__ = ["ZextrasPlanMapping", "ZextrasSettings"]

_ATTR = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


class ZextrasPlanMapping(PlanMapping):
    """How one neutral plan maps onto Zimbra: the class of service (COS) ``cos`` by name
    (``"sync"``); ``description``: shown by ``list_plans`` when the COS has none.
    ``quota_mb`` is informational: the quota lives on the COS (``zimbraMailQuota``)."""

    cos: str = Field(min_length=1)
    description: str = ""

    @field_validator("cos")
    @classmethod
    def _no_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a COS")
        return value.strip()


class ZextrasSettings(ProviderSettings):
    """Settings of one Carbonio / Zextras instance.

    ``endpoint``: the admin base URL (``https://host:7071``); ``admin_path``: where the admin
    SOAP service is (``/service/admin/soap``); each request is posted to
    ``{admin_path}/{RequestName}`` (the trailing segment only labels the server's logs).
    ``credentials``: an admin account (``admin@example.com``) and its password.
    ``shared_mailbox_attribute`` / ``shared_mailbox_value``: the rule that tells a shared
    mailbox from a user one (Zimbra has no such type): an account whose attribute holds that
    value is shared; ``create_mailbox`` of kind shared sets it. ``licence_server``: the
    mailbox server asked for the licence (``targetServers``); ``None`` asks the server the
    endpoint reaches. ``page_size``: entries per ``SearchDirectoryRequest`` page.
    ``delegated_accounts``: what ``count_mailboxes`` makes of an account without the shared
    marker whose ``zimbraACE`` grants ``sendAs`` or ``sendOnBehalfOf`` to someone (the trace
    a shared account made in the admin console's Delegates tab leaves, and also what a user
    who delegated leaves): ``"unclassified"`` (default: reported, not guessed), ``"shared"``
    or ``"user"``. ``web_url``: the webmail's base URL that ``single_sign_on`` links to
    (its domain's preauth key signs them).
    """

    plans: dict[str, ZextrasPlanMapping] = Field(default_factory=dict)  # type: ignore[assignment]
    admin_path: str = "/service/admin/soap"
    shared_mailbox_attribute: str = "zimbraNotes"
    shared_mailbox_value: str = Field(default="mailadmin-shared", min_length=1)
    licence_server: str | None = None
    page_size: int = Field(default=500, ge=1, le=5000)
    delegated_accounts: Literal["unclassified", "shared", "user"] = "unclassified"
    #: Where users sign in to webmail (``https://mail.example.com``); ``single_sign_on``
    #: links point there (default: the endpoint's host on the web port).
    web_url: str | None = None

    @field_validator("admin_path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = "/" + value.strip().strip("/")
        return value

    @field_validator("shared_mailbox_attribute")
    @classmethod
    def _attribute(cls, value: str) -> str:
        if not _ATTR.match(value):
            raise ValueError("must be an LDAP attribute name")
        return value
