"""Find a platform's mock by name, through the plugin registry."""

from __future__ import annotations

from mailadmin.mock.platform import MockPlatform

__all__ = ["load_platform"]


def load_platform(name: str) -> type[MockPlatform]:
    """The :class:`MockPlatform` class registered for provider ``name`` (``"memory"``).

    Raises :class:`~mailadmin.contract.errors.ConfigurationError` when no installed plugin
    registers that name or its plugin ships no mock.
    """
    from mailadmin.orchestration.registry import get_registry

    return get_registry().mock_platform(name)
