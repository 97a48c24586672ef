"""Policies with the seed documents' values: seeds 000, 001 and 002, each with its own example."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.capabilities import LicenceKind, LicenceModel
from mailadmin.contract.models import MailboxKind, NewMailbox
from mailadmin.mock import MockServer
from mailadmin.orchestration.registry import Registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.provider import MemoryProvider
from mailadmin.rules.orders import OrderKind, OrderState
from mailadmin.rules.policies import (
    SELF_SERVICE_DENIED,
    SIGN_IN_AGAIN,
    PoliciesConfig,
    PolicySettings,
    downgrade_window,
    licence_upgrade,
    licences_required,
)
from mailadmin.rules.tenancy import CustomerSpec

from .conftest import Platform

# -- seed 000: the "allow upgrade" switch ----------------------------------------------------------


async def test_seed_000_a_user_may_not_change_its_plan_unless_allowed(platform: Platform) -> None:
    user = platform.users[0]
    await platform.orch.set_plan(user, "mail")  # start from the smallest plan
    as_user = platform.orch.acting_as(f"mailbox:{user}")
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied) as caught:
        await as_user.set_plan(user, "collaborate")
    assert str(caught.value) == "You are not allowed to upgrade or downgrade your account."
    assert caught.value.reason == "upgrade_not_allowed"
    assert platform.writes() == []
    assert platform.orch.journal is not None
    last = platform.orch.journal.entries(limit=1)[0]
    assert (last.operation, last.error_message) == ("set_plan", SELF_SERVICE_DENIED)

    # The site admin turns the switch on: the user's own change goes through, and the result
    # says to sign in again.
    platform.orch.rules.set_allow_upgrade(user, True)
    result = await as_user.set_plan(user, "collaborate")
    assert result.after == "collaborate" and result.note == SIGN_IN_AGAIN
    assert len(platform.writes()) >= 1
    listed = await platform.orch.list_mailboxes(platform.tenant)
    assert {m.address: m.plan for m in listed}[user] == "collaborate"


async def test_seed_000_admins_may_always_change_plans(platform: Platform) -> None:
    user = platform.users[0]
    platform.orch.rules.set_allow_upgrade(user, False)
    platform.orch.rules.tenancy.add_customer(platform.tenant)
    result = await platform.orch.acting_as(f"customer:{platform.tenant}").set_plan(user, "sync")
    assert result.after == "sync" and result.note == ""
    result = await platform.orch.set_plan(user, "collaborate")
    assert result.after == "collaborate"


async def test_seed_000_the_switch_default_is_per_reseller(platform: Platform) -> None:
    user = platform.users[0]
    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme"))
    platform.orch.rules.policies = PoliciesConfig(
        resellers={"acme": {"allow_upgrade_default": True}}
    )
    result = await platform.orch.acting_as(f"mailbox:{user}").set_plan(user, "collaborate")
    assert result.after == "collaborate"


# -- seed 001: one upgrade per order, the downgrade window ---------------------------------------------


def test_seed_001_the_second_upgrade_waits_until_the_first_invoice_is_paid(tmp_path) -> None:
    orch = _memory_orchestrator(tmp_path)
    rules = orch.rules
    rules.tenancy.add_customer("example.com", CustomerSpec(package={"user_mailboxes": 10}))
    plan = rules.place_order("example.com", "plan_upgrade", {"package": {"storage_gb": 20}})
    assert plan.state is OrderState.PENDING
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order("example.com", "seat_upgrade", {"add": 5})
    assert caught.value.reason == "order_open"
    assert str(caught.value) == (
        f"Order #{plan.id} (plan upgrade) of example.com must be paid before a "
        "seat upgrade can be ordered"
    )
    # "only after the first upgrade invoice is paid": paid is enough, applied is not needed.
    rules.orders.confirm(plan.id)
    seats = rules.place_order("example.com", "seat_upgrade", {"add": 5})
    assert seats.state is OrderState.PENDING
    assert seats.detail == {"add": 5, "current": 10, "total": 15, "sum": "10 + 5 = 15"}


async def test_seed_001_the_second_order_is_accepted_once_the_first_is_applied(tmp_path) -> None:
    server = MockServer(MemoryMock)
    orch = _memory_orchestrator(tmp_path, server)
    rules = orch.rules
    rules.tenancy.add_customer("example.com", CustomerSpec(package={"user_mailboxes": 10}))
    plan = rules.place_order("example.com", "plan_upgrade", {"package": {"shared_mailboxes": 4}})
    with pytest.raises(errors.PolicyDenied) as caught:
        await rules.apply_order(plan.id)
    assert caught.value.reason == "order_state"  # pending: not paid yet
    rules.orders.confirm(plan.id)
    assert (await rules.apply_order(plan.id)).state is OrderState.APPLIED
    assert rules.tenancy.allocation("customer", "example.com") == {
        "user_mailboxes": 10,
        "shared_mailboxes": 4,
    }

    seats = await rules.order_seat_upgrade("example.com", 5)
    assert seats.detail["sum"] == "10 + 5 = 15"
    rules.orders.confirm(seats.id)
    await rules.apply_order(seats.id)
    # The platform holds the new seat total, and it is the customer's one allocation.
    assert server.state.snapshot()["tenants"]["example.com"]["allocations"]["user_seats"] == 15
    assert rules.tenancy.allocation("customer", "example.com")["user_mailboxes"] == 15
    await orch.aclose()


@pytest.mark.parametrize("added", [0, -1, 10000, True, "5"])
def test_seed_001_a_seat_upgrade_takes_the_number_to_add(tmp_path, added) -> None:
    orch = _memory_orchestrator(tmp_path)
    orch.rules.tenancy.add_customer("example.com", CustomerSpec(package={"user_mailboxes": 10}))
    with pytest.raises(errors.ValidationError) as caught:
        orch.rules.place_order("example.com", "seat_upgrade", {"add": added})
    assert "number of accounts to add" in str(caught.value)
    with pytest.raises(errors.ValidationError):
        orch.rules.place_order("example.com", "seat_upgrade", {"mailboxes": 15})
    assert orch.rules.orders.all() == []


def test_seed_001_a_seat_upgrade_up_to_the_cap(tmp_path) -> None:
    orch = _memory_orchestrator(tmp_path)
    rules = orch.rules
    rules.tenancy.add_customer("example.com", CustomerSpec(package={"user_mailboxes": 10}))
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order("example.com", "seat_upgrade", {"add": 9990})
    assert caught.value.reason == "allocation_limit" and "10000" in str(caught.value)
    assert rules.place_order("example.com", "seat_upgrade", {"add": 9989}).detail["total"] == 9999


async def test_seed_001_a_seat_order_below_the_use_is_refused(platform: Platform) -> None:
    rules = platform.orch.rules
    counts = await platform.orch.count_mailboxes(platform.tenant)
    used = counts.by_kind.get(MailboxKind.USER, 0)
    assert used >= 2
    rules.tenancy.add_customer(platform.tenant, CustomerSpec(package={"user_mailboxes": 0}))
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied) as caught:
        await rules.order_seat_upgrade(platform.tenant, used - 1)
    assert caught.value.reason == "below_use"
    assert str(caught.value).startswith(
        f"{platform.tenant} uses {used} user mailboxes; a seat total of {used - 1}"
    )
    assert rules.orders.all() == [] and platform.writes() == []
    # Exactly the use is accepted, stated as 0 + used = used.
    order = await rules.order_seat_upgrade(platform.tenant, used)
    assert order.detail["sum"] == f"0 + {used} = {used}"


async def test_seed_001_a_plan_upgrade_with_a_seat_change_names_the_two_orders(
    platform: Platform,
) -> None:
    rules = platform.orch.rules
    rules.tenancy.add_customer(
        platform.tenant, CustomerSpec(package={"user_mailboxes": 10, "storage_gb": 10})
    )
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order(
            platform.tenant,
            "plan_upgrade",
            {"package": {"user_mailboxes": 40, "storage_gb": 50}},
        )
    assert caught.value.reason == "order_open"
    assert str(caught.value) == (
        f"A plan upgrade and a seat upgrade of {platform.tenant} are two orders: place a "
        "plan_upgrade of storage_gb=50 without user_mailboxes, then, once its invoice is "
        "paid, a seat_upgrade adding 30 accounts"
    )
    assert rules.orders.all() == []
    # The same seat count as the package is no seat change.
    same = {"package": {"user_mailboxes": 10, "storage_gb": 50}}
    assert rules.place_order(platform.tenant, "plan_upgrade", same).state is OrderState.PENDING


def test_seed_001_downgrades_only_15_to_30_days_before_renewal(tmp_path) -> None:
    orch = _memory_orchestrator(tmp_path)
    rules = orch.rules
    rules.tenancy.add_customer("example.com", CustomerSpec(renewal=date(2027, 1, 31)))
    window = downgrade_window(date(2027, 1, 31), PolicySettings())
    assert (window.opens, window.closes) == (date(2027, 1, 1), date(2027, 1, 16))
    for today, accepted in [
        (date(2026, 12, 31), False),  # 31 days before
        (date(2027, 1, 1), True),  # 30 days before
        (date(2027, 1, 16), True),  # 15 days before
        (date(2027, 1, 17), False),  # 14 days before
    ]:
        rules.today = lambda today=today: today
        if accepted:
            order = rules.place_order("example.com", "plan_downgrade", {})
            rules.orders.cancel(order.id)
        else:
            with pytest.raises(errors.PolicyDenied) as caught:
                rules.place_order("example.com", "plan_downgrade", {})
            assert caught.value.reason == "downgrade_window"
            assert "2027-01-01 to 2027-01-16" in str(caught.value)


async def test_seed_001_the_window_binds_orders_not_a_mailboxs_plan(platform: Platform) -> None:
    """Seed 000 lets a mailbox's admins, and its user when the switch is on, upgrade and
    downgrade it at any time; seed 001's window binds the package's downgrade order."""
    user = platform.users[1]
    await platform.orch.set_plan(user, "collaborate")
    rules = platform.orch.rules
    rules.tenancy.add_customer(platform.tenant, CustomerSpec(renewal=date(2027, 1, 31)))
    rules.set_allow_upgrade(user, True)
    for day in (date(2026, 11, 1), date(2026, 12, 31), date(2027, 1, 17)):  # outside
        rules.today = lambda day=day: day
        with pytest.raises(errors.PolicyDenied) as caught:
            rules.place_order(platform.tenant, "plan_downgrade", {})
        assert caught.value.reason == "downgrade_window"
        result = await platform.orch.acting_as(f"mailbox:{user}").set_plan(user, "mail")
        assert result.after == "mail" and result.note == SIGN_IN_AGAIN
        owner = platform.orch.acting_as(f"customer:{platform.tenant}")
        assert (await owner.set_plan(user, "collaborate")).after == "collaborate"
    listed = await platform.orch.list_mailboxes(platform.tenant)
    assert {m.address: m.plan for m in listed}[user] == "collaborate"
    rules.today = lambda: date(2027, 1, 1)  # 30 days before: open
    assert rules.place_order(platform.tenant, "plan_downgrade", {}).state is OrderState.PENDING


# -- seed 002: licensing per mailbox --------------------------------------------------------------------


def test_seed_002_an_upgrade_states_the_new_total() -> None:
    upgrade = licence_upgrade(10, 5, PolicySettings())
    assert (upgrade.total, str(upgrade)) == (15, "10 + 5 = 15")
    # Never below the minimum of 10.
    assert str(licence_upgrade(0, 3, PolicySettings())) == "0 + 10 = 10"
    assert licences_required(7, PolicySettings()) == 10
    assert licences_required(12, PolicySettings()) == 12
    # Configurable per instance.
    policies = PoliciesConfig(instances={"small": {"licence_minimum": 5}})
    assert licences_required(3, policies.settings("small")) == 5
    assert licences_required(3, policies.settings("other")) == 10


async def test_seed_002_a_licence_upgrade_order_carries_the_total(tmp_path) -> None:
    orch = _memory_orchestrator(tmp_path, MockServer(MemoryMock, seed={"licence": {"seats": 10}}))
    order = await orch.rules.order_licence_upgrade("eu", 5)
    assert order.kind is OrderKind.LICENCE_UPGRADE
    assert order.detail == {"current": 10, "added": 5, "total": 15}
    # An edition change is its own kind of order, and waits for the open upgrade.
    with pytest.raises(errors.PolicyDenied):
        orch.rules.place_order("eu", "edition_change", {"from": "mobile", "edition": "pro"})
    await orch.aclose()


async def test_seed_002_mailboxes_never_pass_the_licence(platform: Platform) -> None:
    orch = platform.orch
    licence = await orch.get_licence(orch.instances[0])
    if licence.seats_licensed is None:
        pytest.skip(f"{platform.name}'s mock licence is unlimited")
    provider = orch.provider(orch.instances[0])
    if not provider.instance_capabilities.supports("create_mailbox:user"):
        # Refused as unsupported before any rule is weighed (tests/test_pipeline.py).
        pytest.skip(f"{platform.name} does not create user mailboxes")
    # Policy on for this instance; a minimum one above the licence makes any creation pass it.
    orch.rules.policies = PoliciesConfig(
        per_mailbox_licence=True, licence_minimum=licence.seats_licensed + 1
    )
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied) as caught:
        await orch.create_mailbox(platform.tenant, NewMailbox(address=f"new@{platform.tenant}"))
    total = licence.seats_licensed + 1
    assert caught.value.reason == "licence_exceeded"
    assert str(caught.value).endswith(
        f"upgrade it to a total of {total} ({licence.seats_licensed} + 1 = {total})"
    )
    assert platform.writes() == []


async def test_seed_002_licensed_at_least_the_mailboxes(tmp_path) -> None:
    server = MockServer(MemoryMock, seed={"licence": {"seats": 12}})
    orch = _memory_orchestrator(
        tmp_path, server, policies={"instances": {"eu": {"per_mailbox_licence": True}}}
    )
    used = (await orch.get_licence("eu")).seats_used
    server.seed({"licence": {"seats": used}})
    with pytest.raises(errors.PolicyDenied) as caught:
        await orch.create_mailbox("example.com", NewMailbox(address="new@example.com"))
    assert str(caught.value) == (
        f"The licence of eu covers {used} mailboxes and {used} are in use; upgrade it to a "
        f"total of {max(used + 1, 10)} ({used} + {max(used + 1, 10) - used} = {max(used + 1, 10)})"
    )
    assert server.writes() == []
    await orch.aclose()


def _memory_orchestrator(
    tmp_path,
    server: MockServer | None = None,
    *,
    provider: str = "memory",
    registry: Registry | None = None,
    **extra,
) -> Orchestrator:
    server = server or MockServer(MemoryMock)
    config = {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "addons": {"mailboxes": {}, "shared_mailbox": {}},
        "instances": {
            "eu": {
                "provider": provider,
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "plans": {
                    "mail": {"native": "basic"},
                    "sync": {"native": "standard"},
                    "collaborate": {"native": "premium"},
                },
                "retries": 0,
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        **extra,
    }
    registry = registry or Registry(load=["reference"], disable=[])
    return Orchestrator.from_dict(
        config, registry=registry, http={"eu": server.router("http://memory.test")}
    )


async def test_seed_000_only_the_mailboxs_admins_set_the_switch(platform: Platform) -> None:
    user = platform.users[0]
    rules = platform.orch.rules
    rules.tenancy.add_reseller("acme")
    rules.tenancy.add_reseller("globex")
    rules.tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme"))
    for identity in (f"mailbox:{user}", "reseller:globex", "customer:other.test"):
        with platform.orch.acting_as(identity), pytest.raises(errors.PolicyDenied):
            rules.set_allow_upgrade(user, True)
    assert rules.tenancy.allow_upgrade(user) is None
    for identity in ("reseller:acme", f"customer:{platform.tenant}", "site-admin"):
        with platform.orch.acting_as(identity):
            rules.set_allow_upgrade(user, identity != "site-admin")
    assert rules.tenancy.allow_upgrade(user) is False


def test_seed_001_one_order_never_carries_both_upgrades(tmp_path) -> None:
    orch = _memory_orchestrator(tmp_path)
    orch.rules.tenancy.add_customer("example.com")
    for detail in ({"add": 15}, {"mailboxes": 15}, {"package": {"user_mailboxes": 20}}):
        with pytest.raises(errors.PolicyDenied) as caught:
            orch.rules.place_order("example.com", "plan_upgrade", detail)
        assert caught.value.reason == "order_open"
        assert "seat_upgrade adding" in str(caught.value)
    assert orch.rules.orders.all() == []


class _PerMailbox(MemoryProvider):
    """The memory platform licensed per mailbox, under a name the core knows nothing of."""

    name = "memory-per-mailbox"
    capabilities = MemoryProvider.capabilities.model_copy(
        update={"licence": LicenceModel(kind=LicenceKind.PER_MAILBOX, minimum=10)}
    )


class _Zextras(MemoryProvider):
    """A platform registered as "zextras" that declares seats: its name decides nothing."""

    name = "zextras"
    capabilities = MemoryProvider.capabilities.model_copy(
        update={"licence": LicenceModel(kind=LicenceKind.PER_SEAT)}
    )


def _declared_orchestrator(tmp_path, provider: type[MemoryProvider], seats: int) -> Orchestrator:
    from types import SimpleNamespace

    from mailadmin.contract.hookspecs import hookimpl

    @hookimpl
    def register(register) -> None:
        register(provider.name, provider=provider, mock=MemoryMock)

    plugin = SimpleNamespace(mailadmin_register_providers=register)
    tmp_path.mkdir(exist_ok=True)
    return _memory_orchestrator(
        tmp_path,
        MockServer(MemoryMock, seed={"licence": {"seats": seats}}),
        provider=provider.name,
        registry=Registry(entry_points=[(provider.name, plugin)], load=[provider.name]),
    )


@pytest.mark.parametrize(("provider", "enforced"), [(_PerMailbox, True), (_Zextras, False)])
async def test_seed_002_the_declared_licence_model_decides_not_the_platform_name(
    tmp_path, provider: type[MemoryProvider], enforced: bool
) -> None:
    probe = _declared_orchestrator(tmp_path / "probe", provider, seats=1000)
    used = (await probe.get_licence("eu")).seats_used
    await probe.aclose()
    orch = _declared_orchestrator(tmp_path, provider, seats=used)
    create = orch.create_mailbox("example.com", NewMailbox(address="new@example.com"))
    if enforced:
        with pytest.raises(errors.PolicyDenied) as caught:
            await create
        assert caught.value.reason == "licence_exceeded"
    else:
        assert (await create).changed
    await orch.aclose()


class _PerSeat(MemoryProvider):
    """The memory platform licensed per seat (as OX and Exchange declare)."""

    name = "memory-per-seat"
    capabilities = MemoryProvider.capabilities.model_copy(
        update={"licence": LicenceModel(kind=LicenceKind.PER_SEAT)}
    )


class _PerMailboxShared(MemoryProvider):
    """Licensed per mailbox, shared mailboxes counted (as Zextras declares)."""

    name = "memory-per-mailbox-shared"
    capabilities = MemoryProvider.capabilities.model_copy(
        update={
            "licence": LicenceModel(
                kind=LicenceKind.PER_MAILBOX, minimum=10, counted_kinds=("user", "shared")
            )
        }
    )


async def _used(tmp_path, provider: type[MemoryProvider]) -> int:
    probe = _declared_orchestrator(tmp_path / "probe", provider, seats=1000)
    used = (await probe.get_licence("eu")).seats_used
    await probe.aclose()
    assert used < 9  # the seed's boundaries below need room under the minimum
    return used


@pytest.mark.parametrize("seats", [9, 10, 11])
@pytest.mark.parametrize("provider", [_PerSeat, _PerMailbox])
async def test_seed_002_the_minimum_of_10_is_the_per_mailbox_models_only(
    tmp_path, provider: type[MemoryProvider], seats: int
) -> None:
    """An OX reseller with 6 seats and 4 used is compliant; "minimum 10" is Zextras's."""
    from mailadmin.reports import licences

    used = await _used(tmp_path, provider)
    orch = _declared_orchestrator(tmp_path, provider, seats=seats)
    (row,) = await licences.build(orch)
    if provider is _PerSeat:
        assert (row.required, row.to_buy, row.compliant) == (used, "", True)
    elif seats < 10:
        assert row.to_buy == f"{seats} + {10 - seats} = 10" and row.compliant is False
    else:
        assert (row.required, row.to_buy, row.compliant) == (10, "", True)
    order = await orch.rules.order_licence_upgrade("eu", 1)
    expected = seats + 1 if provider is _PerSeat or seats >= 10 else 10
    assert order.detail == {"current": seats, "added": expected - seats, "total": expected}
    await orch.aclose()


@pytest.mark.parametrize(("provider", "refused"), [(_PerMailboxShared, True), (_PerMailbox, False)])
async def test_seed_002_a_shared_mailbox_the_licence_counts_is_held_to_it(
    tmp_path, provider: type[MemoryProvider], refused: bool
) -> None:
    used = await _used(tmp_path, provider)
    orch = _declared_orchestrator(tmp_path, provider, seats=max(used, 10))
    orch.rules.policies = PoliciesConfig(licence_minimum=max(used, 10))
    if used < 10:
        # Fill the licence to its last seat with user mailboxes (the seed's 10 of 10).
        for n in range(10 - used):
            await orch.create_mailbox("example.com", NewMailbox(address=f"u{n}@example.com"))
    shared = NewMailbox(address="info2@example.com", kind=MailboxKind.SHARED)
    if refused:
        with pytest.raises(errors.PolicyDenied) as caught:
            await orch.create_mailbox("example.com", shared)
        assert caught.value.reason == "licence_exceeded"
        assert "upgrade it to a total of 11 (10 + 1 = 11)" in str(caught.value)
    else:
        assert (await orch.create_mailbox("example.com", shared)).changed
    await orch.aclose()


def test_seed_002_zextras_declares_its_shared_mailboxes_licensed() -> None:
    from mailadmin.orchestration.registry import get_registry

    providers = get_registry().providers()
    declared = {name: providers[name].load().capabilities.licence for name in ("zextras", "ox")}
    assert declared["zextras"].per_mailbox and "shared" in declared["zextras"].counted_kinds
    assert not declared["ox"].per_mailbox and declared["ox"].counted_kinds == ("user",)


@pytest.mark.parametrize(("mailboxes", "accepted"), [(9, False), (10, True), (11, True)])
def test_seed_002_team_pro_on_top_of_pro_at_least_10(tmp_path, mailboxes, accepted) -> None:
    orch = _memory_orchestrator(tmp_path)
    rules = orch.rules
    # Mobile -> Pro is an order of its own; Team Pro is not ordered from Mobile.
    team = {"edition": "team_pro", "mailboxes": mailboxes}
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order("eu", "edition_change", {**team, "from": "mobile"})
    assert caught.value.reason == "edition_rule"
    assert "Team Pro is added on top of Pro; eu is on mobile" in str(caught.value)
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order("eu", "edition_change", {"edition": "pro", "from": "mobile", "add": 5})
    assert caught.value.reason == "edition_rule"
    pro = rules.place_order("eu", "edition_change", {"edition": "pro", "from": "mobile"})
    assert pro.detail == {"edition": "pro", "from": "mobile"}
    rules.orders.confirm(pro.id)
    rules.orders.applied(pro.id)
    # Now on Pro (the applied order says so): Team Pro for at least 10 mailboxes.
    if accepted:
        order = rules.place_order("eu", "edition_change", team)
        assert order.detail == {"edition": "team_pro", "from": "pro", "mailboxes": mailboxes}
    else:
        with pytest.raises(errors.PolicyDenied) as caught:
            rules.place_order("eu", "edition_change", team)
        assert caught.value.reason == "edition_rule"
        assert "at least 10 mailboxes" in str(caught.value)
    with pytest.raises(errors.ValidationError, match="one of pro, mobile, team_pro"):
        rules.place_order("eu", "edition_change", {"edition": "gold"})


def test_seeds_001_002_renewals_roll_forward_a_term(tmp_path) -> None:
    """340 days after the 2027-01-31 renewal the window is the one before 2028-01-31."""
    from datetime import timedelta

    from mailadmin.reports import renewals

    orch = _memory_orchestrator(tmp_path)
    rules = orch.rules
    rules.tenancy.add_customer("example.com", CustomerSpec(renewal=date(2027, 1, 31)))
    assert date(2027, 1, 31) + timedelta(days=340) == date(2028, 1, 6)
    for today, accepted in [
        (date(2027, 1, 31), False),  # the renewal day itself: its window has closed
        (date(2027, 2, 1), False),  # the next renewal is a year away
        (date(2027, 12, 31), False),  # 31 days before 2028-01-31
        (date(2028, 1, 1), True),  # 30 days before
        (date(2028, 1, 6), True),  # 340 days after the renewal
        (date(2028, 1, 16), True),  # 15 days before
        (date(2028, 1, 17), False),  # 14 days before
    ]:
        rules.today = lambda today=today: today
        if accepted:
            rules.orders.cancel(rules.place_order("example.com", "plan_downgrade", {}).id)
        else:
            with pytest.raises(errors.PolicyDenied) as caught:
                rules.place_order("example.com", "plan_downgrade", {})
            assert caught.value.reason == "downgrade_window"
    rules.today = lambda: date(2028, 1, 6)
    (row,) = asyncio.run(renewals.build(orch))
    assert (row.renewal, row.days, row.window) == (date(2028, 1, 31), 25, "open")
    # No billing cycle: the recorded date is the one renewal, and it has passed.
    rules.policies = PoliciesConfig(renewal_term_months=0)
    assert asyncio.run(renewals.build(orch)) == []
    # A monthly term, from a 31st: Feb 28, then Mar 31.
    rules.policies = PoliciesConfig(renewal_term_months=1)
    rules.today = lambda: date(2027, 2, 1)
    assert asyncio.run(renewals.build(orch))[0].renewal == date(2027, 2, 28)
    rules.today = lambda: date(2027, 3, 1)
    assert asyncio.run(renewals.build(orch))[0].renewal == date(2027, 3, 31)


@pytest.mark.parametrize(
    ("until", "accepted"),
    [(date(2027, 6, 29), False), (date(2027, 6, 30), False), (date(2027, 7, 1), True)],
)
async def test_seed_002_a_licence_renewal_extends_the_expiry(tmp_path, until, accepted) -> None:
    seed = {"licence": {"seats": 10, "valid_until": "2027-06-30T00:00:00Z"}}
    orch = _memory_orchestrator(tmp_path, MockServer(MemoryMock, seed=seed))
    rules = orch.rules
    upgrade = await rules.order_licence_upgrade("eu", 5)
    rules.orders.confirm(upgrade.id)
    await rules.apply_order(upgrade.id)
    if not accepted:
        with pytest.raises(errors.ValidationError, match="expires 2027-06-30"):
            await rules.order_licence_renewal("eu", until)
        assert [o.kind for o in rules.orders.all("eu")] == [OrderKind.LICENCE_UPGRADE]
        await orch.aclose()
        return
    renewal = await rules.order_licence_renewal("eu", until)
    assert renewal.detail == {"until": "2027-07-01", "from": "2027-06-30"}
    rules.orders.confirm(renewal.id)
    assert (await rules.apply_order(renewal.id)).state is OrderState.APPLIED
    # Seed 002's RENEWED: the licence order the renewal extended.
    assert rules.orders.get(upgrade.id).state is OrderState.RENEWED
    await orch.aclose()


@pytest.mark.parametrize(
    ("today", "years", "expected"),
    [
        # Valid on 2027-06-30: cumulative, one more year runs on from the present end.
        (date(2027, 6, 29), 1, ("2028-06-30", 0)),
        (date(2027, 6, 30), 1, ("2028-06-30", 0)),
        # Lapsed: paid from the end date; 30 days missed, still within the added year.
        (date(2027, 7, 30), 1, ("2028-06-30", 30)),
        # Lapsed past a whole year: one year would end before today.
        (date(2028, 7, 1), 1, None),
        (date(2028, 7, 1), 2, ("2029-06-30", 367)),
    ],
)
async def test_seed_002_maintenance_is_cumulative_and_back_paid(
    tmp_path, today, years, expected
) -> None:
    seed = {"licence": {"seats": 10, "maintenance_until": "2027-06-30T00:00:00Z"}}
    orch = _memory_orchestrator(tmp_path, MockServer(MemoryMock, seed=seed))
    orch.rules.today = lambda: today
    assert (await orch.get_licence("eu")).maintenance_until is not None
    if expected is None:
        with pytest.raises(errors.PolicyDenied) as caught:
            await orch.rules.order_maintenance("eu", years)
        assert caught.value.reason == "maintenance_lapsed"
        assert str(caught.value).endswith("it takes at least 2 years to be valid again")
        assert orch.rules.orders.all() == []
    else:
        order = await orch.rules.order_maintenance("eu", years)
        until, missed = expected
        assert (order.detail["from"], order.detail["until"]) == ("2027-06-30", until)
        assert order.detail["missed_days"] == missed
        assert order.detail["note"].startswith("back-paid from" if missed else "cumulative")
    await orch.aclose()
