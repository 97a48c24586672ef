"""What a plugin contributes to ``mailadmin demo``: its mock's instance, tenants and script.

A plugin's ``demo`` registration names a function returning a :class:`DemoScenario`
(import it from :mod:`mailadmin.sdk`); the CLI serves the mock and runs the script.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DemoScenario"]


class DemoScenario(BaseModel):
    """What a plugin contributes to the demo.

    ``instance``: the ``[instances.<name>]`` table without ``endpoint`` (it must name
    ``provider``); ``tenants``: ``[tenants.<name>]`` tables without ``instance``;
    ``upgrades``: ``(address, plan)`` pairs; ``addons``: ``(tenant, addon, quantity)``;
    ``seed``: the mock's start state, when its defaults would clash with another
    platform's tenants (every mock defaults to ``example.com``).
    """

    model_config = ConfigDict(frozen=True)

    instance: dict[str, Any]
    tenants: dict[str, dict[str, Any]]
    upgrades: list[tuple[str, str]] = Field(default_factory=list)
    addons: list[tuple[str, str, int]] = Field(default_factory=list)
    seed: dict[str, Any] | None = None
