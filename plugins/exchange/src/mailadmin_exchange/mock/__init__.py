"""The Exchange mock: token endpoint, admin API ``InvokeCommand`` and Graph, one server."""

from __future__ import annotations

from mailadmin_exchange.mock.platform import ExchangeMock
from mailadmin_exchange.mock.state import ExchangeState

__all__ = ["ExchangeMock", "ExchangeState"]
