"""``mailadmin new-plugin``: write a working plugin distribution from the bundled template."""

from __future__ import annotations

from mailadmin.scaffold.create import create_plugin, plugin_names

__all__ = ["create_plugin", "plugin_names"]
