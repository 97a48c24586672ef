"""Issue 29.9's hostile inputs, through every face that takes them (Python, CLI, HTTP):
a CSV field past the csv module's limit, quantities in other scripts' digits, addresses
that name a path. Each is refused as bad input (exit 2, HTTP 422, ``ValidationError``)
and nothing reaches the platform."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailadmin import Orchestrator
from mailadmin.cli.commands import cli
from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, NewMailbox
from mailadmin.mock import MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock

CONFIG = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2

[addons.mailboxes]
[addons.storage_gb]

[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
retries = 0
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}

[tenants."example.com"]
instance = "eu"

[journal]
url = "sqlite:///{folder}/store.sqlite"
"""
#: Twelve in Arabic-Indic, Extended Arabic-Indic, Devanagari and full-width digits.
FOREIGN_DIGITS = ("\u0661\u0662", "\u06f1\u06f2", "\u0967\u0968", "\uff11\uff12")
PATH_ADDRESSES = ("../../u0@example.com", "..\\u0@example.com", "u0/../admin@example.com")


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def config(tmp_path: Path, server: MockServer) -> Iterator[Path]:
    set_registry(Registry(load=["reference"], disable=[]))
    with serve(server) as url:
        path = tmp_path / "mailadmin.toml"
        path.write_text(CONFIG.format(endpoint=url, folder=tmp_path), encoding="utf-8")
        yield path
    set_registry(None)


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_csv_field_past_the_limit_exits_2_naming_the_line(
    config: Path, server: MockServer, tmp_path: Path
) -> None:
    plan_file = tmp_path / "changes.csv"
    plan_file.write_text(
        "address,plan\nanna@example.com,sync\n" + "x" * 131_073 + "@example.com,sync\n"
    )
    code, out = _cli(config, "set-plan", "--file", str(plan_file))
    assert code == 2, out
    assert "line 3" in out and "131,072 characters" in out and "nothing was sent" in out
    assert "Traceback" not in out and "unexpected" not in out.lower()
    assert server.writes() == []


def test_foreign_digits_are_refused_as_quantities_by_the_cli(
    config: Path, server: MockServer
) -> None:
    for digits in FOREIGN_DIGITS:
        code, out = _cli(config, "addon", "example.com", "storage_gb", digits)
        assert code == 2 and "digits 0-9" in out, (digits, out)
        code, out = _cli(config, "customers", "add", "example.com", "--package", f"x={digits}")
        assert code == 2 and "digits 0-9" in out, (digits, out)
    code, out = _cli(config, "addon", "example.com", "storage_gb", "12", "--dry-run")
    assert code == 0, out  # ASCII digits still work
    assert server.writes() == []


async def test_foreign_digits_are_refused_as_quantities_from_python(
    config: Path, server: MockServer
) -> None:
    from mailadmin.rules.tenancy import CustomerSpec

    async with Orchestrator.from_config(config) as orch:
        for digits in FOREIGN_DIGITS:
            with pytest.raises(errors.ValidationError):
                await orch.apply_addon("example.com", "storage_gb", digits)  # type: ignore[arg-type]
            with pytest.raises(ValueError):
                CustomerSpec(package={"user_mailboxes": digits})  # type: ignore[dict-item]
    assert server.writes() == []


def test_path_addresses_are_refused_before_the_platform_by_the_cli(
    config: Path, server: MockServer
) -> None:
    for address in PATH_ADDRESSES:
        code, out = _cli(config, "set-plan", address, "sync")
        assert code == 2, (address, out)
    assert server.requests == []


async def test_path_addresses_are_refused_before_the_platform_from_python(
    config: Path, server: MockServer
) -> None:
    async with Orchestrator.from_config(config) as orch:
        for address in PATH_ADDRESSES:
            with pytest.raises(errors.ValidationError):
                await orch.set_plan(address, "sync")
            with pytest.raises(errors.ValidationError):
                await orch.delete_mailbox(address)
            with pytest.raises((errors.ValidationError, ValueError)):
                new = NewMailbox(address=address, kind=MailboxKind.USER)
                await orch.create_mailbox("example.com", new)
    assert server.requests == []


@asynccontextmanager
async def _http(config: Path) -> AsyncIterator[httpx.AsyncClient]:
    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import SITE_ADMIN

    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_config(config)
        return holder["orch"]

    app = create_app(orchestrator=factory)
    async with app.router.lifespan_context(app):
        key = ApiKeys(holder["orch"].rules.store).create(SITE_ADMIN).key
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", headers=headers
        ) as client:
            yield client


async def test_foreign_digits_and_path_addresses_are_refused_over_http(
    config: Path, server: MockServer
) -> None:
    answers: list[tuple[str, Any]] = []
    async with _http(config) as http:
        for digits in FOREIGN_DIGITS:
            answers.append(
                (
                    f"add-on {digits}",
                    await http.put(
                        "/v1/customers/example.com/addons/storage_gb", json={"quantity": digits}
                    ),
                )
            )
        for address in PATH_ADDRESSES:
            body = {"address": address, "kind": "user"}
            answers.append(
                (
                    f"create {address}",
                    await http.post("/v1/customers/example.com/mailboxes", json=body),
                )
            )
        # In the path, a backslash travels as %5C and reaches the route.
        answers.append(
            (
                "plan ..\\u0",
                await http.put("/v1/mailboxes/..%5Cu0@example.com/plan", json={"plan": "sync"}),
            )
        )
    for what, answer in answers:
        assert answer.status_code == 422, (what, answer.text)
        assert json.loads(answer.text)["code"] == "validation", what
    assert server.requests == []
