"""The provider class keeps the contract: final methods, base signatures, declared = built."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from mailadmin.contract.capabilities import REQUIRED, Capabilities, LicenceKind, Operation
from mailadmin.contract.provider import Provider, plugin_hooks
from mailadmin.contract.settings import ProviderSettings

if TYPE_CHECKING:
    from mailadmin.testing.target import ConformanceTarget

__all__ = ["ContractSuite"]


class ContractSuite:
    """Checks of the provider class itself; they need no mock and run once."""

    def test_public_methods_are_not_overridden(self, mailadmin_target: ConformanceTarget) -> None:
        """Every public operation is the base class's final method."""
        cls = mailadmin_target.provider
        for op in Operation:
            assert getattr(cls, op.value) is getattr(Provider, op.value), (
                f"{cls.__qualname__} replaces the final method '{op.value}'; "
                f"implement '_{op.value}' instead"
            )

    def test_protected_methods_keep_the_base_signatures(
        self, mailadmin_target: ConformanceTarget
    ) -> None:
        """Each ``_operation`` a class defines is async and takes the base's parameters."""
        cls = mailadmin_target.provider
        for name in sorted({hook for op in Operation for hook in plugin_hooks(op)}):
            impl = getattr(cls, name)
            base = getattr(Provider, name)
            assert inspect.iscoroutinefunction(impl), f"{name} must be 'async def'"
            got = list(inspect.signature(impl).parameters)
            expected = list(inspect.signature(base).parameters)
            assert got == expected, f"{name} takes {got}; the contract says {expected}"

    def test_declared_operations_are_implemented(self, mailadmin_target: ConformanceTarget) -> None:
        """Every required and every declared optional operation has an implementation
        (``get_licence`` comes from the base for a platform declared without licences)."""
        cls = mailadmin_target.provider
        declared = REQUIRED | cls.capabilities.operations
        if cls.capabilities.licence.kind is LicenceKind.NONE:
            declared -= {Operation.GET_LICENCE}
        missing = [
            hook
            for op in Operation
            if op in declared
            for hook in plugin_hooks(op)
            if getattr(cls, hook) is getattr(Provider, hook)
        ]
        assert not missing, f"declared but not implemented: {', '.join(missing)}"

    def test_every_gap_has_a_reason(self, mailadmin_target: ConformanceTarget) -> None:
        """Capabilities are data: each unsupported feature says why."""
        caps = mailadmin_target.provider.capabilities
        assert isinstance(caps, Capabilities)
        silent = [f.key for f in caps.features() if not f.supported and not f.reason.strip()]
        assert not silent, f"unsupported features without a reason: {', '.join(silent)}"

    def test_names_and_settings(self, mailadmin_target: ConformanceTarget) -> None:
        """``name``, ``platform`` and ``settings_model`` are set; the target's plans exist."""
        cls = mailadmin_target.provider
        assert cls.name and cls.name == cls.name.lower() and " " not in cls.name
        assert cls.platform.strip(), "set 'platform', the display name of the platform"
        assert issubclass(cls.settings_model, ProviderSettings)
        settings = mailadmin_target.settings_for("http://127.0.0.1:1")
        assert isinstance(settings, cls.settings_model)
        for plan in mailadmin_target.plans:
            assert plan in settings.plans, f"the target's plan '{plan}' is not configured"

    def test_registered_under_its_name(self, mailadmin_target: ConformanceTarget) -> None:
        """The registry gives this provider and this mock for the provider's name."""
        import pytest

        if not mailadmin_target.check_registration:
            pytest.skip("the target is not the registered provider (check_registration=False)")
        from mailadmin.orchestration.registry import get_registry

        cls = mailadmin_target.provider
        entry = get_registry().get(cls.name)
        assert entry.load() is cls, f"'{cls.name}' is registered to another class"
        assert entry.load_mock() is mailadmin_target.mock, "another mock is registered"
        assert mailadmin_target.mock.name == cls.name, "the mock is named after the provider"

    def test_the_target_reads_the_platform(self, mailadmin_target: ConformanceTarget) -> None:
        """The target supplies a probe, so every write is checked on the platform too."""
        assert mailadmin_target.probe is not None, (
            "the conformance target has no probe: give ConformanceTarget(probe=...) a "
            "mailadmin.testing.probe.StateProbe that reads the mock's state, or the kit "
            "cannot tell a write that reached the platform from one that did not"
        )
