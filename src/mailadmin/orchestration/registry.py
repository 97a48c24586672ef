"""Plugin discovery and the table of provider classes.

Plugins are modules found through the ``mailadmin`` entry-point group (plus the core's
built-in reference plugin). They are loaded once, lazily, on the first question asked of
the registry. Each loads on its own: one that fails to import is reported and skipped
(``strict=True``, meant for CI, raises instead). ``MAILADMIN_LOAD_PLUGINS=a,b`` loads only
the named plugins; ``MAILADMIN_DISABLE_PLUGINS=a,b`` skips the named ones. Two plugins
registering one provider name is a conflict: the name is refused and both distributions
are named.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

import pluggy

from mailadmin.contract import errors, hookspecs
from mailadmin.contract.provider import CallHooks, CallInfo, Provider

if TYPE_CHECKING:
    from mailadmin.mock.platform import MockPlatform

__all__ = [
    "BUILTIN_PLUGINS",
    "LoadError",
    "PluginHooks",
    "ProviderEntry",
    "Registry",
    "get_registry",
    "set_registry",
]

log = logging.getLogger("mailadmin.orchestration.registry")

#: Plugins that ship inside the core distribution: entry-point style (name, module).
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (("reference", "mailadmin.reference.plugin"),)
_GROUP = "mailadmin"


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be used.

    ``plugin``: entry-point name (``"ox"``); ``distribution``: ``"mailadmin-ox"``;
    ``message``: user-safe reason; ``debug``: the underlying exception text.
    """

    plugin: str
    distribution: str
    message: str
    debug: str = ""


@dataclass(frozen=True)
class ProviderEntry:
    """One registered provider.

    ``name``: ``"ox"``; ``plugin``: the entry-point name that registered it;
    ``distribution``/``version``: ``"mailadmin-ox"``, ``"0.1.0"``; ``provider`` and
    ``mock``: the class or a ``"module:attribute"`` string imported on first use.
    """

    name: str
    plugin: str
    distribution: str
    version: str
    provider: str | type[Provider]
    mock: str | None = None
    demo: str | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def load(self) -> type[Provider]:
        """Import and return the provider class."""
        cls = self._resolve("provider", self.provider)
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise errors.ConfigurationError(
                f"Plugin '{self.plugin}' registered '{self.name}' with something that is "
                "not a provider"
            )
        return cls

    def load_mock(self) -> type[MockPlatform]:
        """Import and return the mock platform class; error when the plugin ships none."""
        if self.mock is None:
            raise errors.ConfigurationError(f"Provider '{self.name}' ships no mock server")
        cls: type[MockPlatform] = self._resolve("mock", self.mock)
        return cls

    def load_demo(self) -> Any:
        """Import and return the demo scenario function, or ``None`` when there is none."""
        return None if self.demo is None else self._resolve("demo", self.demo)

    def _resolve(self, what: str, target: str | type[Any]) -> Any:
        if not isinstance(target, str):
            return target
        if what not in self._loaded:
            try:
                self._loaded[what] = _import_attribute(target)
            except Exception as exc:
                log.warning("cannot import %s of provider %s: %r", what, self.name, exc)
                raise errors.ConfigurationError(
                    f"The {what} of provider '{self.name}' (from {self.distribution}) "
                    "could not be loaded",
                    debug={"target": target, "exception": repr(exc)},
                ) from exc
        return self._loaded[what]


class PluginHooks(CallHooks):
    """Runs the plugins' call hooks around every provider call."""

    def __init__(self, hook: Any) -> None:
        self._hook = hook

    def before(self, provider: Provider, call: CallInfo) -> None:
        try:
            answers = self._hook.mailadmin_before_call(call=call, provider=provider)
        except errors.MailadminError:
            raise
        except Exception as exc:
            # A policy check that crashed must not let a change through unchecked.
            log.exception("a before-call hook failed")
            raise errors.PolicyDenied(
                "A policy check failed; the change was not made", debug={"exception": repr(exc)}
            ) from exc
        for answer in answers:
            if answer:
                raise errors.PolicyDenied(str(answer))

    def after(self, provider: Provider, call: CallInfo, result: object) -> None:
        self._quietly("mailadmin_after_call", call=call, provider=provider, result=result)

    def error(self, provider: Provider, call: CallInfo, error: errors.MailadminError) -> None:
        self._quietly("mailadmin_call_failed", call=call, provider=provider, error=error)

    def _quietly(self, name: str, **kwargs: Any) -> None:
        # The platform call already happened; an audit or metrics hook failing must not
        # turn a done change into a reported failure.
        try:
            getattr(self._hook, name)(**kwargs)
        except Exception:
            log.exception("hook %s failed", name)


class Registry:
    """Loads plugins once and answers which providers exist.

    ``strict``: raise on the first broken plugin or conflict instead of skipping it;
    ``load`` / ``disable``: plugin names to load only / to skip (default: from the
    environment variables); ``entry_points``: plugins to consider instead of the installed
    ones, as ``(name, module_or_object)`` pairs (for tests and embedders).
    """

    def __init__(
        self,
        *,
        strict: bool = False,
        load: Iterable[str] | None = None,
        disable: Iterable[str] | None = None,
        entry_points: Iterable[tuple[str, Any]] | None = None,
        builtins: bool = True,
    ) -> None:
        self.strict = strict
        self._only = _names(load) if load is not None else _env("MAILADMIN_LOAD_PLUGINS")
        self._skip: set[str] = (
            _names(disable) if disable is not None else _env("MAILADMIN_DISABLE_PLUGINS") or set()
        )
        self._given = list(entry_points) if entry_points is not None else None
        self._builtins = builtins
        self._lock = threading.Lock()
        self._loaded = False
        self._entries: dict[str, ProviderEntry] = {}
        self._conflicts: dict[str, list[str]] = {}
        self._errors: list[LoadError] = []
        self._plugins: list[tuple[str, str, str]] = []
        self.pm = pluggy.PluginManager("mailadmin")
        self.pm.add_hookspecs(hookspecs)
        self.hooks: CallHooks = PluginHooks(self.pm.hook)

    # -- questions --------------------------------------------------------------------------

    def providers(self) -> dict[str, ProviderEntry]:
        """Every usable provider by name."""
        self._ensure_loaded()
        return dict(self._entries)

    @property
    def errors(self) -> list[LoadError]:
        """Plugins that failed to load or conflicted, with user-safe reasons."""
        self._ensure_loaded()
        return list(self._errors)

    def plugins(self) -> list[tuple[str, str, str]]:
        """Loaded plugins as ``(name, distribution, version)``."""
        self._ensure_loaded()
        return list(self._plugins)

    def get(self, name: str) -> ProviderEntry:
        """The provider registered as ``name``; a clear error when there is none."""
        self._ensure_loaded()
        if name in self._conflicts:
            raise errors.ConfigurationError(_conflict_message(name, self._conflicts[name]))
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise errors.ConfigurationError(
                f"No provider named '{name}' is installed (installed: {known}). "
                f"A plugin for it may be available as 'mailadmin-{name}'."
            ) from None

    def provider_class(self, name: str) -> type[Provider]:
        """Import and return the class of provider ``name``."""
        return self.get(name).load()

    def mock_platform(self, name: str) -> type[MockPlatform]:
        """Import and return the mock platform class of provider ``name``."""
        return self.get(name).load_mock()

    def create(
        self, name: str, settings: Any = None, *, instance: str | None = None, **kw: Any
    ) -> Provider:
        """Build a provider of kind ``name`` whose calls run this registry's hooks."""
        cls = self.provider_class(name)
        return cls(settings, instance=instance, hooks=self.hooks, **kw)

    # -- loading ------------------------------------------------------------------------------

    def register_plugin(
        self, plugin: Any, name: str, distribution: str = "", version: str = ""
    ) -> None:
        """Add a plugin object (a module or an object with hook functions) at run time."""
        self._ensure_loaded()
        with self._lock:
            self._add(name, plugin, distribution or name, version)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            for name, target, dist, version in self._candidates():
                if self._only is not None and name not in self._only:
                    continue
                if name in self._skip:
                    continue
                try:
                    plugin = _import_attribute(target) if isinstance(target, str) else target
                except Exception as exc:
                    self._fail(name, dist, f"Plugin '{name}' ({dist}) could not be imported", exc)
                    continue
                self._add(name, plugin, dist, version)
            self._loaded = True

    def _candidates(self) -> list[tuple[str, Any, str, str]]:
        found: list[tuple[str, Any, str, str]] = []
        if self._builtins:
            from mailadmin import __version__

            found += [(n, m, "mailadmin", __version__) for n, m in BUILTIN_PLUGINS]
        if self._given is not None:
            return found + [(n, t, _dist_of(t), "") for n, t in self._given]
        for ep in metadata.entry_points(group=_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else ""
            found.append((ep.name, ep.value, dist, version))
        return found

    def _add(self, name: str, plugin: Any, dist: str, version: str) -> None:
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._fail(name, dist, f"Plugin '{name}' ({dist}) could not be registered", exc)
            return
        unknown = [
            impl.function.__name__
            for hook in self.pm.hook.__dict__.values()
            if isinstance(hook, pluggy.HookCaller) and not hook.has_spec()
            for impl in hook.get_hookimpls()
            if impl.plugin_name == name
        ]
        if unknown:
            self.pm.unregister(plugin)
            self._fail(
                name,
                dist,
                f"Plugin '{name}' ({dist}) implements unknown hooks",
                ValueError(unknown),
            )
            return
        staged: dict[str, ProviderEntry] = {}

        def register(
            provider_name: str,
            *,
            provider: str | type[Provider],
            mock: str | None = None,
            demo: str | None = None,
        ) -> None:
            if not provider_name or provider_name in staged:
                raise ValueError(f"provider name {provider_name!r} registered twice or empty")
            staged[provider_name] = ProviderEntry(
                provider_name, name, dist, version, provider, mock, demo
            )

        for impl in self.pm.hook.mailadmin_register_providers.get_hookimpls():
            if impl.plugin_name != name:
                continue
            try:
                impl.function(register=register)
            except Exception as exc:
                self.pm.unregister(plugin)
                self._fail(
                    name, dist, f"Plugin '{name}' ({dist}) failed to register its providers", exc
                )
                return
        self._plugins.append((name, dist, version))
        for provider_name, entry in staged.items():
            self._claim(provider_name, entry)

    def _claim(self, provider_name: str, entry: ProviderEntry) -> None:
        if provider_name in self._conflicts:
            self._conflicts[provider_name].append(entry.distribution)
        elif provider_name in self._entries:
            first = self._entries.pop(provider_name)
            self._conflicts[provider_name] = [first.distribution, entry.distribution]
        else:
            self._entries[provider_name] = entry
            return
        message = _conflict_message(provider_name, self._conflicts[provider_name])
        if self.strict:
            raise errors.ConfigurationError(message)
        log.warning("%s", message)
        self._errors.append(LoadError(entry.plugin, entry.distribution, message))

    def _fail(self, name: str, dist: str, message: str, exc: BaseException) -> None:
        if self.strict:
            raise errors.ConfigurationError(message, debug={"exception": repr(exc)}) from exc
        log.warning("%s: %r", message, exc)
        self._errors.append(LoadError(name, dist, message, repr(exc)))


def _conflict_message(name: str, distributions: list[str]) -> str:
    return (
        f"Provider name '{name}' is claimed by more than one plugin "
        f"({' and '.join(distributions)}); uninstall or disable all but one"
    )


def _import_attribute(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    module = import_module(module_name)
    return getattr(module, attribute) if attribute else module


def _dist_of(target: Any) -> str:
    if isinstance(target, str):
        return target.partition(":")[0].split(".")[0]
    return getattr(target, "__name__", type(target).__name__)


def _names(values: Iterable[str]) -> set[str]:
    return {v.strip() for v in values if v.strip()}


def _env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None if variable == "MAILADMIN_LOAD_PLUGINS" else set()
    return _names(raw.split(","))


_default: Registry | None = None
_default_lock = threading.Lock()


def get_registry() -> Registry:
    """The process-wide registry, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry(strict=_truthy(os.environ.get("MAILADMIN_STRICT_PLUGINS")))
        return _default


def set_registry(registry: Registry | None) -> None:
    """Replace the process-wide registry (``None`` makes the next use build a new one)."""
    global _default
    with _default_lock:
        _default = registry


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}
