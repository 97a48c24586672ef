"""Registers the Exchange provider, its mock and its demo scenario with mailadmin."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl

__all__ = ["mailadmin_register_providers"]


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register ``exchange``."""
    register(
        "exchange",
        provider="mailadmin_exchange.provider:ExchangeProvider",
        mock="mailadmin_exchange.mock.platform:ExchangeMock",
        demo="mailadmin_exchange.demo:scenario",
    )
