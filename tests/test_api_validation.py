"""The Python API refuses bad input with ValidationError, and its results agree."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.models import MailboxRef, NewMailbox, TenantRef
from mailadmin.mock import MockServer
from mailadmin.orchestration.registry import Registry
from mailadmin.orchestration.sync import SyncOrchestrator
from mailadmin.reference.mock import MemoryMock

BASE = "http://memory.test"


def config(mail_quota: int = 2048) -> dict[str, Any]:
    return {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "addons": {"shared_mailbox": {}, "mailboxes": {}, "storage_gb": {}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": BASE,
                "credentials": {"username": "admin", "secret": "secret"},
                "plans": {
                    "mail": {"native": "basic", "quota_mb": mail_quota},
                    "sync": {"native": "standard", "quota_mb": 5120},
                    "collaborate": {"native": "premium", "quota_mb": 10240},
                },
                "retries": 0,
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": "sqlite://"},
    }


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
async def orch(server: MockServer):
    registry = Registry(load=["reference"], disable=[])
    async with Orchestrator.from_dict(
        config(), registry=registry, http={"eu": server.router(BASE)}
    ) as orchestrator:
        yield orchestrator


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("set_plan", ("anna@example.com", None)),
        ("set_plan", (123, "sync")),
        ("set_plan", (None, "sync")),
        ("count_mailboxes", (None,)),
        ("count_mailboxes", (42,)),
        ("list_mailboxes", (None,)),
        ("apply_addon", ("example.com", None, 1)),
        ("apply_addon", (None, "shared_mailbox", 1)),
        ("apply_addon", ("example.com", "shared_mailbox", "5")),
        ("apply_addon", ("example.com", "shared_mailbox", 1.5)),
        ("apply_addon", ("example.com", "shared_mailbox", True)),
        ("apply_addon", ("example.com", "shared_mailbox", -1)),
        ("apply_addon", ("example.com", "shared_mailbox", 2**31)),
        ("apply_addon", ("example.com", "mailboxes", 99999999999999999999)),
        ("get_licence", (None,)),
        ("delete_mailbox", (None,)),
        ("create_mailbox", ("example.com", {"address": "x@example.com"})),
    ],
)
async def test_wrong_types_and_ranges_raise_validation_error_and_send_nothing(
    orch: Orchestrator, server: MockServer, call: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(errors.ValidationError):
        await getattr(orch, call)(*args)
    assert server.writes() == []


@pytest.mark.parametrize(
    "address",
    ["a\x1bb@example.com", "a\x00b@example.com", "a\u202eb@example.com", "x" * 65 + "@example.com"],
)
async def test_addresses_with_control_characters_or_long_local_parts_are_refused(
    orch: Orchestrator, server: MockServer, address: str
) -> None:
    with pytest.raises(errors.ValidationError):
        await orch.set_plan(address, "sync")
    with pytest.raises(ValueError):
        NewMailbox(address=address)
    with pytest.raises(ValueError):
        MailboxRef(tenant=TenantRef(name="example.com"), address=address)
    assert server.writes() == []


async def test_the_largest_quantity_is_accepted(orch: Orchestrator) -> None:
    # An add-on total is an allocation: 9,999 at most (seed 003), whatever the platform
    # could store; the next one is refused before anything is sent.
    result = await orch.apply_addon("example.com", "storage_gb", 9999, dry_run=True)
    assert result.after == 9999
    with pytest.raises(errors.PolicyDenied, match="the most is 9999"):
        await orch.apply_addon("example.com", "storage_gb", 10000, dry_run=True)


async def test_an_addon_result_names_the_addon_in_its_subject(orch: Orchestrator) -> None:
    held = await orch.apply_addon("example.com", "mailboxes", 20, dry_run=True)
    assert held.subject == "example.com mailboxes"


def test_the_cli_shows_the_dry_run_flag_of_every_result() -> None:
    from mailadmin.cli.tables import change_table
    from mailadmin.contract.models import ChangeResult, Outcome
    from mailadmin.orchestration.bulk import ItemResult

    results = [
        ChangeResult[str](
            operation="set_plan", subject=s, outcome=o, before="mail", after="sync", dry_run=d
        )
        for s, o, d in (("a@x.org", Outcome.UNCHANGED, True), ("b@x.org", Outcome.CHANGED, False))
    ]
    columns, rows = change_table([ItemResult[Any](key=r.subject, value=r) for r in results])
    assert [row[columns.index("dry run")] for row in rows] == [True, False]


async def test_a_quota_only_change_says_so_in_the_note(server: MockServer) -> None:
    registry = Registry(load=["reference"], disable=[])
    async with Orchestrator.from_dict(
        config(mail_quota=4096), registry=registry, http={"eu": server.router(BASE)}
    ) as orch:
        result = await orch.set_plan("anna@example.com", "mail")
    assert (result.before, result.after, result.outcome.value) == ("mail", "mail", "changed")
    assert "quota only" in result.note


async def test_a_missing_mailbox_names_the_mailbox_and_the_tenant(orch: Orchestrator) -> None:
    with pytest.raises(errors.NotFoundError) as caught:
        await orch.set_plan("ghost@example.com", "sync")
    assert "ghost@example.com" in caught.value.message
    assert "tenant example.com" in caught.value.message


def test_the_blocking_facade_offers_every_public_call_of_the_orchestrator() -> None:
    public = {n for n in dir(Orchestrator) if not n.startswith("_")}
    public |= {"config", "registry", "journal"}  # instance attributes
    assert public - {"aclose"} <= set(dir(SyncOrchestrator)) | {"aclose"}
    for name, member in inspect.getmembers(Orchestrator):
        if name.startswith("_") or not inspect.iscoroutinefunction(member):
            continue
        assert not inspect.iscoroutinefunction(getattr(SyncOrchestrator, name)), name


def test_the_blocking_facade_answers_instances_tenants_and_allocation_use(
    server: MockServer,
) -> None:
    registry = Registry(load=["reference"], disable=[])
    with SyncOrchestrator.from_dict(
        config(), registry=registry, http={"eu": server.router(BASE)}
    ) as mail:
        assert mail.instances == ["eu"] and mail.tenants == ["example.com"]
        counts = mail.count_mailboxes("example.com")
        assert mail.allocation_use(counts) == []
        assert mail.provider("eu").instance == "eu"
        assert mail.config.tenants["example.com"].instance == "eu"
