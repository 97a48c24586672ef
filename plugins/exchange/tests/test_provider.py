"""The Exchange provider against its mock: every write is checked in the mock's state, the
token lifecycle and the paging are checked in the recorded requests."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailadmin_exchange.mock import ExchangeState
from mailadmin_exchange.mock.model import (
    DEFAULT_TENANT,
    DEFAULT_TENANT_ID,
    ENTERPRISE,
    STANDARD,
    MockMailbox,
    MockTenant,
)
from mailadmin_exchange.provider import ExchangeProvider

from mailadmin.mock import Fault, MockServer, Reply
from mailadmin.mock.oauth import TokenIssuer
from mailadmin.sdk import (
    LicenceState,
    MailboxKind,
    MailboxRef,
    NewMailbox,
    Outcome,
    TenantRef,
    errors,
)
from mailadmin.testing import Orchestrator

DOMAIN = DEFAULT_TENANT
TENANT = TenantRef(name=DEFAULT_TENANT)
ANNA = MailboxRef(tenant=TENANT, address=f"anna@{DOMAIN}")
GB = 1 << 30
MB = 1 << 20
QUOTA_PLANS = {
    "mail": {"quota_mb": 2048, "features": {"activesync": False, "mapi": False}},
    "sync": {"quota_mb": 5120, "features": {"activesync": True, "mapi": False}},
    "collaborate": {"quota_mb": 10240, "features": {}},
}
LICENCE_PLANS = {"mail": {"sku": "EXCHANGESTANDARD"}, "sync": {"sku": "EXCHANGEENTERPRISE"}}


def _tenant(server: MockServer) -> MockTenant:
    state = server.state
    assert isinstance(state, ExchangeState)
    return state.data.tenants[DEFAULT_TENANT_ID]


def _mailbox(server: MockServer, local: str) -> MockMailbox:
    return _tenant(server).mailboxes[f"{local}@{DOMAIN}"]


def _settings(plans: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # No endpoint: the three public-cloud hosts, all served by the injected mock.
    return {
        "tenant": DEFAULT_TENANT,
        "tenant_id": DEFAULT_TENANT_ID,
        "credentials": {"username": "mock-client", "secret": "secret"},
        "plans": plans,
        **extra,
    }


@pytest.fixture
async def quota(server: MockServer) -> AsyncIterator[ExchangeProvider]:
    async with ExchangeProvider(_settings(QUOTA_PLANS), http=server.transport()) as provider:
        yield provider


@pytest.fixture
async def licence(server: MockServer) -> AsyncIterator[ExchangeProvider]:
    async with ExchangeProvider(_settings(LICENCE_PLANS), http=server.transport()) as provider:
        yield provider


def _writes(server: MockServer) -> list[str]:
    return [r.route or "" for r in server.requests if r.write]


def _tokens(server: MockServer) -> int:
    return sum(1 for r in server.requests if r.route == "oauth2_token")


# -- set_plan, quota mode ------------------------------------------------------------------


async def test_quota_plan_sets_quotas_and_client_access_in_the_platform(
    quota: ExchangeProvider, server: MockServer
) -> None:
    result = await quota.set_plan(ANNA, "sync")
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "collaborate", "sync")
    anna = _mailbox(server, "anna")
    assert anna.prohibit_send_receive_quota == 5120 * MB
    assert anna.issue_warning_quota == 5120 * MB * 90 // 100
    assert anna.prohibit_send_quota == 5120 * MB * 95 // 100
    assert (anna.activesync, anna.mapi, anna.owa, anna.pop, anna.imap) == (
        True,
        False,
        True,
        True,
        True,
    )
    assert _writes(server) == ["Set-Mailbox", "Set-CASMailbox"]


async def test_quota_plan_sends_only_what_differs(
    quota: ExchangeProvider, server: MockServer
) -> None:
    await quota.set_plan(ANNA, "sync")
    server.clear_requests()
    again = await quota.set_plan(ANNA, "sync")
    assert again.outcome is Outcome.UNCHANGED and _writes(server) == []
    _mailbox(server, "anna").pop = False  # someone switched POP off behind our back
    fixed = await quota.set_plan(ANNA, "sync")
    assert (fixed.outcome, fixed.before, fixed.after) == (Outcome.CHANGED, None, "sync")
    assert _writes(server) == ["Set-CASMailbox"] and _mailbox(server, "anna").pop is True


async def test_a_dry_run_reads_but_writes_nothing(
    quota: ExchangeProvider, server: MockServer
) -> None:
    result = await quota.set_plan(ANNA, "mail", dry_run=True)
    assert result.dry_run and result.outcome is Outcome.CHANGED
    assert _writes(server) == [] and _mailbox(server, "anna").prohibit_send_receive_quota == 50 * GB


async def test_an_unknown_mailbox_is_not_found(quota: ExchangeProvider) -> None:
    with pytest.raises(errors.NotFoundError, match="nobody@"):
        await quota.set_plan(MailboxRef(tenant=TENANT, address=f"nobody@{DOMAIN}"), "mail")


async def test_a_cmdlet_outside_the_role_is_an_authentication_error(
    quota: ExchangeProvider, server: MockServer
) -> None:
    _tenant(server).apps[0].cmdlets = ["Get-Mailbox", "Get-CASMailbox"]
    with pytest.raises(errors.AuthenticationError, match="role does not allow Set-Mailbox anna@"):
        await quota.set_plan(ANNA, "mail")


# -- storage add-on ------------------------------------------------------------------------


async def test_storage_addon_raises_every_user_mailbox_above_its_plan(
    quota: ExchangeProvider, server: MockServer
) -> None:
    await quota.set_plan(ANNA, "mail")
    await quota.set_plan(MailboxRef(tenant=TENANT, address=f"ben@{DOMAIN}"), "sync")
    await quota.set_plan(MailboxRef(tenant=TENANT, address=f"carla@{DOMAIN}"), "sync")
    first = await quota.apply_addon(TENANT, "storage_gb", 3)
    assert (first.outcome, first.before, first.after) == (Outcome.CHANGED, 0, 3)
    assert _mailbox(server, "anna").prohibit_send_receive_quota == 2048 * MB + 3 * GB
    assert _mailbox(server, "ben").prohibit_send_receive_quota == 5120 * MB + 3 * GB
    assert _mailbox(server, "info").prohibit_send_receive_quota == 50 * GB  # shared: untouched
    server.clear_requests()
    again = await quota.apply_addon(TENANT, "storage_gb", 3)
    assert again.outcome is Outcome.UNCHANGED and _writes(server) == []
    # A plan change keeps the extra storage the tenant bought.
    await quota.set_plan(ANNA, "sync")
    assert _mailbox(server, "anna").prohibit_send_receive_quota == 5120 * MB + 3 * GB
    lower = await quota.apply_addon(TENANT, "storage_gb", 1)
    assert (lower.before, lower.after) == (3, 1)
    assert _mailbox(server, "carla").prohibit_send_receive_quota == 5120 * MB + 1 * GB


async def test_licence_plans_have_no_storage_addon(licence: ExchangeProvider) -> None:
    assert not licence.capabilities_for(licence.settings).supports("addon:storage_gb")
    with pytest.raises(errors.UnsupportedOperation, match="larger SKU"):
        await licence.apply_addon(TENANT, "storage_gb", 2)


# -- set_plan, licence mode ----------------------------------------------------------------


async def test_licence_plan_swaps_the_sku_in_one_assign_license(
    licence: ExchangeProvider, server: MockServer
) -> None:
    result = await licence.set_plan(ANNA, "sync")
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "mail", "sync")
    anna = _mailbox(server, "anna")
    assert anna.licenses == [ENTERPRISE]
    assert anna.prohibit_send_receive_quota == 100 * GB  # the licence's mailbox plan applies
    assert _writes(server) == ["assignLicense"]
    (call,) = [r for r in server.requests if r.route == "assignLicense"]
    assert json.loads(call.body) == {
        "addLicenses": [{"skuId": ENTERPRISE, "disabledPlans": []}],
        "removeLicenses": [STANDARD],
    }
    server.clear_requests()
    again = await licence.set_plan(ANNA, "sync")
    assert again.outcome is Outcome.UNCHANGED and _writes(server) == []


async def test_no_free_licence_is_quota_exceeded_and_changes_nothing(
    licence: ExchangeProvider, server: MockServer
) -> None:
    _tenant(server).skus[1].enabled = 1  # ben holds the only Plan 2 licence
    with pytest.raises(errors.QuotaExceeded, match="no free licence"):
        await licence.set_plan(ANNA, "sync")
    assert _mailbox(server, "anna").licenses == [STANDARD]


async def test_counts_by_plan_follow_the_mailbox_plan_of_the_licence(
    licence: ExchangeProvider,
) -> None:
    count = await licence.count_mailboxes(TENANT)
    assert count.by_plan == {"mail": 2, "sync": 1}
    await licence.set_plan(ANNA, "sync")
    assert (await licence.count_mailboxes(TENANT)).by_plan == {"mail": 1, "sync": 2}


# -- counting, paging and listing ----------------------------------------------------------


async def test_mailboxes_of_other_types_are_counted_unclassified(
    quota: ExchangeProvider, server: MockServer
) -> None:
    # Made outside mailadmin: a linked mailbox and a Bookings (scheduling) mailbox. Their
    # RecipientTypeDetails is native, but names none of the four kinds: reported, not guessed.
    tenant = _tenant(server)
    for local, kind in (("linked", "LinkedMailbox"), ("bookings", "SchedulingMailbox")):
        address = f"{local}@{DOMAIN}"
        tenant.mailboxes[address] = MockMailbox(
            name=local,
            address=address,
            upn=address,
            type=kind,
            exchange_guid=str(uuid.uuid4()),
            object_id=str(uuid.uuid4()),
        )
    before = await quota.count_mailboxes(TENANT)
    assert before.unclassified == 2
    assert before.by_kind == {
        MailboxKind.USER: 3,
        MailboxKind.SHARED: 1,
        MailboxKind.ROOM: 1,
        MailboxKind.EQUIPMENT: 1,
    }


async def test_counts_keep_shared_and_resource_mailboxes_apart(
    quota: ExchangeProvider,
) -> None:
    count = await quota.count_mailboxes(TENANT)
    assert count.by_kind == {
        MailboxKind.USER: 3,
        MailboxKind.SHARED: 1,
        MailboxKind.ROOM: 1,
        MailboxKind.EQUIPMENT: 1,
    }
    assert count.by_plan == {"collaborate": 3}


async def test_next_links_are_followed_by_reposting_the_same_body(server: MockServer) -> None:
    settings = _settings(QUOTA_PLANS, page_size=2)
    async with ExchangeProvider(settings, http=server.transport()) as provider:
        await provider.count_mailboxes(TENANT)
    listings = [r for r in server.requests if r.route == "Get-Mailbox"]
    assert len(listings) == 3  # six mailboxes, two a page
    assert len({r.body for r in listings}) == 1
    assert "skiptoken=" in listings[1].query and "skiptoken=" in listings[2].query
    first = json.loads(listings[0].body)
    assert first == {
        "CmdletInput": {
            "CmdletName": "Get-Mailbox",
            "Parameters": {
                "RecipientTypeDetails": [
                    "UserMailbox",
                    "SharedMailbox",
                    "RoomMailbox",
                    "EquipmentMailbox",
                    "LinkedMailbox",
                    "LinkedRoomMailbox",
                    "SchedulingMailbox",
                    "TeamMailbox",
                    "DiscoveryMailbox",
                    "LegacyMailbox",
                ],
                "ResultSize": "Unlimited",
            },
        }
    }


async def test_list_mailboxes_names_kind_and_plan(quota: ExchangeProvider) -> None:
    await quota.set_plan(ANNA, "mail")
    listed = {m.address: m for m in await quota.list_mailboxes(TENANT)}
    assert listed[f"anna@{DOMAIN}"].plan == "mail"
    assert listed[f"anna@{DOMAIN}"].quota_mb == 2048
    assert listed[f"boardroom@{DOMAIN}"].kind is MailboxKind.ROOM
    assert listed[f"info@{DOMAIN}"].plan is None


# -- mailboxes and kept allocations --------------------------------------------------------


async def test_shared_room_and_equipment_mailboxes_are_created_in_the_platform(
    quota: ExchangeProvider, server: MockServer
) -> None:
    for local, kind, details in [
        ("sales", MailboxKind.SHARED, "SharedMailbox"),
        ("lab", MailboxKind.ROOM, "RoomMailbox"),
        ("van", MailboxKind.EQUIPMENT, "EquipmentMailbox"),
    ]:
        made = await quota.create_mailbox(
            TENANT, NewMailbox(address=f"{local}@{DOMAIN}", kind=kind, display_name=local.title())
        )
        assert made.outcome is Outcome.CHANGED and made.after is not None
        assert made.after.native_id == _mailbox(server, local).object_id
        assert _mailbox(server, local).type == details
        assert _mailbox(server, local).display_name == local.title()
    again = await quota.create_mailbox(
        TENANT, NewMailbox(address=f"sales@{DOMAIN}", kind=MailboxKind.SHARED)
    )
    assert again.outcome is Outcome.UNCHANGED
    with pytest.raises(errors.ConflictError, match="already exists as a shared"):
        await quota.create_mailbox(
            TENANT, NewMailbox(address=f"sales@{DOMAIN}", kind=MailboxKind.ROOM)
        )
    gone = await quota.delete_mailbox(MailboxRef(tenant=TENANT, address=f"van@{DOMAIN}"))
    assert gone.outcome is Outcome.CHANGED and f"van@{DOMAIN}" not in _tenant(server).mailboxes
    with pytest.raises(errors.UnsupportedOperation):
        await quota.delete_mailbox(ANNA)
    assert f"anna@{DOMAIN}" in _tenant(server).mailboxes


async def test_kept_allocations_refuse_a_create_before_sending_anything(
    server: MockServer, tmp_path: Path
) -> None:
    config = {
        "instances": {
            "exchange": {
                "provider": "exchange",
                **_settings(QUOTA_PLANS, retries=0),
            }
        },
        "tenants": {DEFAULT_TENANT: {"instance": "exchange"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"},
    }
    async with Orchestrator.from_dict(config, http={"exchange": server.transport()}) as orch:
        bought = await orch.apply_addon(DEFAULT_TENANT, "shared_mailbox", 2)
        assert (bought.outcome, bought.after) == (Outcome.CHANGED, 2)
        await orch.apply_addon(DEFAULT_TENANT, "resource_mailbox", 2)  # room + equipment: full
        assert _writes(server) == []  # kept by mailadmin: Exchange has no such limit
        await orch.create_mailbox(
            DEFAULT_TENANT, NewMailbox(address=f"sales@{DOMAIN}", kind=MailboxKind.SHARED)
        )
        server.clear_requests()
        with pytest.raises(errors.QuotaExceeded, match="uses all 2 shared mailboxes"):
            await orch.create_mailbox(
                DEFAULT_TENANT, NewMailbox(address=f"help@{DOMAIN}", kind=MailboxKind.SHARED)
            )
        with pytest.raises(errors.QuotaExceeded, match="room and equipment"):
            await orch.create_mailbox(
                DEFAULT_TENANT, NewMailbox(address=f"lab@{DOMAIN}", kind=MailboxKind.ROOM)
            )
        assert [r for r in server.requests if r.route == "New-Mailbox"] == []
        assert f"help@{DOMAIN}" not in _tenant(server).mailboxes
        count = await orch.count_mailboxes(DEFAULT_TENANT)
        assert (count.of(MailboxKind.SHARED), count.of(MailboxKind.USER)) == (2, 3)


# -- licence, connection, tokens -----------------------------------------------------------


async def test_licence_adds_up_the_exchange_skus(
    licence: ExchangeProvider, server: MockServer
) -> None:
    _tenant(server).skus[1].enabled = 0
    _tenant(server).skus[1].warning = 4
    found = await licence.get_licence()
    assert (found.seats_licensed, found.seats_used, found.seats_free) == (25, 3, 22)
    assert {f.name: (f.quantity, f.used) for f in found.features} == {
        "EXCHANGESTANDARD": (25, 2),
        "EXCHANGEENTERPRISE": (0, 1),
    }
    assert found.state is LicenceState.ACTIVE


async def test_connection_reports_the_exchange_version(quota: ExchangeProvider) -> None:
    status = await quota.test_connection()
    assert status.ok and status.version == "Version 15.20 (Build 7587.36)"


async def test_one_token_per_scope_is_fetched_and_reused(
    licence: ExchangeProvider, server: MockServer
) -> None:
    await licence.count_mailboxes(TENANT)
    await licence.get_licence()
    await licence.set_plan(ANNA, "mail")
    await licence.count_mailboxes(TENANT)
    assert _tokens(server) == 2  # one for the admin API, one for Graph


async def test_a_provider_used_again_after_closing_still_signs_in(
    quota: ExchangeProvider, server: MockServer
) -> None:
    await quota.count_mailboxes(TENANT)
    await quota.aclose()
    count = await quota.count_mailboxes(TENANT)
    assert count.total == 6 and _tokens(server) == 2


async def test_an_expired_token_is_refreshed_once(
    quota: ExchangeProvider, server: MockServer
) -> None:
    await quota.count_mailboxes(TENANT)
    state = server.state
    assert isinstance(state, ExchangeState)
    state.oauth.expire_all()
    await quota.count_mailboxes(TENANT)
    assert _tokens(server) == 2


async def test_a_token_refused_again_after_refresh_is_an_authentication_error(
    quota: ExchangeProvider, server: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: TokenIssuer, request: Any, **_: Any) -> None:
        raise Reply(httpx.Response(401))

    monkeypatch.setattr(TokenIssuer, "check", refuse)
    with pytest.raises(errors.AuthenticationError, match="refused a freshly obtained session"):
        await quota.count_mailboxes(TENANT)
    assert _tokens(server) == 2  # the first token and one refresh, then it gives up
    assert sum(1 for r in server.requests if r.route == "Get-Mailbox") == 2


async def test_secrets_and_tokens_never_reach_errors_or_logs(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    _tenant(server).apps[0].secret = "s3cr3t-value-7f"
    caplog.set_level(logging.DEBUG)
    good = _settings(QUOTA_PLANS)
    good["credentials"] = {"username": "mock-client", "secret": "s3cr3t-value-7f"}
    async with ExchangeProvider(good, http=server.transport()) as provider:
        await provider.count_mailboxes(TENANT)
    state = server.state
    assert isinstance(state, ExchangeState)
    tokens = list(state.oauth._tokens)
    wrong = {**good, "credentials": {"username": "mock-client", "secret": "wr0ng-value-9c"}}
    async with ExchangeProvider(wrong, http=server.transport()) as provider:
        with pytest.raises(errors.AuthenticationError) as caught:
            await provider.count_mailboxes(TENANT)
    shown = str(caught.value) + repr(caught.value.debug) + caplog.text
    for secret in ["s3cr3t-value-7f", "wr0ng-value-9c", *tokens]:
        assert secret not in shown


# -- the wire as sent ----------------------------------------------------------------------


class _Seen(httpx.AsyncBaseTransport):
    """Passes every request to the mock and keeps it, headers included."""

    def __init__(self, server: MockServer) -> None:
        self._inner = server.transport()
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self._inner.handle_async_request(request)


async def test_invoke_command_carries_the_modules_headers(server: MockServer) -> None:
    seen = _Seen(server)
    async with ExchangeProvider(_settings(QUOTA_PLANS, page_size=500), http=seen) as provider:
        await provider.count_mailboxes(TENANT)
    token, *calls = seen.requests
    assert str(token.url) == (
        f"https://login.microsoftonline.com/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"
    )
    first = calls[0]
    assert first.url.host == "outlook.office365.com"
    assert first.url.path == f"/adminapi/beta/{DEFAULT_TENANT_ID}/InvokeCommand"
    assert first.headers["Authorization"].startswith("Bearer ")
    assert first.headers["X-AnchorMailbox"] == (
        f"APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{DEFAULT_TENANT_ID}"
    )
    assert first.headers["Prefer"] == "odata.maxpagesize=500"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-CmdletName"] == "Get-Mailbox"
    assert len(first.headers["client-request-id"]) == 36


async def test_new_mailbox_bodies_are_cipps(quota: ExchangeProvider, server: MockServer) -> None:
    await quota.create_mailbox(
        TENANT, NewMailbox(address=f"sales@{DOMAIN}", kind=MailboxKind.SHARED, display_name="Sales")
    )
    await quota.create_mailbox(TENANT, NewMailbox(address=f"lab@{DOMAIN}", kind=MailboxKind.ROOM))
    bodies = [json.loads(r.body) for r in server.requests if r.route == "New-Mailbox"]
    assert [b["CmdletInput"]["Parameters"] for b in bodies] == [
        {
            "Name": "sales",
            "DisplayName": "Sales",
            "PrimarySmtpAddress": f"sales@{DOMAIN}",
            "Shared": True,
        },
        {"Name": "lab", "DisplayName": "lab", "PrimarySmtpAddress": f"lab@{DOMAIN}", "Room": True},
    ]


async def test_machpanels_9999_shared_and_resource_mailboxes_are_kept_apart(
    server: MockServer, tmp_path: Path
) -> None:
    config = {
        "instances": {"exchange": {"provider": "exchange", **_settings(QUOTA_PLANS)}},
        "tenants": {DEFAULT_TENANT: {"instance": "exchange"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"},
    }
    async with Orchestrator.from_dict(config, http={"exchange": server.transport()}) as orch:
        for addon in ("shared_mailbox", "resource_mailbox"):
            sold = await orch.apply_addon(DEFAULT_TENANT, addon, 9999)
            assert sold.after == 9999
        await orch.create_mailbox(
            DEFAULT_TENANT, NewMailbox(address=f"van@{DOMAIN}", kind=MailboxKind.EQUIPMENT)
        )
        count = await orch.count_mailboxes(DEFAULT_TENANT)
        uses = {row.addon: row.used for row in orch.allocation_use(count)}
    assert uses == {"resource_mailbox": 3, "shared_mailbox": 1}
    assert count.of(MailboxKind.USER) == 3  # user mailboxes are not in either allocation


async def test_licence_swap_whose_answer_was_lost_is_read_back_changed(
    licence: ExchangeProvider, server: MockServer
) -> None:
    server.inject(Fault(kind="drop", operation="assignLicense", handled=True))
    result = await licence.set_plan(ANNA, "sync")
    assert result.outcome is Outcome.CHANGED and "answer was lost" in result.note
    assert _mailbox(server, "anna").licenses == [ENTERPRISE]
    assert _writes(server) == ["assignLicense"]  # read back, not resent


async def test_licence_swap_that_never_landed_is_failed_after_reading_back(
    licence: ExchangeProvider, server: MockServer
) -> None:
    server.inject(Fault(kind="drop", operation="assignLicense"))
    with pytest.raises(errors.Unavailable) as caught:
        await licence.set_plan(ANNA, "sync")
    assert caught.value.debug["verified"]["applied"] == []
    assert _mailbox(server, "anna").licenses == [STANDARD]
