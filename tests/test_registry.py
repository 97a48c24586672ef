"""Plugin discovery through real entry points: broken plugins, conflicts, selection."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mailadmin.contract import errors
from mailadmin.orchestration.registry import Registry

PROVIDER = """
from mailadmin.contract.hookspecs import hookimpl
from mailadmin.contract.capabilities import Capabilities
from mailadmin.contract.provider import Provider

class {cls}(Provider):
    name = "{provider}"
    platform = "{cls} platform"
    capabilities = Provider.capabilities

    async def _set_plan(self, mailbox, plan): ...
    async def _count_mailboxes(self, tenant): ...
    async def _apply_addon(self, tenant, addon, quantity): ...
    async def _get_licence(self): ...
    async def _test_connection(self): ...
    async def _list_plans(self): ...

@hookimpl
def mailadmin_register_providers(register):
    register("{provider}", provider="{module}:{cls}")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install fake plugin distributions (dist-info + module) on a private sys.path entry."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("MAILADMIN_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("MAILADMIN_DISABLE_PLUGINS", raising=False)
    made: list[str] = []

    def install(dist: str, plugin: str, module: str, source: str) -> None:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[mailadmin]\n{plugin} = {module}\n")
        made.append(module)

    yield install
    for module in made:
        sys.modules.pop(module, None)


def test_a_plugin_registers_its_provider_lazily(site) -> None:
    site(
        "mailadmin-acme",
        "acme",
        "acme_plugin",
        PROVIDER.format(cls="Acme", provider="acme", module="acme_plugin"),
    )
    registry = Registry()
    assert "acme_plugin" not in sys.modules  # nothing imported before the first question
    entry = registry.get("acme")
    assert (entry.distribution, entry.version, entry.plugin) == ("mailadmin-acme", "1.2.3", "acme")
    assert registry.provider_class("acme").platform == "Acme platform"
    assert "memory" in registry.providers()  # the core's built-in reference provider


def test_a_broken_plugin_is_reported_and_skipped(site) -> None:
    site(
        "mailadmin-broken", "broken", "broken_plugin", "raise ImportError('no such backend lib')\n"
    )
    site(
        "mailadmin-acme",
        "acme",
        "acme_plugin",
        PROVIDER.format(cls="Acme", provider="acme", module="acme_plugin"),
    )
    registry = Registry()
    assert "acme" in registry.providers()
    [failure] = [e for e in registry.errors if e.plugin == "broken"]
    assert failure.distribution == "mailadmin-broken"
    assert "could not be imported" in failure.message
    assert "no such backend lib" in failure.debug
    assert "no such backend lib" not in failure.message


def test_strict_mode_raises_on_a_broken_plugin(site) -> None:
    site("mailadmin-broken", "broken", "broken_plugin", "raise ImportError('boom')\n")
    with pytest.raises(errors.ConfigurationError, match="broken.*could not be imported"):
        Registry(strict=True).providers()


def test_a_plugin_with_unknown_hooks_is_refused(site) -> None:
    source = "from mailadmin.contract.hookspecs import hookimpl\n@hookimpl\ndef mailadmin_typo_hook():\n    pass\n"
    site("mailadmin-typo", "typo", "typo_plugin", source)
    registry = Registry()
    assert any("unknown hooks" in e.message for e in registry.errors)


def test_two_plugins_claiming_one_name_are_refused_naming_both(site) -> None:
    site("mailadmin-ox", "ox", "ox_one", PROVIDER.format(cls="One", provider="ox", module="ox_one"))
    site(
        "acme-ox-fork",
        "oxfork",
        "ox_two",
        PROVIDER.format(cls="Two", provider="ox", module="ox_two"),
    )
    registry = Registry()
    with pytest.raises(errors.ConfigurationError) as caught:
        registry.get("ox")
    assert "mailadmin-ox" in str(caught.value) and "acme-ox-fork" in str(caught.value)
    assert "ox" not in registry.providers()
    assert any("mailadmin-ox" in e.message and "acme-ox-fork" in e.message for e in registry.errors)
    with pytest.raises(errors.ConfigurationError, match="more than one plugin"):
        Registry(strict=True).providers()


def test_disable_and_load_variables_select_plugins(site, monkeypatch: pytest.MonkeyPatch) -> None:
    site(
        "mailadmin-acme",
        "acme",
        "acme_plugin",
        PROVIDER.format(cls="Acme", provider="acme", module="acme_plugin"),
    )
    site(
        "mailadmin-beta",
        "beta",
        "beta_plugin",
        PROVIDER.format(cls="Beta", provider="beta", module="beta_plugin"),
    )
    ours = {"acme", "beta", "memory"}  # other plugins installed in this environment aside

    def names() -> set[str]:
        return set(Registry().providers()) & ours

    assert names() == ours
    monkeypatch.setenv("MAILADMIN_DISABLE_PLUGINS", "beta, reference")
    assert names() == {"acme"}
    monkeypatch.delenv("MAILADMIN_DISABLE_PLUGINS")
    monkeypatch.setenv("MAILADMIN_LOAD_PLUGINS", "beta")
    assert set(Registry().providers()) == {"beta"}
    monkeypatch.setenv("MAILADMIN_LOAD_PLUGINS", "beta,acme")
    monkeypatch.setenv("MAILADMIN_DISABLE_PLUGINS", "acme")
    assert set(Registry().providers()) == {"beta"}
    # Embedders may pass the same choice as arguments, which win over the environment.
    assert set(Registry(load=["acme"], disable=[]).providers()) == {"acme"}


def test_an_unknown_provider_name_gives_an_install_hint() -> None:
    with pytest.raises(errors.ConfigurationError, match="mailadmin-kerio"):
        Registry(entry_points=[]).get("kerio")


def test_before_call_hooks_of_plugins_can_veto(site) -> None:
    source = PROVIDER.format(cls="Acme", provider="acme", module="acme_plugin") + textwrap.dedent(
        """
        @hookimpl
        def mailadmin_before_call(call, provider):
            if call.is_write:
                return "Changes are frozen for the billing run"
        """
    )
    site("mailadmin-acme", "acme", "acme_plugin", source)
    registry = Registry()
    provider = registry.create("memory", {})
    import asyncio

    from mailadmin.contract.models import MailboxRef, TenantRef

    async def attempt() -> None:
        await provider.set_plan(
            MailboxRef(tenant=TenantRef(name="example.com"), address="a@example.com"), "mail"
        )

    with pytest.raises(errors.PolicyDenied, match="frozen for the billing run"):
        asyncio.run(attempt())
