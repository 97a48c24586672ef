"""The Zextras provider against its in-process mock: what each operation writes is read
back from the mock's state (not only from the provider), sessions are reused and renewed
once, faults become typed errors, and neither the token nor the password shows anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from mailadmin_zextras.client import FAULTS, TooManyResults
from mailadmin_zextras.demo import sample_config
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState
from mailadmin_zextras.provider import ZextrasProvider

from mailadmin.mock import Fault, FaultKind, MockServer
from mailadmin.sdk import (
    LicenceState,
    MailboxKind,
    MailboxRef,
    NewMailbox,
    Outcome,
    Redactor,
    TenantRef,
    errors,
)

TENANT = TenantRef(name="example.com")
GIB = 1024**3


def _settings(**extra: Any) -> dict[str, Any]:
    instance = sample_config()["instances"]["zextras"]
    return {**{k: v for k, v in instance.items() if k != "provider"}, **extra}


@pytest.fixture
def mock() -> MockServer:
    return MockServer(ZextrasMock)


@pytest.fixture
def state(mock: MockServer) -> ZextrasState:
    assert isinstance(mock.state, ZextrasState)
    return mock.state


@pytest.fixture
async def provider(mock: MockServer) -> Any:
    async with ZextrasProvider(_settings(retries=0), http=mock.transport()) as made:
        yield made


def _mailbox(address: str) -> MailboxRef:
    return MailboxRef(tenant=TENANT, address=address)


async def test_set_plan_writes_the_cos_id(provider: ZextrasProvider, state: ZextrasState) -> None:
    result = await provider.set_plan(_mailbox("anna@example.com"), "sync")
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "mail", "sync")
    anna = state.account_by_name("anna@example.com")
    assert anna.first("zimbraCOSId") == state.cos_by("name", "sync").id
    again = await provider.set_plan(_mailbox("anna@example.com"), "sync")
    assert again.outcome is Outcome.UNCHANGED


async def test_the_domain_default_cos_is_already_the_plan(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    """Anna has no zimbraCOSId: the domain default (mail) is her plan; nothing is sent."""
    result = await provider.set_plan(_mailbox("anna@example.com"), "mail")
    assert result.outcome is Outcome.UNCHANGED
    assert not mock.writes()
    assert state.account_by_name("anna@example.com").first("zimbraCOSId") is None


async def test_dry_run_sends_nothing(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    result = await provider.set_plan(_mailbox("anna@example.com"), "sync", dry_run=True)
    assert (result.outcome, result.dry_run) == (Outcome.CHANGED, True)
    assert not mock.writes()
    assert state.effective_cos(state.account_by_name("anna@example.com")).name == "mail"


async def test_counts_by_kind_and_plan(provider: ZextrasProvider, state: ZextrasState) -> None:
    count = await provider.count_mailboxes(TENANT)
    assert count.by_kind == {
        MailboxKind.USER: 4,  # admin, anna, ben, carla (info is shared; system accounts out)
        MailboxKind.SHARED: 1,
        MailboxKind.ROOM: 1,
        MailboxKind.EQUIPMENT: 1,
    }
    assert count.by_plan == {"mail": 2, "sync": 1, "collaborate": 1}
    # An account on a COS no plan maps to is counted as unmapped.
    state.modify_account(
        state.account_by_name("carla@example.com").id,
        [("zimbraCOSId", "e00428a1-0c00-11d9-836a-000d93afea2a")],
    )
    count = await provider.count_mailboxes(TENANT)
    assert count.by_plan == {"mail": 2, "sync": 1, "unmapped": 1}


async def test_counts_agree_with_the_documented_licence_filter(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    count = await provider.count_mailboxes(TENANT)
    # Users and shared mailboxes are what the Zextras licence filter counts (one domain).
    assert count.of(MailboxKind.USER) + count.of(MailboxKind.SHARED) == state.licensed_mailboxes()
    assert {r.operation for r in mock.requests} >= {"CountAccountRequest", "SearchDirectoryRequest"}


async def test_addons_write_domain_limits(provider: ZextrasProvider, state: ZextrasState) -> None:
    seats = await provider.apply_addon(TENANT, "mailboxes", 20)
    assert (seats.before, seats.after) == (None, 20)
    per_plan = await provider.apply_addon(TENANT, "mailboxes:sync", 3)
    other = await provider.apply_addon(TENANT, "mailboxes:collaborate", 2)
    storage = await provider.apply_addon(TENANT, "storage_gb", 6)
    assert (per_plan.after, other.after, storage.after) == (3, 2, 6)
    domain = state.domain_by("name", "example.com")
    sync, collaborate = state.cos_by("name", "sync").id, state.cos_by("name", "collaborate").id
    # Every limit is kept: seats, both per-COS caps and storage.
    assert domain.first("zimbraDomainMaxAccounts") == "20"
    assert sorted(domain.values("zimbraDomainCOSMaxAccounts")) == sorted(
        [f"{sync}:3", f"{collaborate}:2"]
    )
    assert domain.first("zimbraDomainAggregateQuota") == str(6 * GIB)
    changed = await provider.apply_addon(TENANT, "mailboxes:sync", 4)
    assert (changed.before, changed.after) == (3, 4)
    assert sorted(
        state.domain_by("name", "example.com").values("zimbraDomainCOSMaxAccounts")
    ) == sorted([f"{sync}:4", f"{collaborate}:2"])


async def test_seat_limit_refuses_a_plan_change(
    provider: ZextrasProvider, state: ZextrasState
) -> None:
    await provider.apply_addon(TENANT, "mailboxes:sync", 1)  # ben is on sync already
    with pytest.raises(errors.QuotaExceeded) as caught:
        await provider.set_plan(_mailbox("anna@example.com"), "sync")
    assert "account limit" in str(caught.value)
    assert state.effective_cos(state.account_by_name("anna@example.com")).name == "mail"


async def test_create_and_delete_each_kind(provider: ZextrasProvider, state: ZextrasState) -> None:
    kinds = {
        "u@example.com": (MailboxKind.USER, "sync"),
        "s@example.com": (MailboxKind.SHARED, None),
        "r@example.com": (MailboxKind.ROOM, None),
        "e@example.com": (MailboxKind.EQUIPMENT, None),
    }
    for address, (kind, plan) in kinds.items():
        result = await provider.create_mailbox(
            TENANT, NewMailbox(address=address, kind=kind, plan=plan, password="pw-9")
        )
        assert result.outcome is Outcome.CHANGED
    user = state.account_by_name("u@example.com")
    assert state.effective_cos(user).name == "sync" and user.password == "pw-9"
    assert state.account_by_name("s@example.com").first("zimbraNotes") == "mailadmin-shared"
    room = state.account_by_name("r@example.com")
    assert room.calresource and room.first("zimbraCalResType") == "Location"
    assert state.account_by_name("e@example.com").first("zimbraCalResType") == "Equipment"
    listed = {m.address: m.kind for m in await provider.list_mailboxes(TENANT)}
    assert {a: listed[a] for a in kinds} == {a: k for a, (k, _) in kinds.items()}
    for address in kinds:
        gone = await provider.delete_mailbox(_mailbox(address))
        assert gone.outcome is Outcome.CHANGED
        with pytest.raises(Exception, match="no such"):
            state.account_by_name(address)


async def test_creating_an_existing_mailbox_is_unchanged_another_kind_a_conflict(
    provider: ZextrasProvider, state: ZextrasState
) -> None:
    again = await provider.create_mailbox(TENANT, NewMailbox(address="anna@example.com"))
    assert again.outcome is Outcome.UNCHANGED and again.after is not None
    state.account_by_name("anna@example.com")  # still the one account
    with pytest.raises(errors.ConflictError):
        await provider.create_mailbox(
            TENANT, NewMailbox(address="anna@example.com", kind=MailboxKind.SHARED)
        )


async def test_list_plans_reads_the_cos_catalogue(provider: ZextrasProvider) -> None:
    plans = {p.native_name: p for p in await provider.list_plans()}
    assert set(plans) == {"default", "mail", "sync", "collaborate"}
    assert plans["sync"].neutral_name == "sync" and plans["sync"].quota_mb == 5 * 1024
    assert "MobileSync" in plans["sync"].features and "MobileSync" not in plans["mail"].features
    assert plans["default"].neutral_name is None


async def test_licence_trial_then_activated(provider: ZextrasProvider, state: ZextrasState) -> None:
    trial = await provider.get_licence()
    assert trial.state is LicenceState.TRIAL
    assert (trial.seats_licensed, trial.seats_used) == (50, 5)
    assert trial.valid_until is not None and trial.valid_from is not None
    assert (trial.valid_until - trial.valid_from).days == 30
    state.activate_licence("MOCK-PRO-100")
    active = await provider.get_licence()
    assert active.state is LicenceState.ACTIVE and active.seats_licensed == 100
    names = {f.name: f.quantity for f in active.features}
    assert names["edition:pro"] == 100 and names["edition:team_pro"] == 10
    assert "activesync_basic" in names and "edition:mobile" not in names


async def test_unlimited_and_expired_licence(
    provider: ZextrasProvider, state: ZextrasState
) -> None:
    state.activate_licence("MOCK-PRO-100")
    assert state.data.licence.active is not None
    state.data.licence.active.licensedUsers = "unlimited"
    unlimited = await provider.get_licence()
    assert unlimited.seats_licensed is None and unlimited.seats_free is None
    state.data.licence.active.dateEnd = state.now_ms - 1000
    assert (await provider.get_licence()).state is LicenceState.EXPIRED


async def test_licence_of_a_named_server(mock: MockServer) -> None:
    async with ZextrasProvider(
        _settings(licence_server="mail.example.com"), http=mock.transport()
    ) as provider:
        licence = await provider.get_licence()
    assert licence.seats_used == 5
    body = json.loads(next(r.body for r in mock.requests if r.operation == "zextras"))
    assert body["Body"]["zextras"]["targetServers"] == "mail.example.com"


async def test_one_sign_in_for_many_calls_and_one_renewal(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    await provider.count_mailboxes(TENANT)
    await provider.list_plans()
    signins = [r for r in mock.requests if r.operation == "AuthRequest"]
    assert len(signins) == 1
    state.expire_sessions()
    await provider.list_plans()
    signins = [r for r in mock.requests if r.operation == "AuthRequest"]
    assert len(signins) == 2, "an expired session is renewed once"
    assert any(r.status == 500 for r in mock.requests if r.operation == "GetAllCosRequest")


async def test_every_call_carries_the_token_in_the_header_context(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    await provider.list_plans()
    call = next(r for r in mock.requests if r.operation == "GetAllCosRequest")
    context = json.loads(call.body)["Header"]["context"]
    assert context["_jsns"] == "urn:zimbra"
    assert context["authToken"]["_content"] in state.sessions


async def test_wrong_password_and_secrets_never_shown(
    mock: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    creds = {"username": "admin@example.com", "secret": "wrong-pass-77"}
    async with ZextrasProvider(_settings(credentials=creds), http=mock.transport()) as provider:
        with pytest.raises(errors.AuthenticationError) as caught:
            await provider.list_plans()
        status = await provider.test_connection()
    assert not status.ok
    for text in (str(caught.value), repr(caught.value.debug), caplog.text, status.detail):
        assert "wrong-pass-77" not in text


async def test_token_never_logged_nor_in_errors(
    provider: ZextrasProvider, state: ZextrasState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await provider.list_plans()
    with pytest.raises(errors.NotFoundError) as caught:
        await provider.set_plan(_mailbox("nobody@example.com"), "mail")
    (token,) = state.sessions
    # Every call after the sign-in carries the token; none of them shows it.
    later = [r.getMessage() for r in caplog.records if "AuthResponse" not in r.getMessage()]
    assert not [line for line in later if token in line]
    assert token not in str(caught.value) + repr(caught.value.debug)


async def test_sign_in_answer_is_redacted_in_debug_logs(
    provider: ZextrasProvider, state: ZextrasState, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await provider.list_plans()
    (token,) = state.sessions
    assert token not in caplog.text


#: Every code of the reference's fault table and the mailadmin error it becomes.
FAULT_MAP = {
    "account.NO_SUCH_ACCOUNT": errors.NotFoundError,
    "account.ACCOUNT_EXISTS": errors.ConflictError,
    "account.NO_SUCH_COS": errors.NotFoundError,
    "account.NO_SUCH_DOMAIN": errors.NotFoundError,
    "account.NO_SUCH_CALENDAR_RESOURCE": errors.NotFoundError,
    "account.TOO_MANY_ACCOUNTS": errors.QuotaExceeded,
    "account.TOO_MANY_SEARCH_RESULTS": TooManyResults,
    "account.INVALID_ATTR_VALUE": errors.ValidationError,
    "account.INVALID_ATTR_NAME": errors.ValidationError,
    "account.AUTH_FAILED": errors.AuthenticationError,
    "service.PERM_DENIED": errors.AuthenticationError,
    "service.AUTH_REQUIRED": errors.AuthenticationError,
    "service.AUTH_EXPIRED": errors.AuthenticationError,
    "service.INVALID_REQUEST": errors.ValidationError,
    "service.UNKNOWN_DOCUMENT": errors.ProviderError,
    "service.FAILURE": errors.Unavailable,
    "ldap.OBJECT_CLASS_VIOLATION": errors.ValidationError,
    "service.SOMETHING_NEW": errors.ProviderError,
}


@pytest.mark.parametrize(("code", "error"), FAULT_MAP.items(), ids=list(FAULT_MAP))
def test_fault_table(code: str, error: type[errors.MailadminError]) -> None:
    body = {
        "Body": {
            "Fault": {
                "Code": {"Value": "soap:Sender"},
                "Reason": {"Text": "reason with token 0_secret-token"},
                "Detail": {"Error": {"Code": code, "_jsns": "urn:zimbra"}},
            }
        }
    }
    response = httpx.Response(500, json=body, request=httpx.Request("POST", "https://x/soap"))
    with pytest.raises(error) as caught:
        FAULTS.raise_for(
            response,
            provider="zx",
            subject="anna@example.com",
            redactor=Redactor(["0_secret-token"]),
        )
    assert type(caught.value) is error
    assert "0_secret-token" not in str(caught.value) + repr(caught.value.debug)
    assert caught.value.debug.get("code") == code


async def test_server_errors_are_unavailable(provider: ZextrasProvider, mock: MockServer) -> None:
    mock.inject(Fault(kind=FaultKind.STATUS, status=500))
    with pytest.raises(errors.Unavailable):
        await provider.list_plans()


async def test_counts_and_list_agree_on_odd_accounts(
    provider: ZextrasProvider, state: ZextrasState, caplog: pytest.LogCaptureFixture
) -> None:
    """External virtual accounts and accounts flagged as system ones (even FALSE, as the
    documented filter tests presence) are neither counted nor listed; no warning."""
    state.create_account("ext@example.com", None, [("zimbraIsExternalVirtualAccount", "TRUE")])
    state.create_account("flag@example.com", None, [("zimbraIsSystemAccount", "FALSE")])
    state.create_account(
        "new@example.com", None, [("zimbraCOSId", state.cos_by("name", "sync").id)]
    )
    count = await provider.count_mailboxes(TENANT)
    listed = await provider.list_mailboxes(TENANT)
    assert count.of(MailboxKind.USER) == 5 and count.by_plan == {
        "mail": 2,
        "sync": 2,
        "collaborate": 1,
    }
    assert len(listed) == count.total
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


async def test_concurrent_addons_keep_every_limit(
    provider: ZextrasProvider, state: ZextrasState
) -> None:
    """Per-plan caps share one multi-valued attribute, read, changed and written whole:
    concurrent add-ons on one domain must not lose each other's values."""
    await asyncio.gather(
        provider.apply_addon(TENANT, "mailboxes:mail", 7),
        provider.apply_addon(TENANT, "mailboxes:sync", 3),
        provider.apply_addon(TENANT, "mailboxes:collaborate", 2),
        provider.apply_addon(TENANT, "mailboxes", 20),
        provider.apply_addon(TENANT, "storage_gb", 9),
    )
    domain = state.domain_by("name", "example.com")
    ids = {c.name: c.id for c in state.data.coses}
    assert sorted(domain.values("zimbraDomainCOSMaxAccounts")) == sorted(
        [f"{ids['mail']}:7", f"{ids['sync']}:3", f"{ids['collaborate']}:2"]
    )
    assert domain.first("zimbraDomainMaxAccounts") == "20"
    assert domain.first("zimbraDomainAggregateQuota") == str(9 * GIB)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("unclassified", {"user": 3, "shared": 1, "unclassified": 1}),
        ("shared", {"user": 3, "shared": 2, "unclassified": 0}),
        ("user", {"user": 4, "shared": 1, "unclassified": 0}),
    ],
)
async def test_delegated_accounts_follow_the_instance_setting(
    mock: MockServer, state: ZextrasState, setting: str, expected: dict[str, int]
) -> None:
    # Made outside mailadmin: ben granted sendAs on his account (the Delegates tab), carla
    # only a right that delegates no mailbox, anna a denied sendAs.
    ids = {n: state.account_by_name(f"{n}@example.com").id for n in ("ben", "carla", "anna")}
    state.modify_account(ids["ben"], [("zimbraACE", f"{ids['anna']} usr sendAs")])
    state.modify_account(ids["carla"], [("zimbraACE", f"{ids['anna']} usr viewFreeBusy")])
    state.modify_account(ids["anna"], [("zimbraACE", f"{ids['ben']} usr -sendAs")])
    settings = _settings(retries=0, delegated_accounts=setting)
    async with ZextrasProvider(settings, http=mock.transport()) as provider:
        count = await provider.count_mailboxes(TENANT)
        listed = {m.address: m.kind for m in await provider.list_mailboxes(TENANT)}
    # The listing agrees with the count: ben under the kind the setting gives, or not
    # listed when the count reports him unclassified.
    kind = {"shared": MailboxKind.SHARED, "user": MailboxKind.USER}.get(setting)
    assert listed.get("ben@example.com") is kind
    assert listed["carla@example.com"] is listed["anna@example.com"] is MailboxKind.USER
    assert len(listed) == count.total
    assert {
        "user": count.of(MailboxKind.USER),
        "shared": count.of(MailboxKind.SHARED),
        "unclassified": count.unclassified,
    } == expected
    # by_plan counts users only: ben (sync) leaves it unless delegated accounts are users.
    assert sum(count.by_plan.values()) == expected["user"]


def _json_200(body: dict[str, Any], operation: str) -> Fault:
    return Fault(
        kind=FaultKind.STATUS,
        status=200,
        operation=operation,
        body=json.dumps(body),
        content_type="application/json",
    )


async def test_a_fault_inside_a_200_is_the_typed_error_and_nothing_is_changed(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    """The answer's body decides, not its status: a Fault with HTTP 200 is a refusal."""
    fault = {
        "Body": {
            "Fault": {
                "Code": {"Value": "soap:Sender"},
                "Reason": {"Text": "no such account: anna@example.com"},
                "Detail": {"Error": {"Code": "account.NO_SUCH_ACCOUNT"}},
            }
        }
    }
    mock.inject(_json_200(fault, "ModifyAccountRequest"))
    with pytest.raises(errors.NotFoundError, match="no such mailbox anna@example.com"):
        await provider.set_plan(_mailbox("anna@example.com"), "sync")
    anna = state.account_by_name("anna@example.com")
    assert anna.first("zimbraCOSId") != state.cos_by("name", "sync").id


async def test_an_answer_of_another_request_after_a_write_is_unknown_not_changed(
    provider: ZextrasProvider, mock: MockServer, state: ZextrasState
) -> None:
    other = {"Body": {"GetVersionInfoResponse": {"info": {"version": "x"}}}}
    mock.inject(_json_200(other, "ModifyAccountRequest"))
    with pytest.raises(errors.OutcomeUnknown):
        await provider.set_plan(_mailbox("anna@example.com"), "sync")
    anna = state.account_by_name("anna@example.com")
    assert anna.first("zimbraCOSId") != state.cos_by("name", "sync").id
