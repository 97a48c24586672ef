"""Settings of one provider instance, as read from the configuration file.

A plugin narrows these by subclassing: it types ``plans`` with its own native plan model
and adds the fields its platform needs (an OX context id, an Exchange tenant GUID).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

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

    ``transport`` picks the HTTP transport under the shared client: ``"aiohttp"`` (the
    default, fast under concurrency) or ``"httpx"`` (httpx's own pool).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str | None = None
    credentials: Credentials = Credentials()
    timeout: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=32, ge=1)
    retries: int = Field(default=3, ge=0, le=10)
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    verify_tls: bool = True
    plans: dict[str, PlanMapping] = Field(default_factory=dict)
    addons: dict[str, Any] = Field(default_factory=dict)

    def secrets(self) -> list[str]:
        """Every secret value these settings hold, for redaction."""
        value = self.credentials.secret.get_secret_value()
        return [value] if value else []
