"""Settings of a mailcow provider instance, and how neutral plans map onto it.

mailcow has no plan catalogue: a plan is what a mailbox is given, its quota and its
access flags (``imap_access``, ``pop3_access``, ``eas_access`` for ActiveSync,
``dav_access``).
"""

from __future__ import annotations

from mailadmin.sdk import Credentials, PlanMapping, ProviderSettings
from pydantic import Field, SecretStr

__all__ = ["DEFAULT_PLANS", "MailcowPlan", "MailcowSettings"]


class MailcowPlan(PlanMapping):
    """A neutral plan on mailcow: the mailbox quota (MiB, required) and access flags."""

    quota_mb: int = Field(ge=0)
    imap: bool = True
    pop3: bool = True
    activesync: bool = False
    dav: bool = False

    def attributes(self) -> dict[str, str]:
        """The plan as ``edit/mailbox`` attributes."""
        flags = {
            "imap_access": self.imap,
            "pop3_access": self.pop3,
            "eas_access": self.activesync,
            "dav_access": self.dav,
        }
        return {"quota": str(self.quota_mb), **{k: "1" if v else "0" for k, v in flags.items()}}


#: The neutral catalogue on the mock's default mailboxes.
DEFAULT_PLANS: dict[str, MailcowPlan] = {
    "mail": MailcowPlan(quota_mb=2048),
    "sync": MailcowPlan(quota_mb=5120, activesync=True, dav=True),
    "collaborate": MailcowPlan(quota_mb=10240, activesync=True, dav=True),
}


class MailcowSettings(ProviderSettings):
    """Settings of one instance: ``credentials.secret`` is a read-write API key (the
    user name is not used); the defaults match the mock's."""

    credentials: Credentials = Credentials(
        username="api", secret=SecretStr("0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C")
    )
    plans: dict[str, MailcowPlan] = Field(default_factory=lambda: dict(DEFAULT_PLANS))  # type: ignore[assignment]
    #: The password a created mailbox gets when none is given (mailcow requires one).
    initial_password_length: int = Field(default=20, ge=8, le=128)
