"""The capability matrix: generated from the declarations, and docs/capabilities.md in sync."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.contract.capabilities import KNOWN_ADDONS, Capabilities, Feature, Operation
from mailadmin.contract.hookspecs import Register, hookimpl
from mailadmin.contract.matrix import (
    capabilities_document,
    capability_matrix,
    instance_matrix,
    instance_rows,
    matrix_differences,
    parse_matrix,
)
from mailadmin.contract.models import MailboxKind
from mailadmin.orchestration.matrix import main
from mailadmin.orchestration.registry import Registry, get_registry
from mailadmin.reference.provider import MemoryProvider, MemorySettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "capabilities.md"


class Lean(MemoryProvider):
    """The memory platform sold with fewer features, and one add-on of its own."""

    name = "lean"
    capabilities = Capabilities(
        operations=frozenset({Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX}),
        mailbox_kinds=frozenset({MailboxKind.USER}),
        addons=frozenset({"mailboxes", "archive_gb"}),
        unsupported={
            "delete_mailbox": "accounts are removed by the\n  hosting panel",
            "create_mailbox:shared": "only people get mailboxes",
            "create_mailbox:room": "only people get mailboxes",
            "create_mailbox:equipment": "only people get mailboxes",
            "addon:shared_mailbox": "no shared mailboxes",
            "addon:resource_mailbox": "no resources",
            "addon:storage_gb": "storage comes with the plan",
        },
    )


@hookimpl
def _register(register: Register) -> None:
    register("lean", provider=Lean)


def _registry() -> Registry:
    plugin = SimpleNamespace(mailadmin_register_providers=_register)
    return Registry(entry_points=[("lean", plugin)], load=["reference", "lean"], disable=[])


def _in_tree_plugins() -> list[str]:
    """The plugins this repository ships: the built-in reference and plugins/*."""
    import tomllib

    names = ["reference"]
    for project in sorted((DOC.parents[1] / "plugins").glob("*/pyproject.toml")):
        data = tomllib.loads(project.read_text(encoding="utf-8"))
        names += data["project"].get("entry-points", {}).get("mailadmin", {})
    return names


def _in_tree(entry_points: list[tuple[str, object]] | None = None) -> Registry:
    """The installed providers this repository ships; a plugin installed beside them (a
    plugin author's own, in the same environment) is not this repository's to document."""
    return Registry(load=_in_tree_plugins(), disable=[], entry_points=entry_points)


def test_the_docs_copy_matches_every_in_tree_provider() -> None:
    """Refresh with: python -m mailadmin.orchestration.matrix --write docs/capabilities.md"""
    text = DOC.read_text(encoding="utf-8")
    assert matrix_differences(text, _in_tree()) == []
    assert "memory" in parse_matrix(text)
    assert text.startswith(capabilities_document(Registry(entry_points=[])).split("| feature")[0])


def test_a_plugin_installed_beside_the_tree_does_not_break_the_docs_check() -> None:
    """Installing a third-party plugin into the same environment keeps the core's tests
    green: only the in-tree providers are compared with docs/capabilities.md."""
    from importlib.metadata import entry_points

    installed = [(ep.name, ep.load()) for ep in entry_points(group="mailadmin")]
    plugin = SimpleNamespace(mailadmin_register_providers=_register)
    everything = [*installed, ("lean", plugin)]
    text = DOC.read_text(encoding="utf-8")
    assert matrix_differences(text, Registry(entry_points=everything, disable=[])) != []
    assert matrix_differences(text, _in_tree(everything)) == []


def test_the_matrix_reads_back_as_the_declarations() -> None:
    registry = _registry()
    written = parse_matrix(capability_matrix(registry))
    assert set(written) == {"lean", "memory"}
    lean = written["lean"]
    assert lean["create_mailbox:user"] == Feature("create_mailbox:user", True)
    assert lean["create_mailbox:room"] == Feature(
        "create_mailbox:room", False, "only people get mailboxes"
    )
    assert lean["delete_mailbox"].reason == "accounts are removed by the hosting panel"
    assert lean["addon:archive_gb"].supported
    # memory does not know that add-on: a gap, with the reason the matrix can give
    assert written["memory"]["addon:archive_gb"] == Feature(
        "addon:archive_gb", False, "not declared by this provider"
    )
    # ... and it hands out no sign-on link, which it says
    assert written["memory"]["single_sign_on"].reason == "the reference platform has no web sign-in"
    assert all(
        f.supported
        for f in written["memory"].values()
        if f.key not in ("addon:archive_gb", "single_sign_on")
    )
    assert matrix_differences(capability_matrix(registry), registry) == []


def test_a_stale_copy_is_reported_column_by_column() -> None:
    registry = _registry()
    text = capability_matrix(registry)
    wrong_cell = text.replace(
        "| `create_mailbox:user` | yes | yes |", "| `create_mailbox:user` | no | yes |"
    )
    assert matrix_differences(wrong_cell, registry) == [
        "lean / create_mailbox:user: declared yes, written no"
    ]
    wrong_reason = text.replace("storage comes with the plan", "storage is unlimited")
    assert matrix_differences(wrong_reason, registry) == [
        "lean / addon:storage_gb: declared no (storage comes with the plan), "
        "written no (storage is unlimited)"
    ]
    assert matrix_differences(text.replace(" | lean |", " | gone |"), registry)[0] == (
        "lean: not in the matrix"
    )


def test_providers_that_are_not_installed_are_left_alone() -> None:
    registry = Registry(entry_points=[])  # the reference provider only
    assert matrix_differences(capability_matrix(_registry()), registry) == []


def test_write_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "capabilities.md"
    assert main(["--write", str(target)]) == 0
    assert target.read_text() == capabilities_document(get_registry())
    assert main(["--check", str(target)]) == 0
    target.write_text(target.read_text().replace("| `set_plan` | yes", "| `set_plan` | no"))
    assert main(["--check", str(target)]) == 1
    # The edit hits the first provider column, whichever plugin sorts first.
    assert " / set_plan: declared yes, written no" in capsys.readouterr().err


def test_providers_matrix_prints_it() -> None:
    result = CliRunner().invoke(cli, ["providers", "--matrix"])
    assert result.exit_code == 0, result.output
    assert result.output == capability_matrix(get_registry())


class _NarrowSettings(MemorySettings):
    sells_addons: bool = True


class Narrow(MemoryProvider):
    """The memory platform, where an instance set up without add-on sales has none."""

    name = "narrow"
    settings_model = _NarrowSettings

    @classmethod
    def capabilities_for(cls, settings: MemorySettings) -> Capabilities:
        if not isinstance(settings, _NarrowSettings) or settings.sells_addons:
            return cls.capabilities
        return cls.capabilities.narrowed(
            [f"addon:{name}" for name in KNOWN_ADDONS], "add-ons are not sold here"
        )


def test_the_instance_matrix_shows_what_each_instance_supports() -> None:
    providers = {"shop-eu": Narrow({}), "panel-us": Narrow({"sells_addons": False})}
    written = parse_matrix(instance_matrix(providers))
    assert written["shop-eu"]["addon:storage_gb"].supported
    assert written["panel-us"]["addon:storage_gb"] == Feature(
        "addon:storage_gb", False, "add-ons are not sold here"
    )
    assert written["panel-us"]["create_mailbox:room"].supported
    rows = {row["instance"]: row for row in instance_rows(providers)}
    assert rows["shop-eu"]["narrowed"] == {}
    assert rows["panel-us"]["narrowed"]["addon:mailboxes"] == "add-ons are not sold here"
    assert "addon:mailboxes" not in rows["panel-us"]["capabilities"]
    assert rows["panel-us"]["provider"] == "narrow"


def test_capabilities_narrow_by_feature_with_a_reason() -> None:
    full = MemoryProvider.capabilities
    less = full.narrowed(["list_mailboxes", "create_mailbox:room", "addon:storage_gb"], "not here")
    assert not less.supports("list_mailboxes") and less.reason("list_mailboxes") == "not here"
    assert not less.supports("create_mailbox:room") and not less.supports("delete_mailbox:room")
    assert less.supports("create_mailbox:shared") and less.supports("addon:mailboxes")
    assert not less.supports("addon:storage_gb") and less.reason("addon:storage_gb") == "not here"
    with pytest.raises(ValueError, match="not an optional feature"):
        full.narrowed(["set_plan"], "required operations stay")
    with pytest.raises(ValueError, match="needs a reason"):
        full.narrowed(["addon:storage_gb"], "")
