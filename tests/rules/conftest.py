"""Stores for the business-rules tests: SQLite always, PostgreSQL when a server answers.

The PostgreSQL server is ``MAILADMIN_TEST_POSTGRES_URL`` or the CI machines' one at
127.0.0.1:5432 (user postgres, trust authentication, database test). Each test gets its own
schema, dropped afterwards, so runs never collide. Without a server the PostgreSQL cases
skip with the reason shown; under ``CI=true`` a missing server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    return os.environ.get("MAILADMIN_TEST_POSTGRES_URL") or DEFAULT_POSTGRES


def _unavailable(url: str) -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as db:
            db.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any driver or network failure means "not available"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    url = postgres_url()
    problem = _unavailable(url)
    if problem is not None:
        message = f"PostgreSQL at {url} does not answer ({problem})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI=true requires it")
        pytest.skip(message + "; set MAILADMIN_TEST_POSTGRES_URL to test on another server")
    return url


@pytest.fixture
def postgres_schema_url(postgres_server: str) -> Iterator[str]:
    """A URL whose search path is a fresh schema, dropped after the test."""
    import sqlalchemy as sa

    schema = f"mailadmin_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server)
    with admin.begin() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as db:
        db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database URL of each supported kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailadmin.sqlite'}"
    return str(request.getfixturevalue("postgres_schema_url"))


# -- every installed platform, through the orchestrator -----------------------------------------


class Platform:
    """One installed provider's mock behind an orchestrator, with what its demo names."""

    def __init__(self, name: str, orch, server, tenant: str, users: list[str], router=None) -> None:
        self.name = name
        self.orch = orch
        self.server = server
        self.router = router  # the respx router every request of ``orch`` goes through
        self.tenant = tenant
        self.users = users  # user mailboxes of ``tenant`` on their demo's start plan

    def writes(self) -> list:
        return self.server.writes()

    @property
    def capabilities(self):
        provider = self.orch.provider(self.orch.instances[0])
        return getattr(provider, "instance_capabilities", provider.capabilities)

    def settable_addon(self) -> tuple[str, str]:
        """An add-on whose total this platform (or the orchestrator for it) holds, and the
        resource it raises: ``("mailboxes", "user_mailboxes")`` where seats can be set."""
        from mailadmin.rules.allocations import KEPT_ADDONS

        for addon, resource in (
            ("mailboxes", "user_mailboxes"),
            ("shared_mailbox", "shared_mailboxes"),
            ("resource_mailbox", "resource_mailboxes"),
        ):
            if self.capabilities.supports(f"addon:{addon}") or addon in KEPT_ADDONS:
                return addon, resource
        raise AssertionError(f"{self.name} holds no add-on total")


OTHER = "other.test"  # a configured tenant of nobody's reseller; never reached


def _platform_names() -> list[str]:
    from mailadmin.orchestration.registry import get_registry

    return sorted(
        name
        for name, entry in get_registry().providers().items()
        if entry.demo is not None and entry.mock is not None
    )


def platform_config(scenario, instance: str, journal_url: str, **extra) -> dict:
    from mailadmin.cli.demo import CATALOGUE

    tenants = {name: {**table, "instance": instance} for name, table in scenario.tenants.items()}
    tenants[OTHER] = {"instance": instance, "domains": [OTHER]}
    return {
        **CATALOGUE,
        "instances": {instance: {**scenario.instance, "endpoint": f"http://{instance}.test"}},
        "tenants": tenants,
        "journal": {"url": journal_url},
        **extra,
    }


@pytest.fixture(params=_platform_names())
async def platform(request: pytest.FixtureRequest, tmp_path):
    """Each installed platform that ships a mock and a demo, in turn (memory, ox, ...)."""
    from mailadmin import Orchestrator
    from mailadmin.cli.demo import DemoScenario
    from mailadmin.mock import MockServer
    from mailadmin.orchestration.registry import get_registry

    name = request.param
    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    instance = f"{name}-test"
    extra = getattr(request, "param_extra", {})
    config = platform_config(scenario, instance, f"sqlite:///{tmp_path / 'store.sqlite'}", **extra)
    tenant = next(iter(scenario.tenants))
    users = [address for address, _ in scenario.upgrades]
    router = server.router(f"http://{instance}.test")
    async with Orchestrator.from_dict(
        config, registry=get_registry(), http={instance: router}
    ) as orch:
        yield Platform(name, orch, server, tenant, users, router)
