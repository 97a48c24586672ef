"""Registers the reference provider, its mock and its demo (built into the core)."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register provider ``memory``."""
    register(
        "memory",
        provider="mailadmin.reference.provider:MemoryProvider",
        mock="mailadmin.reference.mock:MemoryMock",
        demo="mailadmin.reference.demo:scenario",
    )
