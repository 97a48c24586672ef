"""pytest plugin of the mailadmin conformance kit, loaded through the ``pytest11`` entry point.

It gives every test session, with no set-up by the plugin author:

- ``mailadmin_harness``: the ``mailadmin_target`` fixture's provider connected to its mock,
  once per mode (``in-process`` and ``server``);
- the ``mailadmin_capability`` marker (set by :func:`mailadmin.testing.requires`): a test
  needing a feature the provider does not declare is skipped with the declared reason;
- ``--mailadmin-mode=in-process|server`` to run one mode only, and
  ``--mailadmin-require-all-suites`` (or the ini option ``mailadmin_require_all_suites``)
  to fail a run that uses a target but leaves any suite out.

Nothing heavy is imported until a test asks for the kit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness
    from mailadmin.testing.servers import ServerPool
    from mailadmin.testing.target import ConformanceTarget

_MODES = ("in-process", "server")
_TARGET = "mailadmin_target"
_MODE = "mailadmin_mode"
_REQUIRE_ALL = "mailadmin_require_all_suites"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the conformance kit."""
    group = parser.getgroup("mailadmin", "mailadmin conformance kit")
    group.addoption(
        "--mailadmin-mode",
        action="append",
        choices=_MODES,
        dest="mailadmin_modes",
        help="Run the conformance suites in this mode only (repeatable; default: both).",
    )
    group.addoption(
        "--mailadmin-require-all-suites",
        action="store_true",
        dest=_REQUIRE_ALL,
        help="Fail when a conformance target is used but some suite is not collected.",
    )
    parser.addini(
        _REQUIRE_ALL,
        type="bool",
        default=False,
        help="Fail when a conformance target is used but some suite is not collected.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers the kit uses."""
    config.addinivalue_line(
        "markers",
        "mailadmin_capability(*keys): the test needs these declared provider features; "
        "it is skipped with the provider's reason when one is unsupported",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that talks to a mock once per mode."""
    if _MODE in metafunc.fixturenames:
        modes = metafunc.config.getoption("mailadmin_modes") or list(_MODES)
        modes = [m for m in _MODES if m in modes]
        metafunc.parametrize(_MODE, modes, ids=modes)


@pytest.fixture(scope="session")
def mailadmin_server_pool() -> Iterator[ServerPool]:
    """Mock servers on loopback, one per platform, shared by the session's tests."""
    from mailadmin.testing.servers import ServerPool

    pool = ServerPool()
    yield pool
    pool.close()


def _harness_setup(
    request: pytest.FixtureRequest, target: ConformanceTarget, mode: str, pool: ServerPool
) -> Harness:
    from mailadmin.testing.harness import open_harness, skip_reason
    from mailadmin.testing.requirements import feature_keys

    harness = open_harness(target, mode, pool)
    # The instance's capabilities: settings may narrow what the class declares. Nothing
    # is connected yet, so a skip here leaves nothing open.
    capabilities = harness.capabilities
    for key in feature_keys(request.node):
        if not capabilities.supports(key):
            pytest.skip(skip_reason(target.provider.name, key, capabilities))
    return harness


try:
    import pytest_asyncio
except ImportError:  # the kit needs it; say so when a test asks for the harness

    @pytest.fixture(name="mailadmin_harness")
    def _no_harness() -> None:
        """Unavailable: the kit needs pytest-asyncio."""
        pytest.fail(
            "The mailadmin conformance kit needs pytest-asyncio: pip install 'mailadmin[test]'",
            pytrace=False,
        )

else:

    @pytest_asyncio.fixture(loop_scope="function")
    async def mailadmin_harness(
        request: pytest.FixtureRequest,
        mailadmin_target: ConformanceTarget,
        mailadmin_mode: str,
        mailadmin_server_pool: ServerPool,
    ) -> AsyncIterator[Harness]:
        """The target's provider connected to its mock in one mode, closed afterwards."""
        harness = _harness_setup(request, mailadmin_target, mailadmin_mode, mailadmin_server_pool)
        try:
            yield harness
        finally:
            await harness.aclose()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """With ``--mailadmin-require-all-suites``: refuse a run that leaves a suite out.

    Runs that name single tests (``file.py::Class::test``) are left alone; ``-k`` and
    ``-m`` select after this check, so they do not hide a missing suite.
    """
    if not (config.getoption(_REQUIRE_ALL) or config.getini(_REQUIRE_ALL)):
        return
    if any("::" in str(arg) for arg in config.args):
        return  # single tests picked by node id: a deliberate partial run
    users = [item for item in items if _TARGET in getattr(item, "fixturenames", ())]
    if not users:
        return
    from mailadmin.testing.suite import SUITES

    classes = {getattr(item, "cls", None) for item in users}
    present = {s for s in SUITES for cls in classes if isinstance(cls, type) and issubclass(cls, s)}
    missing = [s.__name__ for s in SUITES if s not in present]
    if missing:
        raise pytest.UsageError(
            "mailadmin conformance: these suites are not run against the target: "
            + ", ".join(missing)
            + " (subclass mailadmin.testing.suite.ConformanceSuite to run them all)"
        )
