"""Mailbox settings (display name, forwarding, quota, aliases) and sign-on links through
every face (Python, CLI, HTTP) on the demo's mocks served on loopback; each write is
checked in the mock's own state."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.orchestration.orchestrator import Orchestrator


def _lifecycle_module() -> Any:
    """The lifecycle tests' module: its demo mocks, state readers and fixtures are these
    tests' too (loaded by path: the test folder is no package)."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "mailadmin_tests_lifecycle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_lifecycle.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_lc = _lifecycle_module()
MAILBOX: dict[str, str] = _lc.MAILBOX
PLATFORMS: list[str] = _lc.PLATFORMS
Platforms = _lc.Platforms
Run = Callable[..., Any]
_orchestrate = _lc._orchestrate
registry = _lc.registry
# The shared fixtures under their own names (parameters of the tests below).
globals().update(platforms=_lc.platforms, run=_lc.run, http=_lc.http)

#: Where each platform can forward (OX keeps forwarding as a user's own mail filter,
#: mailcow in an alias shadowing the mailbox; both declare it unsupported).
FORWARDING = ["exchange", "memory", "zextras"]
_MB = 1024 * 1024


def _values(attrs: dict[str, Any], name: str) -> list[str]:
    value = attrs.get(name)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def held(platforms: Platforms, platform: str, address: str) -> dict[str, Any]:
    """The mailbox's settings as the mock's state holds them."""
    user = platforms._user(platform, address)
    if platform == "ox":
        primary = user["primaryEmail"]
        return {
            "display_name": user.get("display_name"),
            "quota_mb": user.get("maxQuota"),
            "aliases": sorted({a.lower() for a in user.get("aliases", [])} - {primary}),
            "forwarding": None,
        }
    if platform == "zextras":
        attrs = user["attrs"]
        quota = _values(attrs, "zimbraMailQuota")
        return {
            "display_name": (_values(attrs, "displayName") or [""])[0],
            "quota_mb": int(quota[0]) // _MB if quota else None,
            "aliases": sorted(_values(attrs, "zimbraMailAlias")),
            "forwarding": (_values(attrs, "zimbraPrefMailForwardingAddress") or [""])[0],
        }
    if platform == "exchange":
        quota = user["prohibit_send_receive_quota"]
        return {
            "display_name": user["display_name"],
            "quota_mb": None if quota is None else quota // _MB,
            "aliases": sorted(user["aliases"]),
            "forwarding": user["forwarding"],
        }
    if platform == "mailcow":
        state = platforms.state("mailcow")
        return {
            "display_name": user["name"],
            "quota_mb": user["quota"] or None,
            "aliases": sorted(a["address"] for a in state["aliases"] if a["goto"] == address),
            "forwarding": None,
        }
    return {
        "display_name": user["display_name"],
        "quota_mb": user["quota_mb"],
        "aliases": sorted(user["aliases"]),
        "forwarding": user["forwarding"],
    }


def _alias(address: str, stem: str = "sales") -> str:
    return f"{stem}@{address.partition('@')[2]}"


# -- Python -----------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_display_name_quota_and_aliases_land_on_the_platform(
    platforms: Platforms, platform: str
) -> None:
    address = MAILBOX[platform]
    alias = _alias(address)
    before = held(platforms, platform, address)

    async def dry(orch: Orchestrator) -> Any:
        await orch.set_display_name(address, "Anna Settings", dry_run=True)
        await orch.set_quota(address, 1536, dry_run=True)
        return await orch.add_alias(address, alias, dry_run=True)

    preview = _orchestrate(platforms, dry)
    assert preview.dry_run and alias in preview.after
    assert held(platforms, platform, address) == before, "a dry run changed the platform"
    platforms.clear(platform)

    async def work(orch: Orchestrator) -> Any:
        named = await orch.set_display_name(address, "Anna Settings")
        quota = await orch.set_quota(address, 1536)
        added = await orch.add_alias(address, alias)
        again = await orch.add_alias(address, alias)
        listed = await orch.list_aliases(address)
        assert orch.journal is not None
        return named, quota, added, again, listed, orch.journal.entries()

    named, quota, added, again, listed, entries = _orchestrate(platforms, work)
    now = held(platforms, platform, address)
    assert now["display_name"] == "Anna Settings" and named.outcome.value == "changed"
    assert now["quota_mb"] == 1536 and quota.after == 1536
    assert alias in now["aliases"] and alias in listed and alias in added.after
    assert again.outcome.value == "unchanged"
    rows = [e for e in entries if e.operation == "add_alias" and not e.dry_run]
    assert rows and rows[-1].status == "done" and rows[-1].arguments["value"] == alias

    async def remove(orch: Orchestrator) -> Any:
        return await orch.remove_alias(address, alias)

    removed = _orchestrate(platforms, remove)
    assert alias not in removed.after and alias not in held(platforms, platform, address)["aliases"]


@pytest.mark.parametrize("platform", FORWARDING)
def test_forwarding_is_set_and_cleared(platforms: Platforms, platform: str) -> None:
    address = MAILBOX[platform]

    async def work(orch: Orchestrator) -> Any:
        done = await orch.set_forwarding(address, "anna@elsewhere.example")
        mid = held(platforms, platform, address)["forwarding"]
        cleared = await orch.set_forwarding(address, "")
        return done, mid, cleared

    done, mid, cleared = _orchestrate(platforms, work)
    assert (done.before, done.after, mid) == (
        "",
        "anna@elsewhere.example",
        "anna@elsewhere.example",
    )
    assert cleared.after == "" and held(platforms, platform, address)["forwarding"] == ""


@pytest.mark.parametrize("platform", ["ox", "mailcow"])
def test_forwarding_where_unsupported_is_refused_before_sending(
    platforms: Platforms, platform: str
) -> None:
    platforms.clear(platform)

    async def work(orch: Orchestrator) -> Any:
        return await orch.set_forwarding(MAILBOX[platform], "anna@elsewhere.example")

    with pytest.raises(errors.UnsupportedOperation):
        _orchestrate(platforms, work)
    assert platforms.writes(platform) == []


@pytest.mark.parametrize(
    ("call", "value", "message"),
    [
        ("set_display_name", "", "must not be empty"),
        ("set_display_name", "a\nb", "control characters"),
        ("set_quota", 0, "whole number of MB"),
        ("set_quota", "big", "whole number of MB"),
        ("add_alias", "not-an-address", "not a valid mail address"),
        ("add_alias", MAILBOX["memory"], "own address"),
        ("set_forwarding", MAILBOX["memory"], "to itself"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_sent(
    platforms: Platforms, call: str, value: Any, message: str
) -> None:
    platforms.clear("memory")

    async def work(orch: Orchestrator) -> Any:
        return await getattr(orch, call)(MAILBOX["memory"], value)

    with pytest.raises(errors.ValidationError, match=message):
        _orchestrate(platforms, work)
    assert platforms.writes("memory") == []


def test_an_alias_another_mailbox_holds_is_a_conflict_and_changes_nothing(
    platforms: Platforms,
) -> None:
    address = MAILBOX["zextras"]
    other = "ben@example.org"

    async def work(orch: Orchestrator) -> Any:
        return await orch.add_alias(address, other)

    with pytest.raises(errors.ConflictError):
        _orchestrate(platforms, work)
    assert held(platforms, "zextras", address)["aliases"] == []


def test_zextras_sign_on_link_is_a_valid_preauth(platforms: Platforms) -> None:
    address = MAILBOX["zextras"]
    platforms.clear("zextras")

    async def work(orch: Orchestrator) -> Any:
        found = await orch.single_sign_on(address)
        assert orch.journal is not None
        return found, orch.journal.entries()

    found, entries = _orchestrate(platforms, work)
    query = {k: v[0] for k, v in parse_qs(urlsplit(found.url).query).items()}
    domain = next(d for d in platforms.state("zextras")["domains"] if d["name"] == "example.org")
    key = _values(domain["attrs"], "zimbraPreAuthKey")[0]
    message = f"{address}|name|0|{query['timestamp']}"
    wanted = hmac.new(key.encode(), message.encode(), hashlib.sha1).hexdigest()
    assert urlsplit(found.url).path == "/service/preauth" and query["preauth"] == wanted
    assert query["account"] == address and found.url not in repr(found)
    assert platforms.writes("zextras") == []
    assert not any(e.operation == "single_sign_on" for e in entries), "a read was journalled"
    assert query["preauth"].encode() not in platforms.database_bytes()


@pytest.mark.parametrize("platform", ["ox", "exchange", "mailcow", "memory"])
def test_sign_on_where_unsupported_says_why(platforms: Platforms, platform: str) -> None:
    async def work(orch: Orchestrator) -> Any:
        return await orch.single_sign_on(MAILBOX[platform])

    with pytest.raises(errors.UnsupportedOperation) as caught:
        _orchestrate(platforms, work)
    assert "single_sign_on" in str(caught.value)


# -- CLI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_cli_sets_settings_and_manages_aliases(
    run: Run, platforms: Platforms, platform: str
) -> None:
    address = MAILBOX[platform]
    alias = _alias(address, "team")
    run("mailbox", "set", address, "--display-name", "Anna CLI", "--quota", "2000", "--dry-run")
    assert held(platforms, platform, address)["display_name"] != "Anna CLI"
    shown = run(
        "--json", "mailbox", "set", address, "--display-name", "Anna CLI", "--quota", "2000"
    )
    assert [r["after"] for r in json.loads(shown.stdout)] == ["Anna CLI", 2000]
    assert held(platforms, platform, address)["display_name"] == "Anna CLI"
    assert held(platforms, platform, address)["quota_mb"] == 2000
    run("mailbox", "alias", "add", address, alias)
    assert alias in held(platforms, platform, address)["aliases"]
    listed = run("--json", "mailbox", "alias", "list", address)
    assert json.loads(listed.stdout)["aliases"] == held(platforms, platform, address)["aliases"]
    run("mailbox", "alias", "remove", address, alias)
    assert alias not in held(platforms, platform, address)["aliases"]


def test_cli_refuses_settings_it_cannot_send(run: Run, platforms: Platforms) -> None:
    refused = run("mailbox", "set", MAILBOX["memory"], expect=2)
    assert "at least one of" in refused.stderr
    refused = run("mailbox", "set", MAILBOX["ox"], "--forward-to", "a@b.example", expect=2)
    assert "set_forwarding" in refused.stderr and "Traceback" not in refused.stderr
    assert platforms.writes("ox") == []


def test_cli_prints_a_sign_on_link(run: Run) -> None:
    shown = run("mailbox", "sso", MAILBOX["zextras"])
    assert "/service/preauth?" in shown.stdout
    refused = run("mailbox", "sso", MAILBOX["exchange"], expect=2)
    assert "Entra ID" in refused.stderr


# -- HTTP -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_http_sets_settings_and_aliases(
    http: Callable[[str | None], Any], platforms: Platforms, platform: str
) -> None:
    client = http("site-admin")
    address = MAILBOX[platform]
    alias = _alias(address, "web")
    named = client.put(f"/v1/mailboxes/{address}/display-name", json={"display_name": "Anna W"})
    assert named.status_code == 200, named.text
    assert held(platforms, platform, address)["display_name"] == "Anna W"
    quota = client.put(f"/v1/mailboxes/{address}/quota?dry_run=true", json={"quota_mb": 1234})
    assert quota.json()["dry_run"] and held(platforms, platform, address)["quota_mb"] != 1234
    added = client.put(f"/v1/mailboxes/{address}/aliases/{alias}")
    assert added.status_code == 200 and alias in held(platforms, platform, address)["aliases"]
    assert alias in client.get(f"/v1/mailboxes/{address}/aliases").json()
    removed = client.delete(f"/v1/mailboxes/{address}/aliases/{alias}")
    assert removed.status_code == 200 and alias not in held(platforms, platform, address)["aliases"]


def test_http_settings_refusals(http: Callable[[str | None], Any], platforms: Platforms) -> None:
    client = http("site-admin")
    bad = client.put(f"/v1/mailboxes/{MAILBOX['memory']}/quota", json={"quota_mb": 0})
    assert bad.status_code == 422
    unsupported = client.put(
        f"/v1/mailboxes/{MAILBOX['ox']}/forwarding", json={"address": "a@b.example"}
    )
    assert unsupported.status_code == 422 and platforms.writes("ox") == []
    other = http("customer:example.net")
    denied = other.put(
        f"/v1/mailboxes/{MAILBOX['zextras']}/display-name", json={"display_name": "x"}
    )
    assert denied.status_code in (403, 404)


def test_http_sign_on_is_not_cached(http: Callable[[str | None], Any]) -> None:
    client = http("site-admin")
    found = client.get(f"/v1/mailboxes/{MAILBOX['zextras']}/sign-on")
    assert found.status_code == 200, found.text
    assert "/service/preauth?" in found.json()["url"]
    assert found.headers["cache-control"] == "no-store"


# -- a lost answer ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "operation"), [("memory", "change_settings"), ("zextras", "ModifyAccountRequest")]
)
def test_a_lost_answer_is_read_back(platforms: Platforms, platform: str, operation: str) -> None:
    """The platform applied the write and the answer was lost: the setting is read back
    and reported changed (no second write); a write that never landed stays an error."""
    address = MAILBOX[platform]
    faults = platforms.endpoints[f"{platform}-demo"] + "/_mock/faults"
    fault = {"kind": "drop", "operation": operation, "calls": [1], "handled": True}
    assert httpx.post(faults, json=fault).status_code < 300

    async def landed(orch: Orchestrator) -> Any:
        return await orch.set_display_name(address, "Anna Lost")

    result = _orchestrate(platforms, landed)
    assert result.outcome.value == "changed" and "read back" in result.note
    assert held(platforms, platform, address)["display_name"] == "Anna Lost"
    fault["handled"] = False
    assert httpx.post(faults, json=fault).status_code < 300

    async def lost(orch: Orchestrator) -> Any:
        return await orch.set_display_name(address, "Anna Never")

    with pytest.raises(errors.MailadminError):
        _orchestrate(platforms, lost)
    assert held(platforms, platform, address)["display_name"] == "Anna Lost"
