"""The capability matrix (provider x feature), generated from the declarations."""

from __future__ import annotations

from typing import Any

from mailadmin.registry import Registry

__all__ = ["capability_matrix", "provider_rows"]


def provider_rows(registry: Registry) -> list[dict[str, Any]]:
    """One row per installed provider: name, platform, distribution, version, features."""
    rows = []
    for name, entry in sorted(registry.providers().items()):
        try:
            cls = entry.load()
        except Exception as exc:  # reported, not fatal: the other providers still list
            rows.append(
                {
                    "name": name,
                    "platform": "",
                    "distribution": entry.distribution,
                    "version": entry.version,
                    "capabilities": [],
                    "mock": entry.mock is not None,
                    "error": str(exc),
                }
            )
            continue
        rows.append(
            {
                "name": name,
                "platform": cls.platform,
                "distribution": entry.distribution,
                "version": entry.version,
                "capabilities": [f.key for f in cls.capabilities.features() if f.supported],
                "mock": entry.mock is not None,
            }
        )
    return rows


def capability_matrix(registry: Registry) -> str:
    """Markdown table: one row per feature, one column per provider; gaps carry a reason."""
    classes = {}
    for name, entry in sorted(registry.providers().items()):
        try:
            classes[name] = entry.load()
        except Exception:
            continue
    if not classes:
        return "No providers are installed.\n"
    names = list(classes)
    keys = []
    for cls in classes.values():
        keys += [f.key for f in cls.capabilities.features() if f.key not in keys]
    lines = [
        "| feature | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    notes: list[str] = []
    for key in keys:
        cells = []
        for name in names:
            caps = classes[name].capabilities
            if caps.supports(key):
                cells.append("yes")
            else:
                notes.append(f"{name} / {key}: {caps.reason(key)}")
                cells.append(f"no [{len(notes)}]")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    if notes:
        lines.append("")
        lines += [f"[{i}] {note}" for i, note in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"
