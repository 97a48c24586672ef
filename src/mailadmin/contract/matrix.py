"""The capability matrix (feature x provider), generated from the declarations.

Each provider declares its capabilities as data; the conformance kit (``mailadmin.testing``)
runs every declared feature against the provider's mock, so each "yes" here is proven in
the plugin's CI, and each "no" carries the reason the provider declares.

``docs/capabilities.md`` holds a copy for the providers installed where it was written;
refresh it with ``python -m mailadmin.orchestration.matrix --write docs/capabilities.md``
and check it with ``--check`` (only the columns of installed providers can be checked).
The providers come in as a :class:`ProviderSource` (the registry, passed by its owner), so
the contract does not reach up into orchestration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mailadmin.contract.capabilities import Capabilities, Feature

if TYPE_CHECKING:
    from mailadmin.contract.provider import Provider

__all__ = [
    "InstalledProvider",
    "ProviderSource",
    "capabilities_document",
    "capability_matrix",
    "instance_matrix",
    "instance_rows",
    "matrix_differences",
    "matrix_of",
    "parse_matrix",
    "provider_rows",
]

_GAPS_HEADING = "Unsupported features and the reasons their providers give:"
_GAP_LINE = re.compile(r"^- `(?P<provider>[^`]+)` / `(?P<key>[^`]+)`: (?P<reason>.*)$")
_DOC_HEAD = """\
# Capability matrix

What each installed provider supports beyond the required operations. A provider declares
its capabilities as data (`capabilities = Capabilities(...)` on its class); the conformance
kit (`mailadmin.testing`, see [plugin-authors.md](plugin-authors.md)) runs every declared
feature against the provider's mock in process and on loopback, so each **yes** is proven
by the plugin's own test suite, and each **no** is reported there as a skip carrying the
reason listed below the table.

`mailadmin providers --matrix` prints the same for the providers installed where it runs.
This copy is generated: refresh it with

```bash
python -m mailadmin.orchestration.matrix --write docs/capabilities.md
```

and `tests/test_matrix.py` fails when a column of an installed provider no longer matches.

"""


class InstalledProvider(Protocol):
    """One installed provider as a registry lists it (``ProviderEntry`` is one)."""

    @property
    def distribution(self) -> str:
        """The distribution that ships it (``"mailadmin-ox"``)."""
        ...

    @property
    def version(self) -> str:
        """That distribution's version."""
        ...

    @property
    def mock(self) -> object:
        """Its mock server, or None when it ships none."""
        ...

    def load(self) -> type[Provider]:
        """Import and return the provider class."""
        ...


class ProviderSource(Protocol):
    """Where the installed providers come from (the registry, passed in by its owner)."""

    def providers(self) -> Mapping[str, InstalledProvider]:
        """Every usable provider by name."""
        ...


def provider_rows(registry: ProviderSource) -> list[dict[str, Any]]:
    """One row per installed provider: name, platform, distribution, version, features,
    licence model (``"none"``, ``"per_mailbox (minimum 10)"``...)."""
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
                "licence": _licence_text(cls.capabilities),
            }
        )
    return rows


def capability_matrix(registry: ProviderSource) -> str:
    """Markdown: a table with one row per feature and one column per installed provider
    class ("yes" or "no"), then every gap with the reason its provider declares."""
    return matrix_of({name: cls.capabilities for name, cls in _classes(registry).items()})


def instance_matrix(providers: Mapping[str, Provider]) -> str:
    """The same table with one column per configured instance (``{"ox-eu": provider}``),
    each showing what that instance supports: its class's capabilities narrowed by its
    settings (``Provider.instance_capabilities``)."""
    return matrix_of({name: p.instance_capabilities for name, p in providers.items()})


def matrix_of(columns: Mapping[str, Capabilities]) -> str:
    """The Markdown matrix of any columns: name -> capabilities."""
    if not columns:
        return "No providers are installed.\n"
    names = list(columns)
    keys: list[str] = []
    for caps in columns.values():
        keys += [f.key for f in caps.features() if f.key not in keys]
    lines = ["| feature | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    gaps: list[str] = []
    for key in keys:
        cells = []
        for name in names:
            caps = columns[name]
            supported = caps.supports(key)
            cells.append("yes" if supported else "no")
            if not supported:
                gaps.append(f"- `{name}` / `{key}`: {_one_line(caps.reason(key))}")
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    if gaps:
        lines += ["", _GAPS_HEADING, "", *gaps]
    return "\n".join(lines) + "\n"


def instance_rows(providers: Mapping[str, Provider]) -> list[dict[str, Any]]:
    """One row per configured instance: instance, provider, platform, the features it
    supports and those its settings take away from its class (key -> reason)."""
    rows = []
    for instance, provider in providers.items():
        declared = type(provider).capabilities
        own = provider.instance_capabilities
        rows.append(
            {
                "instance": instance,
                "provider": provider.name,
                "platform": provider.platform,
                "capabilities": [f.key for f in own.features() if f.supported],
                "narrowed": {
                    f.key: own.reason(f.key)
                    for f in declared.features()
                    if f.supported and not own.supports(f.key)
                },
            }
        )
    return rows


def capabilities_document(registry: ProviderSource) -> str:
    """The whole of ``docs/capabilities.md`` for the installed providers."""
    return _DOC_HEAD + capability_matrix(registry)


def parse_matrix(text: str) -> dict[str, dict[str, Feature]]:
    """Read a matrix written by :func:`capability_matrix` back: provider -> key -> feature."""
    columns: list[str] = []
    found: dict[str, dict[str, Feature]] = {}
    for line in text.splitlines():
        if line.startswith("| feature |"):
            columns = [cell.strip() for cell in line.strip().strip("|").split("|")][1:]
            found = {name: {} for name in columns}
        elif columns and line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            key = cells[0].strip("`")
            for name, cell in zip(columns, cells[1:], strict=False):
                found[name][key] = Feature(key, cell == "yes")
        else:
            gap = _GAP_LINE.match(line)
            if gap and gap["provider"] in found and gap["key"] in found[gap["provider"]]:
                found[gap["provider"]][gap["key"]] = Feature(gap["key"], False, gap["reason"])
    return found


def matrix_differences(text: str, registry: ProviderSource) -> list[str]:
    """Where ``text`` disagrees with the installed providers' declarations (empty: in
    sync). Providers the text shows but that are not installed cannot be checked and are
    not reported."""
    written = parse_matrix(text)
    problems: list[str] = []
    for name, cls in _classes(registry).items():
        column = written.get(name)
        if column is None:
            problems.append(f"{name}: not in the matrix")
            continue
        own = {f.key: f._replace(reason=_one_line(f.reason)) for f in cls.capabilities.features()}
        for key, feature in own.items():
            if column.get(key) != feature:
                problems.append(
                    f"{name} / {key}: declared {_show(feature)}, written {_show(column.get(key))}"
                )
        for key, feature in column.items():
            if key not in own and feature.supported:
                problems.append(f"{name} / {key}: written as supported, not declared")
    return problems


def _classes(registry: ProviderSource) -> dict[str, type[Provider]]:
    classes = {}
    for name, entry in sorted(registry.providers().items()):
        try:
            classes[name] = entry.load()
        except Exception:  # a broken plugin is reported by `mailadmin providers`
            continue
    return classes


def _licence_text(capabilities: Capabilities) -> str:
    model = capabilities.licence
    minimum = f" (minimum {model.minimum})" if model.minimum is not None else ""
    return f"{model.kind.value}{minimum}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _show(feature: Feature | None) -> str:
    if feature is None:
        return "nothing"
    if feature.supported:
        return "yes"
    return f"no ({feature.reason})" if feature.reason else "no"
