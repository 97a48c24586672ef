"""Registers the Zextras provider, its mock and its demo scenario with mailadmin."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl

__all__ = ["mailadmin_register_providers"]


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register ``zextras``."""
    register(
        "zextras",
        provider="mailadmin_zextras.provider:ZextrasProvider",
        mock="mailadmin_zextras.mock.platform:ZextrasMock",
        demo="mailadmin_zextras.demo:scenario",
    )
