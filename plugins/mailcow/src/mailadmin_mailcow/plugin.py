"""Registers the Mailcow provider and its mock with mailadmin."""

from __future__ import annotations

from mailadmin.sdk import Register, hookimpl


@hookimpl
def mailadmin_register_providers(register: Register) -> None:
    """Register provider ``mailcow``; the classes are imported on first use."""
    register(
        "mailcow",
        provider="mailadmin_mailcow.provider:MailcowProvider",
        mock="mailadmin_mailcow.mock.platform:MailcowMock",
        demo="mailadmin_mailcow.demo:scenario",
    )
