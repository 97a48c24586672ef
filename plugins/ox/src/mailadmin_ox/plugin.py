"""Registers the OX provider, its mock and its demo scenario with mailadmin."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl

__all__ = ["mailadmin_register_providers"]


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register ``ox``."""
    register(
        "ox",
        provider="mailadmin_ox.provider:OXProvider",
        mock="mailadmin_ox.mock.platform:OXMock",
        demo="mailadmin_ox.demo:scenario",
    )
