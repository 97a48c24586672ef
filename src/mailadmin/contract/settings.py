"""Settings of one provider instance, as read from the configuration file.

A plugin narrows these by subclassing: it types ``plans`` with its own native plan model
and adds the fields its platform needs (an OX context id, an Exchange tenant GUID).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mailadmin.wire.endpoints import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    endpoint_url_problem,
)

__all__ = ["Credentials", "PlanMapping", "ProviderSettings"]


class Credentials(BaseModel):
    """Who the provider signs in as. ``secret`` never appears in repr, logs or errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = ""
    secret: SecretStr = SecretStr("")


class PlanMapping(BaseModel):
    """How one neutral plan ("sync") maps onto a platform. Plugins subclass this.

    ``quota_mb`` is the mailbox storage the plan grants, where the platform sets one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    quota_mb: int | None = Field(default=None, ge=0)


class ProviderSettings(BaseModel):
    """Connection and catalogue settings common to every provider instance.

    ``endpoint``: the base URL of the platform's main API (relative URLs join it).
    ``endpoints``: further named base URLs of the same instance (``{"graph":
    "https://graph.microsoft.com/v1.0/"}``), reached with ``Transport.request(...,
    endpoint="graph")``; a plugin sets defaults for its names in ``default_endpoints`` and
    the configuration overrides them one by one.
    ``transport`` picks the HTTP transport under the shared client: ``"aiohttp"`` (the
    default, fast under concurrency) or ``"httpx"`` (httpx's own pool).

    Limits, with defaults meant for an interactive command: ``timeout`` (seconds for each
    connect, read, write or pool wait), ``retries`` (extra attempts of reads and idempotent
    writes), ``deadline`` (seconds one call may take in all, retries and waits included),
    ``max_response_bytes`` (the largest decoded answer read; a larger one is refused while
    it streams in). ``verify_tls = false`` turns certificate checks off for this instance
    only, with a warning.

    The write fence (docs/journal.md): ``landing_horizon`` (seconds after a write was
    sent past which a write whose outcome is unknown can no longer land; default four
    times the larger of ``deadline`` and ``timeout``) and ``fence_wait`` (seconds a newer
    write to the same subject waits for an older unsettled one before it is refused;
    default twice ``timeout``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Base URLs a plugin's endpoint names have unless the configuration says otherwise.
    default_endpoints: ClassVar[Mapping[str, str]] = {}

    endpoint: str | None = None
    endpoints: dict[str, str] = Field(default_factory=dict, validate_default=True)
    credentials: Credentials = Credentials()
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    max_connections: int = Field(default=32, ge=1)
    retries: int = Field(default=DEFAULT_RETRIES, ge=0, le=10)
    deadline: float = Field(default=DEFAULT_DEADLINE, gt=0)
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    verify_tls: bool = True
    landing_horizon: float | None = Field(default=None, gt=0)
    fence_wait: float | None = Field(default=None, ge=0)
    plans: dict[str, PlanMapping] = Field(default_factory=dict)
    addons: dict[str, Any] = Field(default_factory=dict)

    @field_validator("endpoints")
    @classmethod
    def _merge_endpoint_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        merged = {**cls.default_endpoints, **value}
        for name, url in merged.items():
            problem = endpoint_url_problem(url)
            if problem:
                raise ValueError(f"endpoint '{name}': {problem}")
        return merged

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, for redaction."""
        value = self.credentials.secret.get_secret_value()
        return [value] if value else []
