"""Passwords and suspensions through every face (Python, CLI, HTTP) on the OX, Zextras,
Exchange and memory mocks served on loopback, as the demo configures them; each write is
checked in the mock's own state, and the password is looked for where it must never be
(output, journal, database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.cli.demo import demo_config
from mailadmin.contract import errors
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.orchestration.registry import Registry, get_registry, set_registry

#: One user mailbox of each platform's demo tenant.
MAILBOX = {
    "ox": "anna@example.com",
    "zextras": "anna@example.org",
    "exchange": "anna@contoso.onmicrosoft.com",
    "memory": "anna@example.net",
    "mailcow": "anna@example.eu",
}
TENANT = {
    "ox": "example.com",
    "zextras": "example.org",
    "exchange": "contoso.onmicrosoft.com",
    "memory": "example.net",
    "mailcow": "example.eu",
}
#: Every platform's password rules accept it (Entra's complexity included).
PASSWORD = "Life-Cycle-2026!q"
PLATFORMS = sorted(MAILBOX)
TENANT_PLATFORMS = ["mailcow", "memory", "ox", "zextras"]


# -- the mocks' own state ------------------------------------------------------------------


class Platforms:
    """The demo's mocks on loopback and what each holds, read from ``/_mock/state``."""

    def __init__(self, config: dict[str, Any], endpoints: dict[str, str], folder: Path) -> None:
        self.config = config
        self.endpoints = endpoints
        self.folder = folder

    def state(self, platform: str) -> Any:
        return httpx.get(self.endpoints[f"{platform}-demo"] + "/_mock/state").json()

    def writes(self, platform: str) -> list[Any]:
        url = self.endpoints[f"{platform}-demo"] + "/_mock/requests?write=true"
        found: list[Any] = httpx.get(url).json()
        return found

    def clear(self, platform: str) -> None:
        httpx.delete(self.endpoints[f"{platform}-demo"] + "/_mock/requests")

    def password(self, platform: str, address: str) -> str:
        return str(self._user(platform, address)["password"])

    def suspended(self, platform: str, address: str) -> bool:
        user = self._user(platform, address)
        if platform == "ox":
            return user.get("mailenabled") is False
        if platform == "zextras":
            return user["attrs"].get("zimbraAccountStatus") in ("locked", ["locked"])
        if platform == "exchange":
            return user["account_enabled"] is False
        if platform == "mailcow":
            return int(user["active"]) == 0
        return user["status"] == "suspended"

    def tenant_suspended(self, platform: str, tenant: str) -> bool:
        state = self.state(platform)
        if platform == "ox":
            return next(c for c in state["contexts"] if c["name"] == tenant)["enabled"] is False
        if platform == "zextras":
            domain = next(d for d in state["domains"] if d["name"] == tenant)
            return domain["attrs"].get("zimbraDomainStatus") in ("suspended", ["suspended"])
        if platform == "mailcow":
            return int(state["domains"][tenant]["active"]) == 0
        return state["tenants"][tenant]["status"] == "suspended"

    def _user(self, platform: str, address: str) -> Any:
        state = self.state(platform)
        if platform == "ox":
            users = [u for c in state["contexts"] for u in c["users"]]
            return next(u for u in users if u.get("primaryEmail") == address)
        if platform == "zextras":
            return next(a for a in state["accounts"] if a["name"] == address)
        if platform == "exchange":
            return next(iter(state["tenants"].values()))["mailboxes"][address]
        if platform == "mailcow":
            return state["mailboxes"][address]
        tenant = address.partition("@")[2]
        return next(m for m in state["tenants"][tenant]["mailboxes"] if m["address"] == address)

    def database_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.folder.glob("journal.sqlite*"))


@pytest.fixture
def registry() -> Iterator[Registry]:
    set_registry(None)
    registry = get_registry()
    for name in ("ox", "zextras", "exchange"):
        if name not in registry.providers():
            pytest.skip(f"the {name} plugin is not installed")
    yield registry
    set_registry(None)


@pytest.fixture
def platforms(registry: Registry, tmp_path: Path) -> Iterator[Platforms]:
    with demo_config(registry, tmp_path) as (config, _, endpoints):
        yield Platforms(config, endpoints, tmp_path)


def _orchestrate(platforms: Platforms, work: Callable[[Orchestrator], Any]) -> Any:
    async def go() -> Any:
        async with Orchestrator.from_dict(platforms.config) as orch:
            return await work(orch)

    return asyncio.run(go())


# -- Python -----------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_set_password_lands_on_the_platform_and_nowhere_else(
    platforms: Platforms, platform: str
) -> None:
    address = MAILBOX[platform]
    before = platforms.password(platform, address)

    async def dry(orch: Orchestrator) -> Any:
        return await orch.set_password(address, PASSWORD, dry_run=True)

    preview = _orchestrate(platforms, dry)
    assert preview.dry_run and platforms.password(platform, address) == before

    async def work(orch: Orchestrator) -> Any:
        result = await orch.set_password(address, PASSWORD)
        assert orch.journal is not None
        return result, orch.journal.entries()

    result, entries = _orchestrate(platforms, work)
    assert result.outcome.value == "changed" and PASSWORD not in result.model_dump_json()
    assert platforms.password(platform, address) == PASSWORD
    row = next(e for e in entries if e.operation == "set_password" and not e.dry_run)
    assert row.status == "done" and row.arguments["password"] == "**********"
    assert PASSWORD.encode() not in platforms.database_bytes()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_suspend_and_resume_a_mailbox(platforms: Platforms, platform: str) -> None:
    address = MAILBOX[platform]

    async def suspend(orch: Orchestrator) -> Any:
        await orch.suspend_mailbox(address, reason="non-payment", dry_run=True)
        assert not platforms.suspended(platform, address), "a dry run suspended it"
        done = await orch.suspend_mailbox(address, reason="non-payment")
        again = await orch.suspend_mailbox(address, reason="non-payment")
        assert orch.journal is not None
        return done, again, orch.journal.entries()

    done, again, entries = _orchestrate(platforms, suspend)
    assert (done.before, done.after, again.outcome.value) == ("active", "suspended", "unchanged")
    assert platforms.suspended(platform, address)
    assert platforms.password(platform, address) is not None  # still there: nothing deleted
    row = next(e for e in entries if e.operation == "suspend_mailbox" and e.outcome == "changed")
    assert row.arguments["reason"] == "non-payment"

    async def resume(orch: Orchestrator) -> Any:
        return await orch.resume_mailbox(address, reason="paid")

    resumed = _orchestrate(platforms, resume)
    assert (resumed.before, resumed.after) == ("suspended", "active")
    assert not platforms.suspended(platform, address)


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_suspend_and_resume_a_tenant(platforms: Platforms, platform: str) -> None:
    tenant = TENANT[platform]

    async def work(orch: Orchestrator) -> Any:
        preview = await orch.suspend_tenant(tenant, dry_run=True)
        assert preview.dry_run and not platforms.tenant_suspended(platform, tenant)
        done = await orch.suspend_tenant(tenant, reason="non-payment")
        assert platforms.tenant_suspended(platform, tenant)
        counted = await orch.count_mailboxes(tenant)
        back = await orch.resume_tenant(tenant, reason="paid")
        return done, counted, back

    done, counted, back = _orchestrate(platforms, work)
    assert (done.before, done.after) == ("active", "suspended")
    assert counted.total > 0, "a suspension deleted mailboxes"
    assert (back.before, back.after) == ("suspended", "active")
    assert not platforms.tenant_suspended(platform, tenant)


def test_exchange_refuses_a_tenant_suspension_before_sending(platforms: Platforms) -> None:
    platforms.clear("exchange")

    async def work(orch: Orchestrator) -> Any:
        return await orch.suspend_tenant(TENANT["exchange"])

    with pytest.raises(errors.UnsupportedOperation, match="no switch that stops all its users"):
        _orchestrate(platforms, work)
    assert platforms.writes("exchange") == []


@pytest.mark.parametrize("platform", ["ox", "zextras"])
def test_a_customer_cannot_reach_another_customers_mailbox(
    platforms: Platforms, platform: str
) -> None:
    other = "example.net"  # the memory platform's tenant
    platforms.clear(platform)

    async def work(orch: Orchestrator) -> Any:
        with orch.acting_as(f"customer:{other}"):
            with pytest.raises(errors.PolicyDenied):
                await orch.suspend_mailbox(MAILBOX[platform])
            with pytest.raises(errors.PolicyDenied):
                await orch.set_password(MAILBOX[platform], PASSWORD)

    _orchestrate(platforms, work)
    assert platforms.writes(platform) == []
    assert not platforms.suspended(platform, MAILBOX[platform])


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_only_the_host_or_the_reseller_suspends_and_resumes(
    platforms: Platforms, platform: str
) -> None:
    """A customer admin sets its users' passwords, but never lifts (or sets) a suspension:
    a customer suspended for non-payment must not resume itself. Its reseller may."""
    tenant, address = TENANT[platform], MAILBOX[platform]
    platforms.config["resellers"] = {"acme": {"package": {"user_mailboxes": 500}}}
    platforms.config["customers"] = {tenant: {"reseller": "acme"}}

    async def work(orch: Orchestrator) -> Any:
        await orch.suspend_tenant(tenant, reason="non-payment")
        platforms.clear(platform)
        with orch.acting_as(f"customer:{tenant}"):
            for call in (
                orch.resume_tenant(tenant),
                orch.suspend_mailbox(address),
                orch.resume_mailbox(address),
            ):
                with pytest.raises(errors.PolicyDenied, match="site admin or the customer's"):
                    await call
            assert platforms.writes(platform) == []
            await orch.set_password(address, PASSWORD)
        with orch.acting_as("reseller:acme"):
            return await orch.resume_tenant(tenant, reason="paid")

    resumed = _orchestrate(platforms, work)
    assert resumed.after == "active" and not platforms.tenant_suspended(platform, tenant)
    assert platforms.password(platform, address) == PASSWORD


@pytest.mark.parametrize(
    ("platform", "weak", "says"),
    [
        ("zextras", "Ab1!x", "password rules"),
        ("exchange", "alllowercase", "three of lower case"),
        ("memory", "Ab1!x", "too short"),
    ],
)
def test_a_password_the_platform_refuses_is_a_clear_validation_error(
    platforms: Platforms, platform: str, weak: str, says: str
) -> None:
    address = MAILBOX[platform]
    before = platforms.password(platform, address)

    async def work(orch: Orchestrator) -> Any:
        return await orch.set_password(address, weak)

    with pytest.raises(errors.ValidationError, match=says) as caught:
        _orchestrate(platforms, work)
    assert weak not in caught.value.message and weak not in json.dumps(caught.value.debug)
    assert platforms.password(platform, address) == before


def test_bad_passwords_are_refused_before_anything_is_sent(platforms: Platforms) -> None:
    platforms.clear("ox")
    for bad in ("", "line\nbreak", "x" * 129, 1234):

        async def work(orch: Orchestrator, bad: Any = bad) -> Any:
            return await orch.set_password(MAILBOX["ox"], bad)

        with pytest.raises(errors.ValidationError):
            _orchestrate(platforms, work)
    assert platforms.writes("ox") == []


def test_an_open_set_password_row_is_settled_failed_by_resume(platforms: Platforms) -> None:
    """The journal never holds the password, so resume cannot repeat it: it says so."""
    from mailadmin.contract.provider import CallInfo

    async def work(orch: Orchestrator) -> Any:
        journal = orch.journal
        assert journal is not None
        provider, ref = orch.mailbox(MAILBOX["ox"])
        info = CallInfo(
            provider.instance, provider.name, "set_password", {"mailbox": ref, "password": "x"}
        )
        await journal.write(journal.intent(info, identity="site-admin"))
        outcome = await orch.resume()
        return outcome, journal.entries()

    outcome, entries = _orchestrate(platforms, work)
    row = next(e for e in entries if e.operation == "set_password")
    assert row.outcome == "failed" and "set it again" in (row.error_message or "")
    assert row.arguments["password"] == "**********"
    assert outcome is not None


# -- CLI --------------------------------------------------------------------------------------


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars, tables = [], []
    for key, value in data.items():
        if value is None:
            continue
        name = json.dumps(key)
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            tables.append(_toml(value, f"{prefix}{name}."))
        else:
            scalars.append(f"{name} = {_inline(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return head + "\n".join(scalars) + "\n\n" + "".join(tables)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return json.dumps(value)


Run = Callable[..., Any]


@pytest.fixture
def run(platforms: Platforms) -> Run:
    path = platforms.folder / "mailadmin.toml"
    path.write_text(_toml(platforms.config))

    def invoke(*args: str, expect: int = 0, stdin: str | None = None) -> Any:
        result = CliRunner().invoke(cli, ["--config", str(path), *args], input=stdin)
        assert result.exit_code == expect, (result.stdout, result.stderr)
        assert PASSWORD not in result.stdout + result.stderr
        return result

    return invoke


@pytest.mark.parametrize("platform", ["mailcow", "memory", "ox", "zextras"])
def test_cli_creates_a_mailbox_with_a_password_from_stdin(
    run: Run, platforms: Platforms, platform: str
) -> None:
    address = "newbie@" + TENANT[platform]
    run("mailbox", "create", address, "--password-stdin", stdin=PASSWORD + "\n")
    assert platforms.password(platform, address) == PASSWORD


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_sets_a_password_from_stdin_or_a_file(
    run: Run, platforms: Platforms, platform: str
) -> None:
    address = MAILBOX[platform]
    run("mailbox", "password", address, "--password-stdin", stdin=PASSWORD + "\n")
    assert platforms.password(platform, address) == PASSWORD
    secret = platforms.folder / "pw.txt"
    secret.write_text("Other-Pass-2026!z\n")
    shown = run("--json", "mailbox", "password", address, "--password-file", str(secret))
    assert json.loads(shown.stdout)["operation"] == "set_password"
    assert "Other-Pass" not in shown.stdout
    assert platforms.password(platform, address) == "Other-Pass-2026!z"


def test_cli_refuses_a_password_it_cannot_read_safely(run: Run, platforms: Platforms) -> None:
    address = MAILBOX["ox"]
    before = platforms.password("ox", address)
    secret = platforms.folder / "pw.txt"
    secret.write_text(PASSWORD)
    both = run(
        "mailbox",
        "password",
        address,
        "--password-stdin",
        "--password-file",
        str(secret),
        expect=2,
        stdin=PASSWORD,
    )
    assert "one way" in both.stderr
    empty = run("mailbox", "password", address, "--password-stdin", expect=2, stdin="\n")
    assert "empty" in empty.stderr
    # CliRunner's stdin is no terminal: no prompt, a usage error naming the other ways.
    none = run("mailbox", "password", address, expect=2)
    assert "--password-stdin" in none.stderr
    plain = run("mailbox", "password", address, "--password", PASSWORD, expect=2)
    assert "No such option" in plain.stderr
    assert platforms.password("ox", address) == before


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_suspends_and_resumes_a_mailbox(run: Run, platforms: Platforms, platform: str) -> None:
    address = MAILBOX[platform]
    run("mailbox", "suspend", address, "--reason", "abuse", "--dry-run")
    assert not platforms.suspended(platform, address)
    shown = run("--json", "mailbox", "suspend", address, "--reason", "abuse")
    assert json.loads(shown.stdout)["after"] == "suspended"
    assert platforms.suspended(platform, address)
    run("mailbox", "resume", address)
    assert not platforms.suspended(platform, address)


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_cli_suspends_and_resumes_a_customer(run: Run, platforms: Platforms, platform: str) -> None:
    tenant = TENANT[platform]
    run("customers", "suspend", tenant, "--reason", "non-payment", "--dry-run")
    assert not platforms.tenant_suspended(platform, tenant)
    run("customers", "suspend", tenant, "--reason", "non-payment")
    assert platforms.tenant_suspended(platform, tenant)
    run("customers", "resume", tenant)
    assert not platforms.tenant_suspended(platform, tenant)


def test_cli_an_exchange_customer_suspension_is_a_usage_error(run: Run) -> None:
    refused = run("customers", "suspend", TENANT["exchange"], expect=2)
    assert "suspend each mailbox" in refused.stderr


# -- HTTP -------------------------------------------------------------------------------------


@pytest.fixture
def http(platforms: Platforms) -> Iterator[Callable[[str | None], Any]]:
    from fastapi.testclient import TestClient

    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity

    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_dict(platforms.config)
        return holder["orch"]

    with TestClient(create_app(orchestrator=factory)) as client:
        keys = ApiKeys(holder["orch"].rules.store)

        def as_(identity: str | None = "site-admin") -> Any:
            if identity is not None:
                key = keys.create(Identity.parse(identity), "test").key
                client.headers["Authorization"] = f"Bearer {key}"
            return client

        yield as_


@pytest.mark.parametrize("platform", PLATFORMS)
def test_http_sets_a_password_and_keeps_nothing_of_it(
    http: Callable[[str | None], Any], platforms: Platforms, platform: str
) -> None:
    client = http("site-admin")
    address = MAILBOX[platform]
    url = f"/v1/mailboxes/{address}/password"
    preview = client.put(url, params={"dry_run": "true"}, json={"password": PASSWORD})
    assert preview.status_code == 200 and preview.json()["dry_run"] is True
    assert platforms.password(platform, address) != PASSWORD
    answer = client.put(url, json={"password": PASSWORD}, headers={"Idempotency-Key": "pw-1"})
    assert answer.status_code == 200, answer.text
    assert PASSWORD not in answer.text
    assert platforms.password(platform, address) == PASSWORD
    assert PASSWORD.encode() not in platforms.database_bytes()


def test_http_a_refused_password_is_a_422_that_does_not_show_it(
    http: Callable[[str | None], Any], platforms: Platforms
) -> None:
    client = http("site-admin")
    answer = client.put(
        f"/v1/mailboxes/{MAILBOX['exchange']}/password", json={"password": "weakweak"}
    )
    assert answer.status_code == 422, answer.text
    assert "weakweak" not in answer.text and "three of lower case" in answer.json()["detail"]
    extra = client.put(f"/v1/mailboxes/{MAILBOX['ox']}/password", json={"pw": "x"})
    assert extra.status_code == 422


@pytest.mark.parametrize("platform", PLATFORMS)
def test_http_suspends_and_resumes_a_mailbox(
    http: Callable[[str | None], Any], platforms: Platforms, platform: str
) -> None:
    client = http("site-admin")
    address = MAILBOX[platform]
    done = client.post(f"/v1/mailboxes/{address}/suspend", json={"reason": "abuse"})
    assert done.status_code == 200, done.text
    assert done.json()["after"] == "suspended" and platforms.suspended(platform, address)
    back = client.post(f"/v1/mailboxes/{address}/resume")
    assert back.status_code == 200 and not platforms.suspended(platform, address)


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_http_suspends_and_resumes_a_customer(
    http: Callable[[str | None], Any], platforms: Platforms, platform: str
) -> None:
    client = http("site-admin")
    tenant = TENANT[platform]
    preview = client.post(f"/v1/customers/{tenant}/suspend", params={"dry_run": "true"})
    assert preview.status_code == 200 and not platforms.tenant_suspended(platform, tenant)
    done = client.post(f"/v1/customers/{tenant}/suspend", json={"reason": "non-payment"})
    assert done.status_code == 200, done.text
    assert platforms.tenant_suspended(platform, tenant)
    back = client.post(f"/v1/customers/{tenant}/resume", json={"reason": "paid"})
    assert back.status_code == 200 and not platforms.tenant_suspended(platform, tenant)


def test_http_exchange_customer_suspension_is_422_unsupported(
    http: Callable[[str | None], Any],
) -> None:
    answer = http("site-admin").post(f"/v1/customers/{TENANT['exchange']}/suspend")
    assert answer.status_code == 422 and answer.json()["code"] == "unsupported"


def test_http_a_customer_cannot_suspend_another_customers_mailbox(
    http: Callable[[str | None], Any], platforms: Platforms
) -> None:
    platforms.clear("ox")
    answer = http("customer:example.net").post(f"/v1/mailboxes/{MAILBOX['ox']}/suspend")
    assert answer.status_code == 403, answer.text
    assert platforms.writes("ox") == [] and not platforms.suspended("ox", MAILBOX["ox"])


# -- a suspended tenant is sold nothing ---------------------------------------------------------


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_a_suspended_tenant_refuses_plan_changes_addons_and_sales_before_sending(
    platforms: Platforms, platform: str
) -> None:
    tenant, address = TENANT[platform], MAILBOX[platform]
    platforms.config["customers"] = {tenant: {}}

    async def refused(orch: Orchestrator) -> list[errors.PolicyDenied]:
        await orch.suspend_tenant(tenant, reason="non-payment")
        before = platforms.state(platform)
        platforms.clear(platform)
        found = []
        for call in (
            lambda: orch.set_plan(address, "collaborate"),
            lambda: orch.set_plan(address, "collaborate", dry_run=True),
            lambda: orch.apply_addon(tenant, "mailboxes", 40),
            lambda: asyncio.to_thread(orch.rules.tenancy.sell, "customer", tenant, "mailboxes", 5),
            lambda: asyncio.to_thread(orch.rules.place_order, tenant, "seat_upgrade", {"add": 5}),
        ):
            with pytest.raises(errors.PolicyDenied) as denied:
                await call()
            found.append(denied.value)
        assert platforms.writes(platform) == [], "a refused call reached the platform"
        assert platforms.state(platform) == before
        assert orch.rules.tenancy.sales("customer", tenant) == []
        return found

    denials = _orchestrate(platforms, refused)
    for denial in denials:
        assert denial.reason == "tenant_suspended"
        assert f"'{tenant}' is suspended (non-payment)" in denial.message

    async def resumed(orch: Orchestrator) -> Any:
        await orch.resume_tenant(tenant, reason="paid")
        return await orch.set_plan(address, "collaborate")

    assert _orchestrate(platforms, resumed).after == "collaborate"


def test_a_refused_plan_change_of_a_suspended_tenant_is_journalled_as_refused(
    platforms: Platforms,
) -> None:
    tenant, address = TENANT["ox"], MAILBOX["ox"]

    async def work(orch: Orchestrator) -> Any:
        await orch.suspend_tenant(tenant, reason="abuse")
        with pytest.raises(errors.PolicyDenied):
            await orch.set_plan(address, "collaborate")
        assert orch.journal is not None
        return orch.journal.entries(limit=1)

    (row,) = _orchestrate(platforms, work)
    assert (row.operation, row.status, row.subject) == ("set_plan", "refused", address)


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_cli_a_suspended_customer_refuses_set_plan_and_addon_with_exit_3(
    run: Run, platforms: Platforms, platform: str
) -> None:
    tenant, address = TENANT[platform], MAILBOX[platform]
    run("customers", "suspend", tenant, "--reason", "non-payment")
    before = platforms.state(platform)
    platforms.clear(platform)
    plan = run("set-plan", address, "collaborate", expect=3)
    assert f"'{tenant}' is suspended (non-payment)" in plan.stderr
    addon = run("addon", tenant, "mailboxes", "40", expect=3)
    assert "is suspended" in addon.stderr
    assert platforms.writes(platform) == [] and platforms.state(platform) == before
    run("customers", "resume", tenant)
    run("set-plan", address, "collaborate")


def test_cli_usage_report_shows_a_suspended_customer(run: Run, platforms: Platforms) -> None:
    tenant = TENANT["zextras"]
    run("customers", "suspend", tenant, "--reason", "non-payment")
    shown = json.loads(run("--json", "report", "usage").stdout)
    status = {row["subscription"]: row["status"] for row in shown["rows"]}
    assert status[tenant] == "suspended"
    assert {s for t, s in status.items() if t != tenant and "reseller:" not in t} == {"active"}
    assert f"suspended: {tenant}" in run("report", "usage").stdout
    run("customers", "resume", tenant)
    shown = json.loads(run("--json", "report", "usage").stdout)
    assert {row["status"] for row in shown["rows"]} == {"active"}


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_http_a_suspended_customer_refuses_plan_and_addon_with_403(
    http: Callable[[str | None], Any], platforms: Platforms, platform: str
) -> None:
    client = http("site-admin")
    tenant, address = TENANT[platform], MAILBOX[platform]
    done = client.post(f"/v1/customers/{tenant}/suspend", json={"reason": "non-payment"})
    assert done.status_code == 200, done.text
    before = platforms.state(platform)
    platforms.clear(platform)
    plan = client.put(f"/v1/mailboxes/{address}/plan", json={"plan": "collaborate"})
    assert plan.status_code == 403, plan.text
    assert plan.json()["reason"] == "tenant_suspended" and "is suspended" in plan.json()["detail"]
    addon = client.put(f"/v1/customers/{tenant}/addons/mailboxes", json={"quantity": 40})
    assert addon.status_code == 403, addon.text
    assert platforms.writes(platform) == [] and platforms.state(platform) == before
    usage = client.get("/v1/reports/usage")
    assert usage.status_code == 200, usage.text
    rows = usage.json()["rows"] if isinstance(usage.json(), dict) else usage.json()
    assert {r["status"] for r in rows if r["subscription"] == tenant} == {"suspended"}


# -- customer and reseller records ---------------------------------------------------------------


def _journal(platforms: Platforms, operation: str) -> list[Any]:
    async def read(orch: Orchestrator) -> Any:
        assert orch.journal is not None
        return orch.journal.entries(operation=operation)

    found: list[Any] = _orchestrate(platforms, read)
    return found


def _with_reseller(platforms: Platforms, tenant: str) -> None:
    platforms.config["resellers"] = {
        "acme": {"package": {"user_mailboxes": 500}},
        "zeta": {"package": {"user_mailboxes": 500}},
    }
    platforms.config["customers"] = {tenant: {"reseller": "acme"}}


def test_a_customer_update_is_journalled_with_the_acting_identity(platforms: Platforms) -> None:
    tenant = TENANT["memory"]
    _with_reseller(platforms, tenant)

    async def work(orch: Orchestrator) -> Any:
        tenancy = orch.rules.tenancy
        with orch.acting_as("reseller:acme"):
            preview = await orch.update_customer(
                tenant, package={"user_mailboxes": 50}, dry_run=True
            )
            assert preview.dry_run and tenancy.customer(tenant).package == {}
            done = await orch.update_customer(tenant, package={"user_mailboxes": 50})
            with pytest.raises(errors.PolicyDenied, match="another reseller"):
                await orch.update_customer(tenant, reseller="zeta")
        with (
            orch.acting_as("reseller:zeta"),
            pytest.raises(errors.PolicyDenied, match="has no customer"),
        ):
            await orch.update_customer(tenant, package={"user_mailboxes": 1})
        with orch.acting_as(f"customer:{tenant}"), pytest.raises(errors.PolicyDenied):
            await orch.update_customer(tenant, package={"user_mailboxes": 900})
        moved = await orch.update_customer(tenant, reseller="zeta")
        return done, moved, tenancy.customer(tenant)

    done, moved, record = _orchestrate(platforms, work)
    assert done.before["package"] == {} and done.after["package"] == {"user_mailboxes": 50}
    assert (moved.before["reseller"], moved.after["reseller"]) == ("acme", "zeta")
    assert record.reseller == "zeta" and record.package == {"user_mailboxes": 50}
    rows = _journal(platforms, "update_customer")
    assert [(r.identity, r.status, r.subject) for r in rows] == [
        ("site-admin", "done", tenant),
        ("reseller:acme", "done", tenant),
    ]


@pytest.mark.parametrize("platform", TENANT_PLATFORMS)
def test_a_customer_with_mailboxes_is_not_removed(platforms: Platforms, platform: str) -> None:
    tenant = TENANT[platform]
    platforms.config["customers"] = {tenant: {}}
    before = platforms.state(platform)

    async def work(orch: Orchestrator) -> Any:
        with pytest.raises(errors.PolicyDenied) as refused:
            await orch.remove_customer(tenant)
        assert orch.rules.tenancy.customer(tenant) is not None
        return refused.value

    refused = _orchestrate(platforms, work)
    assert refused.reason == "has_mailboxes" and "still has" in refused.message
    assert platforms.state(platform) == before
    assert _journal(platforms, "remove_customer") == []


def test_a_customer_without_mailboxes_is_removed_and_journalled(platforms: Platforms) -> None:
    tenant = TENANT["memory"]
    platforms.config["customers"] = {tenant: {}}

    async def work(orch: Orchestrator) -> Any:
        for mailbox in await orch.list_mailboxes(tenant):
            await orch.delete_mailbox(mailbox.address)
        preview = await orch.remove_customer(tenant, dry_run=True)
        assert preview.dry_run and orch.rules.tenancy.customer(tenant) is not None
        done = await orch.remove_customer(tenant)
        return done, orch.rules.tenancy.customer(tenant)

    done, record = _orchestrate(platforms, work)
    assert record is None and done.after is None and done.before["name"] == tenant
    assert platforms.state("memory")["tenants"][tenant]["mailboxes"] == []
    (row,) = _journal(platforms, "remove_customer")
    assert (row.identity, row.status, row.subject) == ("site-admin", "done", tenant)


def test_a_reseller_is_updated_and_removed_only_once_it_has_no_customers(
    platforms: Platforms,
) -> None:
    tenant = TENANT["memory"]
    _with_reseller(platforms, tenant)

    async def work(orch: Orchestrator) -> Any:
        updated = await orch.update_reseller("acme", prepaid=True, package={"user_mailboxes": 9})
        with pytest.raises(errors.PolicyDenied) as refused:
            await orch.remove_reseller("acme")
        assert refused.value.reason == "has_customers"
        with orch.acting_as("reseller:acme"), pytest.raises(errors.PolicyDenied):
            await orch.remove_reseller("zeta")
        await orch.update_customer(tenant, reseller=None)
        removed = await orch.remove_reseller("acme")
        return updated, removed, orch.rules.tenancy.reseller("acme")

    updated, removed, record = _orchestrate(platforms, work)
    assert updated.after["prepaid"] is True and updated.after["package"] == {"user_mailboxes": 9}
    assert removed.after is None and record is None
    ops = [(r.operation, r.identity) for r in _journal(platforms, "remove_reseller")]
    assert ops == [("remove_reseller", "site-admin")]


def test_an_open_record_change_is_completed_by_journal_resume(platforms: Platforms) -> None:
    """The process stopped between the intent and the store change: resume applies it."""
    from mailadmin.contract.provider import CallInfo

    tenant = TENANT["memory"]
    platforms.config["customers"] = {tenant: {}}
    after = {"name": tenant, "reseller": None, "package": {"user_mailboxes": 7}, "renewal": None}

    async def work(orch: Orchestrator) -> Any:
        journal = orch.journal
        assert journal is not None
        arguments = {"name": tenant, "before": None, "after": after}
        info = CallInfo("memory-demo", "store", "update_customer", arguments)
        await journal.write(journal.intent(info, identity="site-admin"))
        assert orch.rules.tenancy.customer(tenant).package == {}
        resumed = await orch.resume()
        return resumed, orch.rules.tenancy.customer(tenant)

    resumed, record = _orchestrate(platforms, work)
    assert resumed.ok and record.package == {"user_mailboxes": 7}
    (row,) = _journal(platforms, "update_customer")
    assert row.status == "done" and row.resumed_from == "started"


def test_cli_updates_and_removes_records(run: Run, platforms: Platforms) -> None:
    tenant = TENANT["memory"]
    _with_reseller(platforms, tenant)
    (platforms.folder / "mailadmin.toml").write_text(_toml(platforms.config))
    shown = run("--json", "customers", "update", tenant, "--package", "user_mailboxes=40")
    assert json.loads(shown.stdout)["after"]["package"] == {"user_mailboxes": 40}
    preview = run("customers", "update", tenant, "--host", "--dry-run")
    assert "dry run" in preview.stdout
    refused = run("customers", "remove", tenant, expect=3)
    assert "still has" in refused.stderr
    refused = run("resellers", "remove", "acme", expect=3)
    assert "still has 1 customers" in refused.stderr
    run("customers", "update", tenant, "--host")
    run("resellers", "update", "acme", "--prepaid", "--package", "user_mailboxes=9")
    run("resellers", "remove", "acme")
    listed = json.loads(run("--json", "resellers", "list").stdout)
    assert [r["name"] for r in listed] == ["zeta"]
    run("--as", "reseller:zeta", "resellers", "remove", "zeta", expect=3)
    assert run("customers", "update", tenant, "--reseller", "x", "--host", expect=2)
    rows = [r.identity for r in _journal(platforms, "update_customer")]
    assert rows == ["site-admin", "site-admin"]


def test_http_updates_and_removes_records(
    http: Callable[[str | None], Any], platforms: Platforms
) -> None:
    tenant = TENANT["memory"]
    admin = http("site-admin")
    for name in ("acme", "zeta"):
        assert admin.post("/v1/resellers", json={"name": name}).status_code == 201
    added = admin.post("/v1/customers", json={"name": tenant, "reseller": "acme"})
    assert added.status_code == 201, added.text
    client = http("reseller:acme")
    patched = client.patch(f"/v1/customers/{tenant}", json={"package": {"user_mailboxes": 30}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["after"]["package"] == {"user_mailboxes": 30}
    moved = client.patch(f"/v1/customers/{tenant}", json={"reseller": "zeta"})
    assert moved.status_code == 403, moved.text
    refused = client.delete(f"/v1/customers/{tenant}")
    assert refused.status_code == 403 and refused.json()["reason"] == "has_mailboxes"
    admin = http("site-admin")  # the client's key is the admin's again
    to_host = admin.patch(f"/v1/customers/{tenant}", json={"reseller": None})
    assert to_host.status_code == 200 and to_host.json()["after"]["reseller"] is None
    assert http("reseller:acme").get(f"/v1/customers/{tenant}").status_code == 403
    admin = http("site-admin")
    preview = admin.delete("/v1/resellers/acme", params={"dry_run": "true"})
    assert preview.status_code == 200 and preview.json()["dry_run"] is True
    changed = admin.patch("/v1/resellers/acme", json={"may_oversell": True})
    assert changed.status_code == 200 and changed.json()["after"]["may_oversell"] is True
    assert admin.patch("/v1/resellers/acme", json={"bogus": 1}).status_code == 422
    assert admin.delete("/v1/resellers/acme").status_code == 200
    assert admin.get("/v1/resellers").json() == [
        r for r in admin.get("/v1/resellers").json() if r["name"] == "zeta"
    ]
    identities = [r.identity for r in _journal(platforms, "update_customer")]
    assert identities == ["site-admin", "reseller:acme"]


# -- tenants created and removed on their platform ----------------------------------------------

#: A tenant each platform does not hold yet (configured for the test).
NEW_TENANT = {
    "memory": "new.example.net",
    "mailcow": "new.example.eu",
    "zextras": "new.example.org",
    "ox": "new.example.com",
    "exchange": "new.contoso.example",
}
CREATE_PLATFORMS = ["mailcow", "memory", "zextras"]


def _new_tenant(platforms: Platforms, platform: str) -> str:
    tenant = NEW_TENANT[platform]
    platforms.config["tenants"][tenant] = {"instance": f"{platform}-demo"}
    return tenant


def _holds_tenant(platforms: Platforms, platform: str, tenant: str) -> bool:
    state = platforms.state(platform)
    if platform == "zextras":
        return any(d["name"] == tenant for d in state["domains"])
    if platform == "ox":
        return any(c["name"] == tenant for c in state["contexts"])
    if platform == "mailcow":
        return tenant in state["domains"]
    return tenant in state["tenants"]


def _mailbox_limit(platforms: Platforms, platform: str, tenant: str) -> int:
    """The new tenant's mailbox limit as the mock holds it (and, on Zimbra, its COS)."""
    state = platforms.state(platform)
    if platform == "zextras":
        domain = next(d for d in state["domains"] if d["name"] == tenant)
        return int(domain["attrs"]["zimbraDomainMaxAccounts"])
    if platform == "mailcow":
        return int(state["domains"][tenant]["mailboxes"])
    if platform == "ox":  # the demo runs in reseller mode: a context restriction
        context = next(c for c in state["contexts"] if c["name"] == tenant)
        return int(context["restrictions"]["Context.MaxUser"])
    return int(state["tenants"][tenant]["allocations"]["user_seats"])


@pytest.mark.parametrize("platform", CREATE_PLATFORMS)
def test_a_tenant_is_created_and_removed_with_its_customer_record(
    platforms: Platforms, platform: str
) -> None:
    platforms.config["resellers"] = {"acme": {}}
    tenant = _new_tenant(platforms, platform)

    async def work(orch: Orchestrator) -> Any:
        tenancy = orch.rules.tenancy
        preview = await orch.create_tenant(tenant, reseller="acme", dry_run=True)
        assert preview.dry_run and not _holds_tenant(platforms, platform, tenant)
        assert tenancy.customer(tenant) is None
        created = await orch.create_tenant(tenant, reseller="acme", plan="mail", max_mailboxes=25)
        assert _holds_tenant(platforms, platform, tenant)
        assert _mailbox_limit(platforms, platform, tenant) == 25
        if platform == "zextras":  # the plan's class of service is the domain's default
            state = platforms.state(platform)
            domain = next(d for d in state["domains"] if d["name"] == tenant)
            # The demo's plan "mail" is the class of service named "mail".
            cos = next(c for c in state["coses"] if c["name"] == "mail")
            assert domain["attrs"]["zimbraDomainDefaultCOSId"] in (cos["id"], [cos["id"]])
        record = tenancy.customer(tenant)
        again = await orch.create_tenant(tenant, reseller="acme")
        counted = await orch.count_mailboxes(tenant)
        removed = await orch.delete_tenant(tenant)
        return created, record, again, counted, removed, tenancy.customer(tenant)

    created, record, again, counted, removed, gone = _orchestrate(platforms, work)
    assert (created.before, created.after) == ("absent", "present")
    assert record is not None and record.reseller == "acme"
    assert again.outcome.value == "unchanged"
    assert counted.total == 0
    assert (removed.before, removed.after) == ("present", "absent")
    assert gone is None and not _holds_tenant(platforms, platform, tenant)
    ops = [(r.operation, r.identity, r.status) for r in _journal(platforms, "create_tenant")]
    assert ops[-1] == ("create_tenant", "site-admin", "done")


#: The request each platform creates a tenant with (the mock's operation key).
CREATE_REQUEST = {
    "memory": "create_tenant",
    "mailcow": "add_domain",
    "zextras": "CreateDomainRequest",
}


@pytest.mark.parametrize("platform", CREATE_PLATFORMS)
def test_a_creation_whose_answer_is_lost_is_completed_by_journal_resume(
    platforms: Platforms, platform: str
) -> None:
    """The platform made the tenant but its answer never came back: the row stays open
    (or the read-back settles it), and resume records the customer the call did not."""
    tenant = _new_tenant(platforms, platform)
    fault = {"kind": "drop", "operation": CREATE_REQUEST[platform], "handled": True}
    endpoint = platforms.endpoints[f"{platform}-demo"]
    assert httpx.post(endpoint + "/_mock/faults", json=fault).status_code < 300

    async def cut_short(orch: Orchestrator) -> Any:
        try:
            await orch.create_tenant(tenant, max_mailboxes=5)
        except errors.MailadminError as lost:
            return lost
        return None

    lost = _orchestrate(platforms, cut_short)
    assert _holds_tenant(platforms, platform, tenant), "the fault did not let the write land"
    httpx.delete(endpoint + "/_mock/faults")
    rows = _journal(platforms, "create_tenant")
    if lost is not None:
        assert rows[0].status in ("started", "failed") and rows[0].outcome != "changed"

    async def resume(orch: Orchestrator) -> Any:
        await orch.resume()
        return orch.rules.tenancy.customer(tenant)

    assert _orchestrate(platforms, resume) is not None
    (row,) = _journal(platforms, "create_tenant")
    assert row.status == "done", row
    assert _holds_tenant(platforms, platform, tenant)


def test_exchange_states_why_it_neither_creates_nor_removes_tenants(
    platforms: Platforms,
) -> None:
    tenant = _new_tenant(platforms, "exchange")
    platforms.clear("exchange")

    async def work(orch: Orchestrator) -> Any:
        for call in (orch.create_tenant(tenant), orch.delete_tenant(TENANT["exchange"])):
            with pytest.raises(errors.UnsupportedOperation, match="Microsoft 365 subscription"):
                await call

    _orchestrate(platforms, work)
    assert platforms.writes("exchange") == []


@pytest.mark.parametrize("platform", CREATE_PLATFORMS)
def test_cli_creates_and_deletes_a_customer_on_its_platform(
    platforms: Platforms, platform: str
) -> None:
    tenant = _new_tenant(platforms, platform)
    path = platforms.folder / "mailadmin.toml"
    path.write_text(_toml(platforms.config))

    def run(*args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    run("customers", "create", tenant, "--max-mailboxes", "25", "--dry-run")
    assert not _holds_tenant(platforms, platform, tenant)
    shown = json.loads(run("--json", "customers", "create", tenant, "--max-mailboxes", "25").stdout)
    assert shown["after"] == "present" and _mailbox_limit(platforms, platform, tenant) == 25
    listed = json.loads(run("--json", "customers", "list").stdout)
    assert tenant in [c["name"] for c in listed]
    refused = run("customers", "delete", TENANT[platform], expect=4)
    assert "mailboxes" in refused.stderr and _holds_tenant(platforms, platform, TENANT[platform])
    run("customers", "delete", tenant)
    assert not _holds_tenant(platforms, platform, tenant)
    run("customers", "create", tenant, "--max-mailboxes", "-1", expect=2)


@pytest.mark.parametrize("platform", CREATE_PLATFORMS)
def test_http_creates_and_deletes_a_tenant(platforms: Platforms, platform: str) -> None:
    from fastapi.testclient import TestClient

    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity

    tenant = _new_tenant(platforms, platform)
    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_dict(platforms.config)
        return holder["orch"]

    with TestClient(create_app(orchestrator=factory)) as client:
        keys = ApiKeys(holder["orch"].rules.store)
        key = keys.create(Identity.parse(f"customer:{TENANT[platform]}"), "t").key
        client.headers["Authorization"] = f"Bearer {key}"
        platforms.clear(platform)
        denied = client.post("/v1/tenants", json={"name": TENANT[platform]})
        assert denied.status_code == 403 and platforms.writes(platform) == []
        key = keys.create(Identity.parse("site-admin"), "t").key
        client.headers["Authorization"] = f"Bearer {key}"
        body = {"name": tenant, "max_mailboxes": 25}
        preview = client.post("/v1/tenants", params={"dry_run": "true"}, json=body)
        assert preview.status_code == 200 and not _holds_tenant(platforms, platform, tenant)
        made = client.post("/v1/tenants", json=body)
        assert made.status_code == 200, made.text
        assert (
            made.json()["after"] == "present" and _mailbox_limit(platforms, platform, tenant) == 25
        )
        assert client.get(f"/v1/customers/{tenant}").status_code == 200
        assert client.post("/v1/tenants", json={**body, "bogus": 1}).status_code == 422
        gone = client.delete(f"/v1/tenants/{tenant}")
        assert gone.status_code == 200 and not _holds_tenant(platforms, platform, tenant)


# -- terminating a tenant -----------------------------------------------------------------------


def _mailboxes_on(platforms: Platforms, platform: str, tenant: str) -> list[str]:
    state = platforms.state(platform)
    if platform == "zextras":
        return [a["name"] for a in state["accounts"] if a["name"].endswith("@" + tenant)]
    if platform == "mailcow":
        return [a for a, box in state["mailboxes"].items() if box["domain"] == tenant]
    if platform == "ox":
        context = next((c for c in state["contexts"] if c["name"] == tenant), None)
        users = context["users"] if context else []
        return [u["primaryEmail"] for u in users if u.get("primaryEmail")]
    found = state["tenants"].get(tenant)
    return [m["address"] for m in found["mailboxes"]] if found else []


@pytest.mark.parametrize("platform", CREATE_PLATFORMS)
def test_terminate_removes_the_tenant_and_every_mailbox_item_by_item(
    platforms: Platforms, platform: str
) -> None:
    tenant = TENANT[platform]
    platforms.config["customers"] = {tenant: {}}
    held = _mailboxes_on(platforms, platform, tenant)
    assert held, "the demo tenant has no mailboxes to terminate"

    async def work(orch: Orchestrator) -> Any:
        held[:] = [m.address for m in await orch.list_mailboxes(tenant)]
        platforms.clear(platform)
        preview = await orch.terminate(tenant, dry_run=True)
        assert platforms.writes(platform) == [] and _holds_tenant(platforms, platform, tenant)
        done = await orch.terminate(tenant)
        return preview, done, orch.rules.tenancy.customer(tenant)

    preview, done, record = _orchestrate(platforms, work)
    assert [i.key for i in preview.items] == [*held, tenant]
    assert done.ok and [i.key for i in done.items] == [*held, tenant]
    assert _mailboxes_on(platforms, platform, tenant) == []
    assert not _holds_tenant(platforms, platform, tenant) and record is None
    rows = [r for r in _journal(platforms, "delete_mailbox") if not r.dry_run]
    assert len(rows) == len(held) and {r.run_id for r in rows} == {done.run_id}
    (row,) = [r for r in _journal(platforms, "delete_tenant") if not r.dry_run]
    assert row.run_id == done.run_id and row.status == "done"


def test_terminate_is_refused_before_anything_is_sent(platforms: Platforms) -> None:
    platforms.clear("exchange")
    platforms.clear("memory")

    async def work(orch: Orchestrator) -> Any:
        with pytest.raises(errors.UnsupportedOperation, match="Microsoft 365 subscription"):
            await orch.terminate(TENANT["exchange"])
        with (
            orch.acting_as(f"customer:{TENANT['memory']}"),
            pytest.raises(errors.PolicyDenied, match="create or remove a tenant"),
        ):
            await orch.terminate(TENANT["memory"])

    _orchestrate(platforms, work)
    assert platforms.writes("exchange") == [] and platforms.writes("memory") == []
    assert _mailboxes_on(platforms, "memory", TENANT["memory"])


def test_cli_terminate_needs_yes_and_a_dry_run_sends_nothing(
    run: Run, platforms: Platforms
) -> None:
    tenant = TENANT["memory"]
    held = _mailboxes_on(platforms, "memory", tenant)
    platforms.clear("memory")
    refused = run("terminate", tenant, expect=2)
    assert "--yes" in refused.stderr
    shown = run("terminate", tenant, "--dry-run")
    assert "dry run" in shown.stdout and all(a in shown.stdout for a in held)
    assert platforms.writes("memory") == []
    run("terminate", tenant, "--yes")
    assert not _holds_tenant(platforms, "memory", tenant)


def test_http_terminate_needs_the_name_repeated(
    http: Callable[[str | None], Any], platforms: Platforms
) -> None:
    client = http("site-admin")
    tenant = TENANT["zextras"]
    platforms.clear("zextras")
    wrong = client.post(f"/v1/tenants/{tenant}/terminate", json={"confirm": "other.example"})
    assert wrong.status_code == 422 and platforms.writes("zextras") == []
    done = client.post(f"/v1/tenants/{tenant}/terminate", json={"confirm": tenant})
    assert done.status_code == 200, done.text
    assert done.json()["failed"] == 0 and not _holds_tenant(platforms, "zextras", tenant)
    assert _mailboxes_on(platforms, "zextras", tenant) == []


def test_a_killed_termination_is_finished_by_journal_resume(platforms: Platforms) -> None:
    """SIGKILL a `mailadmin terminate` while its deletions are slow on the platform; then
    `journal resume` removes what is left: the mock holds neither tenant nor mailboxes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    tenant = TENANT["memory"]
    platforms.config["customers"] = {tenant: {}}
    path = platforms.folder / "mailadmin.toml"
    path.write_text(_toml(platforms.config))
    held = _mailboxes_on(platforms, "memory", tenant)
    assert len(held) >= 2, "too few mailboxes to stop a termination half-way"
    endpoint = platforms.endpoints["memory-demo"]
    slow = {"kind": "latency", "delay": 0.5, "operation": "delete_mailbox", "handled": True}
    assert httpx.post(endpoint + "/_mock/faults", json=slow).status_code < 300
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailadmin.cli",
            "--config",
            str(path),
            "terminate",
            tenant,
            "--yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        # Until the first mailbox is gone (the run is journalled and under way).
        while len(_mailboxes_on(platforms, "memory", tenant)) == len(held):
            assert process.poll() is None, "the termination ended before it could be killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    left = _mailboxes_on(platforms, "memory", tenant)
    assert left and _holds_tenant(platforms, "memory", tenant), "the kill came too late"
    httpx.delete(endpoint + "/_mock/faults")
    resumed = CliRunner().invoke(cli, ["--config", str(path), "journal", "resume"])
    assert resumed.exit_code == 0, (resumed.stdout, resumed.stderr)
    assert _mailboxes_on(platforms, "memory", tenant) == []
    assert not _holds_tenant(platforms, "memory", tenant)
    (row,) = _journal(platforms, "delete_tenant")
    assert row.status == "done"
