"""Registers the Exchange providers (Online and on-premises), their mocks and the demo
scenario with mailadmin."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl

__all__ = ["mailadmin_register_providers"]


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register ``exchange`` (Online) and ``exchserver`` (2016/2019 on-premises)."""
    register(
        "exchange",
        provider="mailadmin_exchange.provider:ExchangeProvider",
        mock="mailadmin_exchange.mock.platform:ExchangeMock",
        demo="mailadmin_exchange.demo:scenario",
    )
    register(
        "exchserver",
        provider="mailadmin_exchange.onprem:ExchangeServerProvider",
        mock="mailadmin_exchange.server_mock.platform:ExchangeServerMock",
        demo="mailadmin_exchange.demo:onprem_scenario",
    )
