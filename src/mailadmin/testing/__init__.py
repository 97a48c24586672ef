"""The conformance kit: the suites every provider plugin runs against its own mock.

A plugin author writes one fixture and one line::

    import pytest
    from mailadmin.testing import ConformanceTarget, suite

    @pytest.fixture
    def mailadmin_target() -> ConformanceTarget:
        return ConformanceTarget(
            provider=MyProvider, mock=MyMock,
            settings=lambda url: {"endpoint": url, "credentials": {...}, "plans": {...}},
            tenant="example.com", mailbox="anna@example.com", plans=("mail", "sync"),
            probe=MyProbe(),   # reads the mock's state: see mailadmin.testing.probe
        )

    class TestConformance(suite.ConformanceSuite):
        pass

The kit's pytest plugin (entry point ``pytest11``) runs each test in process and against
the mock served on loopback, and reports every feature the provider declares unsupported
as a skip carrying the declared reason. See ``docs/plugin-authors.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.testing.harness import MODES, Harness
    from mailadmin.testing.probe import StateProbe
    from mailadmin.testing.requirements import requires
    from mailadmin.testing.suite import ConformanceSuite, all_suites
    from mailadmin.testing.target import ConformanceTarget

__all__ = [
    "MODES",
    "ConformanceSuite",
    "ConformanceTarget",
    "Harness",
    "Orchestrator",
    "StateProbe",
    "all_suites",
    "requires",
    "suite",
]

_LAZY = {
    "MODES": "mailadmin.testing.harness",
    "Harness": "mailadmin.testing.harness",
    "requires": "mailadmin.testing.requirements",
    "ConformanceSuite": "mailadmin.testing.suite",
    "all_suites": "mailadmin.testing.suite",
    "ConformanceTarget": "mailadmin.testing.target",
    "StateProbe": "mailadmin.testing.probe",
    # The core's orchestrator, so a plugin's own tests drive it end to end without
    # importing the core's inner modules.
    "Orchestrator": "mailadmin.orchestration.orchestrator",
}


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name == "suite":
        return import_module("mailadmin.testing.suite")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mailadmin.testing' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
