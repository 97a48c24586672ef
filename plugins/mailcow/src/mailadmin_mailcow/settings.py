"""Settings of a Mailcow provider instance, and how neutral plans map onto it."""

from __future__ import annotations

from mailadmin.sdk import Credentials, PlanMapping, ProviderSettings
from pydantic import Field, SecretStr

__all__ = ["DEFAULT_PLANS", "MailcowPlan", "MailcowSettings"]


class MailcowPlan(PlanMapping):
    """A neutral plan on Mailcow: its ``native`` plan name (and ``quota_mb``)."""

    native: str


#: The neutral catalogue on the mock's default plans.
DEFAULT_PLANS: dict[str, MailcowPlan] = {
    "mail": MailcowPlan(native="basic", quota_mb=2048),
    "sync": MailcowPlan(native="standard", quota_mb=5120),
    "collaborate": MailcowPlan(native="premium", quota_mb=10240),
}


class MailcowSettings(ProviderSettings):
    """Settings of one instance; the defaults match the mock's."""

    credentials: Credentials = Credentials(username="admin", secret=SecretStr("secret"))
    plans: dict[str, MailcowPlan] = Field(default_factory=lambda: dict(DEFAULT_PLANS))  # type: ignore[assignment]
