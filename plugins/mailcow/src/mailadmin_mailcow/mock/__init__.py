"""The Mailcow mock: state (rules), handlers (wire format) and routes (addresses)."""

from __future__ import annotations

from mailadmin_mailcow.mock.platform import MailcowMock
from mailadmin_mailcow.mock.state import MailcowState

__all__ = ["MailcowMock", "MailcowState"]
