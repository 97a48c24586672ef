"""The OX provider's own rules, against its mock in process: what it sends for each
operation, in each mode, and how it reads OX's answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import canonicalize

import pytest
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.provider import OXProvider

from mailadmin.mock import Fault, MockServer
from mailadmin.sdk import MailboxKind, MailboxRef, NewMailbox, Outcome, TenantRef, errors

if TYPE_CHECKING:
    from conftest import Load, Make

EXAMPLE = TenantRef(name="example.com", native_id="1")


# The logins each mode signs in with (the shared ``make`` fixture uses the same).
LOGINS = {
    "context_admin": "oxadmin",
    "master_admin": "oxadminmaster",
    "reseller": "reseller",
}


def _mailbox(address: str, tenant: TenantRef = EXAMPLE) -> MailboxRef:
    return MailboxRef(tenant=tenant, address=address)


def _routes(server: MockServer) -> list[str | None]:
    return [r.route for r in server.requests]


# -- set_plan ----------------------------------------------------------------------------------


async def test_set_plan_sends_the_reference_request(
    make: Make, seed: dict[str, Any], load: Load
) -> None:
    server = MockServer(OXMock, seed=seed)
    provider = make(server, plans={"sync": {"access_combination": "pim_mobility"}})

    result = await provider.set_plan(
        _mailbox("john@example.org", TenantRef(name="example.org", native_id="42")), "sync"
    )

    # john's "pim" maps to no configured plan, so the native name stands for it
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "pim", "sync")
    assert _routes(server) == [
        "OXUserService.getAccessCombinationName",
        "OXUserService.changeByModuleAccessName",
    ]
    sent = server.writes()[0].body
    reference = load("change_by_module_access_name.qualified.request.xml")
    assert canonicalize(sent, strip_text=True) == canonicalize(reference, strip_text=True)


async def test_set_plan_switches_the_combination_then_the_quota(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    result = await provider.set_plan(_mailbox("anna@example.com"), "sync")

    anna = server.state.contexts[1].user_named("anna")  # type: ignore[attr-defined]
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "mail", "sync")
    assert [r.route for r in server.writes()] == [
        "OXUserService.changeByModuleAccessName",
        "OXUserService.change",
    ]
    assert server.state.combination_of(anna.access) == "pim_mobility"  # type: ignore[attr-defined]
    assert anna.max_quota == 5120


async def test_a_mailbox_already_on_the_plan_is_unchanged_and_nothing_is_written(
    make: Make,
) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    result = await provider.set_plan(_mailbox("ben@example.com"), "sync")

    assert (result.outcome, result.before) == (Outcome.UNCHANGED, "sync")
    assert server.writes() == []
    assert _routes(server)[0] == "OXUserService.getAccessCombinationName"


async def test_only_what_differs_is_sent(make: Make) -> None:
    server = MockServer(OXMock)
    server.state.contexts[1].user_named("ben").max_quota = 100  # type: ignore[attr-defined]
    provider = make(server)

    result = await provider.set_plan(_mailbox("ben@example.com"), "sync")

    assert result.outcome is Outcome.CHANGED
    assert [r.route for r in server.writes()] == ["OXUserService.change"]
    assert b"<d:maxQuota>5120</d:maxQuota>" in server.writes()[0].body


async def test_a_dry_run_reads_and_writes_nothing(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    result = await provider.set_plan(_mailbox("anna@example.com"), "collaborate", dry_run=True)

    assert (result.outcome, result.dry_run, result.after) == (Outcome.CHANGED, True, "collaborate")
    assert server.writes() == []
    assert len(server.requests) == 2  # the combination and the user's data were read


async def test_class_of_service_and_attributes_are_user_attributes(make: Make) -> None:
    server = MockServer(OXMock)
    plans = {
        "pro": {
            "access_combination": "groupware_premium",
            "quota_mb": 10240,
            "class_of_service": "cloud_productivity",
            "user_attributes": {"config": {"com.openexchange.unifiedquota.enabled": "true"}},
        }
    }
    provider = make(server, plans=plans)

    first = await provider.set_plan(_mailbox("carla@example.com"), "pro")
    second = await provider.set_plan(_mailbox("carla@example.com"), "pro")

    carla = server.state.contexts[1].user_named("carla")  # type: ignore[attr-defined]
    assert (first.outcome, second.outcome) == (Outcome.CHANGED, Outcome.UNCHANGED)
    assert carla.attributes == {
        "cloud": {"service": "cloud_productivity"},
        "config": {"com.openexchange.unifiedquota.enabled": "true"},
    }
    assert [r.route for r in server.writes()] == ["OXUserService.change"]


async def test_a_reseller_limit_stops_the_switch_before_the_quota(make: Make) -> None:
    server = MockServer(OXMock)
    server.state.contexts[1].restrictions["Context.MaxUserByModuleaccess_pim_mobility"] = "1"  # type: ignore[attr-defined]
    provider = make(server, mode="reseller")

    with pytest.raises(errors.QuotaExceeded) as caught:
        await provider.set_plan(_mailbox("anna@example.com"), "sync")

    assert "limit for this plan of 1" in str(caught.value)
    assert [r.route for r in server.writes()] == ["OXResellerUserService.changeByModuleAccessName"]


async def test_a_missing_mailbox_is_not_found_and_a_missing_context_is_refused(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    with pytest.raises(errors.NotFoundError):
        await provider.set_plan(_mailbox("nobody@example.com"), "sync")
    with pytest.raises(errors.AuthenticationError) as caught:
        await provider.set_plan(
            _mailbox("anna@example.com", TenantRef(name="x.example", native_id="99")), "sync"
        )

    assert "secret" not in str(caught.value)
    assert caught.value.debug["faultstring"] == "Authentication failed"


async def test_logins_can_be_whole_addresses(make: Make) -> None:
    server = MockServer(
        OXMock,
        seed={
            "contexts": [
                {
                    "id": 5,
                    "name": "cloud.example",
                    "users": [{"name": "eve@cloud.example", "access_combination": "pim"}],
                }
            ]
        },
    )
    provider = make(server, login="address")

    result = await provider.set_plan(
        _mailbox("eve@cloud.example", TenantRef(name="cloud.example", native_id="5")), "sync"
    )

    assert result.before == "mail"
    assert b"<d:name>eve@cloud.example</d:name>" in server.writes()[0].body


async def test_per_context_logins_are_used_for_their_context(make: Make) -> None:
    server = MockServer(
        OXMock,
        seed={
            "contexts": [
                {
                    "id": 6,
                    "name": "six.example",
                    "users": [
                        {"name": "admin6", "password": "six", "contextadmin": True},
                        {"name": "sam", "access_combination": "pim"},
                    ],
                }
            ]
        },
    )
    provider = make(server, context_credentials={"6": {"username": "admin6", "secret": "six"}})

    result = await provider.set_plan(
        _mailbox("sam@six.example", TenantRef(name="six.example", native_id="6")), "sync"
    )

    assert result.outcome is Outcome.CHANGED
    assert b"<r:login>admin6</r:login>" in server.writes()[0].body


async def test_an_idempotent_switch_is_resent_after_a_lost_answer_and_a_create_is_not(
    make: Make,
) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    async def no_wait(seconds: float) -> None:
        return None

    provider.http.sleep = no_wait
    server.inject(
        Fault(kind="status", status=503, operation="changeByModuleAccessName", calls=frozenset({1}))
    )
    server.inject(
        Fault(kind="status", status=503, operation="createByModuleAccessName", calls=frozenset({1}))
    )

    result = await provider.set_plan(_mailbox("anna@example.com"), "sync")
    with pytest.raises(errors.Unavailable):
        await provider.create_mailbox(EXAMPLE, NewMailbox(address="dora@example.com", plan="mail"))

    assert result.outcome is Outcome.CHANGED
    assert len(server.calls("changeByModuleAccessName")) == 2
    assert len(server.calls("createByModuleAccessName")) == 1


# -- counting ----------------------------------------------------------------------------------


async def test_counts_by_kind_and_plan(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)
    await provider.create_mailbox(
        EXAMPLE, NewMailbox(address="beamer@example.com", kind=MailboxKind.EQUIPMENT)
    )

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.by_kind == {
        MailboxKind.USER: 4,
        MailboxKind.SHARED: 1,
        MailboxKind.ROOM: 1,
        MailboxKind.EQUIPMENT: 1,
    }
    # The context admin (combination "all") is a user no plan maps to.
    assert count.by_plan == {"mail": 1, "sync": 1, "collaborate": 1, "unmapped": 1}
    assert "OXUserService.getMultipleData" not in _routes(server)


async def test_the_context_admin_can_be_left_out(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server, count_context_admin=False)

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.of(MailboxKind.USER) == 3
    assert count.by_plan == {"mail": 1, "sync": 1, "collaborate": 1}


async def test_plans_sharing_a_combination_are_told_apart_by_quota(make: Make) -> None:
    server = MockServer(OXMock)
    plans = {
        "mail": {"access_combination": "pim", "quota_mb": 1024},
        "mail_plus": {"access_combination": "pim", "quota_mb": 2048},
    }
    provider = make(server, plans=plans)

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.by_plan == {"mail": 0, "mail_plus": 1, "unmapped": 3}
    assert _routes(server).count("OXUserService.getMultipleData") == 1


async def test_a_reseller_counts_through_the_reseller_user_service(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server, mode="reseller")

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.total == 6
    routes = set(_routes(server))
    assert {
        "OXResellerUserService.listAll",
        "OXResellerUserService.getAccessCombinationName",
        "OXSecondaryAccountService.list",
        "OXResourceService.listAll",
    } <= routes
    assert "OXUserService.listAll" not in routes


async def test_list_mailboxes_names_every_kind(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    found = {m.address: m for m in await provider.list_mailboxes(EXAMPLE)}

    assert found["anna@example.com"].plan == "mail" and found["anna@example.com"].quota_mb == 2048
    assert found["info@example.com"].kind is MailboxKind.SHARED
    assert found["room-1@example.com"].kind is MailboxKind.ROOM
    # The context admin's combination ("all") maps to no plan: "unmapped", as counted.
    assert found["oxadmin@example.com"].plan == "unmapped"


# -- add-ons and licence ----------------------------------------------------------------------


async def test_seats_are_restrictions_merged_into_the_context(make: Make) -> None:
    server = MockServer(OXMock)
    server.state.contexts[1].restrictions["Context.MaxUser"] = "10"  # type: ignore[attr-defined]
    provider = make(server, mode="reseller")

    result = await provider.apply_addon(EXAMPLE, "mailboxes:collaborate", 5)
    again = await provider.apply_addon(EXAMPLE, "mailboxes:collaborate", 5)

    assert (result.outcome, result.before, again.outcome) == (
        Outcome.CHANGED,
        None,
        Outcome.UNCHANGED,
    )
    assert server.state.contexts[1].restrictions == {  # type: ignore[attr-defined]
        "Context.MaxUser": "10",
        "Context.MaxUserByModuleaccess_groupware_premium": "5",
    }
    assert [r.route for r in server.writes()] == ["OXResellerContextService.change"]


async def test_storage_is_the_context_quota_above_the_base(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server, mode="master_admin")

    result = await provider.apply_addon(EXAMPLE, "storage_gb", 3)
    smaller = await provider.apply_addon(EXAMPLE, "storage_gb", 1)

    assert (result.before, result.after, smaller.before) == (0, 3, 3)
    assert server.state.contexts[1].max_quota == 1024 + 1024  # type: ignore[attr-defined]
    assert [r.route for r in server.writes()] == ["OXContextService.change"] * 2


async def test_a_context_admin_cannot_buy_add_ons(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    with pytest.raises(errors.UnsupportedOperation) as caught:
        await provider.apply_addon(EXAMPLE, "mailboxes", 10)

    assert "master_admin" in str(caught.value)
    assert server.requests == []


def test_a_context_admin_instance_has_no_add_ons(make: Make) -> None:
    server = MockServer(OXMock)
    admin, master = make(server), make(server, mode="master_admin")

    assert admin.instance_capabilities.addons == frozenset()
    assert "master_admin" in admin.instance_capabilities.reason("addon:storage_gb")
    assert master.instance_capabilities == OXProvider.capabilities
    assert not admin.instance_capabilities.supports("addon:mailboxes")
    assert admin.instance_capabilities.supports("create_mailbox")


async def test_the_licence_is_the_resellers_restrictions_against_live_counts(make: Make) -> None:
    server = MockServer(
        OXMock,
        seed={
            "resellers": [
                {
                    "name": "reseller",
                    "password": "secret",
                    "restrictions": {
                        "Subadmin.MaxOverallUser": "3",
                        "Subadmin.MaxContext": "4",
                        "Subadmin.MaxOverallUserByModuleaccess_pim_mobility": "2",
                    },
                }
            ]
        },
    )
    provider = make(server, mode="reseller")

    licence = await provider.get_licence()

    assert (licence.seats_licensed, licence.seats_used, licence.over_used) == (3, 4, True)
    features = {f.name: (f.quantity, f.used) for f in licence.features}
    assert features == {"contexts": (4, 1), "users:pim_mobility": (2, 1)}


async def test_without_a_reseller_the_seats_are_unlimited(make: Make) -> None:
    licence = await make(MockServer(OXMock), mode="master_admin").get_licence()

    assert (licence.seats_licensed, licence.seats_used, licence.seats_free) == (None, 4, None)


# -- catalogue, connection, mailboxes ---------------------------------------------------------


async def test_the_catalogue_is_the_combination_table_with_neutral_names(make: Make) -> None:
    plans = {p.native_name: p for p in await make(MockServer(OXMock)).list_plans()}

    assert plans["pim_mobility"].neutral_name == "sync"
    assert plans["pim_mobility"].quota_mb == 5120
    assert {"usm", "activesync", "syncml"} <= set(plans["pim_mobility"].features)
    assert plans["all"].neutral_name is None


@pytest.mark.parametrize("mode", sorted(LOGINS))
async def test_connection_checks_the_login_of_each_mode(make: Make, mode: str) -> None:
    server = MockServer(OXMock)
    good = await make(server, mode=mode).test_connection()
    bad = await make(
        server, mode=mode, credentials={"username": LOGINS[mode], "secret": "nope"}
    ).test_connection()

    assert good.ok and not bad.ok
    assert "nope" not in bad.detail


async def test_create_and_delete_each_kind(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    for kind in MailboxKind:
        address = f"new-{kind.value}@example.com"
        plan = "sync" if kind is MailboxKind.USER else None
        created = await provider.create_mailbox(
            EXAMPLE, NewMailbox(address=address, kind=kind, plan=plan, display_name="New One")
        )
        assert created.after is not None and created.after.kind is kind
        deleted = await provider.delete_mailbox(_mailbox(address))
        assert deleted.outcome is Outcome.CHANGED and deleted.before is not None
        assert deleted.before.kind is kind

    gone = await provider.delete_mailbox(_mailbox("new-user@example.com"))
    assert (gone.outcome, gone.before) == (Outcome.UNCHANGED, None)
    assert (await provider.count_mailboxes(EXAMPLE)).total == 6


async def test_a_new_user_gets_the_plan_quota_and_an_existing_one_is_unchanged(make: Make) -> None:
    server = MockServer(OXMock)
    provider = make(server)

    await provider.create_mailbox(
        EXAMPLE,
        NewMailbox(address="dora@example.com", plan="collaborate", display_name="Dora Explorer"),
    )
    # Creating what exists is unchanged on every platform (OX answers a conflict).
    again = await provider.create_mailbox(
        EXAMPLE, NewMailbox(address="dora@example.com", plan="mail"), dry_run=True
    )
    assert again.outcome is Outcome.UNCHANGED and again.dry_run
    again = await provider.create_mailbox(
        EXAMPLE, NewMailbox(address="dora@example.com", plan="mail")
    )
    assert again.outcome is Outcome.UNCHANGED and again.note == "it exists already"

    dora = server.state.contexts[1].user_named("dora")  # type: ignore[attr-defined]
    assert server.state.combination_of(dora.access) == "groupware_premium"  # type: ignore[attr-defined]
    assert (dora.max_quota, dora.fields["given_name"], dora.fields["sur_name"]) == (
        10240,
        "Dora",
        "Explorer",
    )
    # the dry run sent nothing; the real attempt was sent and refused
    assert [w.status for w in server.writes()] == [200, 500]


async def test_the_context_admin_cannot_be_deleted(make: Make) -> None:
    server = MockServer(OXMock)
    with pytest.raises(errors.ValidationError) as refused:
        await make(server).delete_mailbox(_mailbox("oxadmin@example.com"))
    # The user learns why, not only that the data was "invalid"; the admin is still there.
    assert "the context's admin user cannot be deleted" in refused.value.message
    assert "invalid" not in refused.value.message
    assert server.state.contexts[1].user_named("oxadmin") is not None  # type: ignore[attr-defined]


async def test_a_context_admin_suspends_its_users_but_not_its_context(make: Make) -> None:
    """A context admin may disable a user (``mailenabled``) but not its own context: that
    is the master's or the reseller's; refused before any request, with the reason."""
    server = MockServer(OXMock)
    provider = make(server)
    anna = MailboxRef(tenant=EXAMPLE, address="anna@example.com")

    suspended = await provider.suspend_mailbox(anna)
    assert (suspended.before, suspended.after) == ("active", "suspended")
    user = server.state.contexts[1].user_named("anna")  # type: ignore[attr-defined]
    assert user.fields["mailenabled"] is False
    server.clear_requests()
    with pytest.raises(errors.UnsupportedOperation) as caught:
        await provider.suspend_tenant(EXAMPLE)
    assert "master_admin" in str(caught.value)
    assert server.requests == []
    assert server.state.contexts[1].enabled  # type: ignore[attr-defined]


async def test_a_disabled_context_lets_none_of_its_users_in(make: Make) -> None:
    """What a suspension does on OX: the context admin's own calls are refused once the
    master disabled the context, and work again once it is enabled."""
    server = MockServer(OXMock)
    master, admin = make(server, mode="master_admin"), make(server)

    await master.suspend_tenant(EXAMPLE)
    with pytest.raises(errors.AuthenticationError):
        await admin.count_mailboxes(EXAMPLE)
    await master.resume_tenant(EXAMPLE)
    assert (await admin.count_mailboxes(EXAMPLE)).total > 0
