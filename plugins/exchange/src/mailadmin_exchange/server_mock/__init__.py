"""The Exchange Server mock: remote PowerShell (WS-Management + PSRP) that pypsrp drives."""

from __future__ import annotations

from mailadmin_exchange.server_mock.platform import ExchangeServerMock
from mailadmin_exchange.server_mock.state import ServerState

__all__ = ["ExchangeServerMock", "ServerState"]
