"""Render the plugin template (``template/``, package data) into a new folder.

Template files end in ``.tmpl`` (so no tool takes them for code) and use
:class:`string.Template` placeholders: ``${name}`` (``"kerio"``), ``${package}``
(``"mailadmin_kerio"``), ``${distribution}`` (``"mailadmin-kerio"``), ``${cls}``
(``"Kerio"``, the class-name prefix), ``${title}`` (``"Kerio"``) and
``${mailadmin_version}``. A folder named ``__package__`` becomes the package.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import NamedTuple

from mailadmin import errors

__all__ = ["PluginNames", "create_plugin", "plugin_names"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_MAX_NAME = 40
_SUFFIX = ".tmpl"
_PACKAGE_DIR = "__package__"


class PluginNames(NamedTuple):
    """Every name a plugin ``NAME`` gets, e.g. for ``"google_workspace"``: provider
    ``google_workspace``, distribution ``mailadmin-google-workspace``, package
    ``mailadmin_google_workspace``, class prefix ``GoogleWorkspace``, title
    ``Google Workspace``."""

    name: str
    distribution: str
    package: str
    cls: str
    title: str


def plugin_names(name: str) -> PluginNames:
    """Validate a plugin name and derive the others; a user-safe error when it is wrong."""
    text = name.strip() if isinstance(name, str) else ""
    if not _NAME.match(text) or len(text) > _MAX_NAME or keyword.iskeyword(text):
        raise errors.ValidationError(
            f"'{name}' cannot name a plugin: use lower-case letters, digits and single "
            f"underscores, starting with a letter, at most {_MAX_NAME} characters "
            "(for example 'kerio' or 'google_workspace')"
        )
    from mailadmin.orchestration.registry import BUILTIN_PLUGINS

    builtin = {plugin for plugin, _ in BUILTIN_PLUGINS} | {"memory"}
    if text in builtin:
        raise errors.ValidationError(
            f"'{text}' is the name of a provider built into mailadmin; choose another"
        )
    words = text.split("_")
    return PluginNames(
        name=text,
        distribution="mailadmin-" + "-".join(words),
        package=f"mailadmin_{text}",
        cls="".join(word.capitalize() for word in words),
        title=" ".join(word.capitalize() for word in words),
    )


def create_plugin(name: str, directory: Path) -> Path:
    """Write plugin distribution ``mailadmin-NAME`` into a new folder under ``directory``.

    Returns the new folder. Refuses (``ValidationError``) a bad name or a folder that
    already exists; nothing is written then.
    """
    from mailadmin import __version__

    names = plugin_names(name)
    target = Path(directory) / names.distribution
    if target.exists():
        raise errors.ValidationError(
            f"{target} already exists; choose another --directory or remove it first"
        )
    values = {**names._asdict(), "mailadmin_version": __version__}
    files = _render(resources.files("mailadmin.scaffold") / "template", Path(), values)
    try:
        target.mkdir(parents=True)
    except OSError as exc:
        raise errors.ValidationError(
            f"Cannot create {target}", debug={"exception": repr(exc)}
        ) from None
    for relative, text in files:
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def _render(folder: Traversable, relative: Path, values: dict[str, str]) -> list[tuple[Path, str]]:
    """Every template file under ``folder`` as ``(path in the plugin, rendered text)``."""
    rendered: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            part = values["package"] if entry.name == _PACKAGE_DIR else entry.name
            rendered += _render(entry, relative / part, values)
        elif entry.name.endswith(_SUFFIX):
            text = Template(entry.read_text(encoding="utf-8")).substitute(values)
            rendered.append((relative / entry.name[: -len(_SUFFIX)], text))
    return rendered
