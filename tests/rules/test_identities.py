"""Acting identities: each kind reaches its own things, and every cross-boundary call is
refused with PolicyDenied before a request is sent, and journalled."""

from __future__ import annotations

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import NewMailbox
from mailadmin.rules.identities import Identity, IdentityKind

from .conftest import OTHER, Platform


def _customers(p: Platform) -> None:
    tenancy = p.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_reseller("globex")
    from mailadmin.rules.tenancy import CustomerSpec

    tenancy.add_customer(p.tenant, CustomerSpec(reseller="acme"))
    tenancy.add_customer(OTHER, CustomerSpec(reseller="globex"))


def _cross_boundary_calls(p: Platform, identity: str):
    """Every orchestrator call that leaves ``identity``'s reach."""
    orch = p.orch.acting_as(identity)
    own, other_user = p.users[0], p.users[1]
    addon, _ = p.settable_addon()
    calls = {
        "count other tenant": lambda: orch.count_mailboxes(OTHER),
        "list other tenant": lambda: orch.list_mailboxes(OTHER),
        "plan in other tenant": lambda: orch.set_plan(f"someone@{OTHER}", "sync"),
        "add-on of other tenant": lambda: orch.apply_addon(OTHER, addon, 3),
        "create in other tenant": lambda: orch.create_mailbox(
            OTHER, NewMailbox(address=f"new@{OTHER}")
        ),
        "delete in other tenant": lambda: orch.delete_mailbox(f"someone@{OTHER}"),
        "licence of the instance": lambda: orch.get_licence(p.orch.instances[0]),
        "connection of the instance": lambda: orch.test_connection(p.orch.instances[0]),
    }
    if identity.startswith("mailbox:"):
        calls |= {
            "count own tenant": lambda: orch.count_mailboxes(p.tenant),
            "another mailbox's plan": lambda: orch.set_plan(other_user, "sync"),
            "delete own mailbox": lambda: orch.delete_mailbox(own),
            "create in own tenant": lambda: orch.create_mailbox(
                p.tenant, NewMailbox(address=f"new@{p.tenant}")
            ),
        }
    if identity.startswith("customer:"):
        calls["add-on of own tenant"] = lambda: orch.apply_addon(p.tenant, addon, 3)
    return calls


@pytest.mark.parametrize("kind", ["reseller", "customer", "mailbox"])
async def test_every_cross_boundary_call_is_refused_before_sending(
    platform: Platform, kind: str
) -> None:
    _customers(platform)
    identity = {
        "reseller": "reseller:acme",
        "customer": f"customer:{platform.tenant}",
        "mailbox": f"mailbox:{platform.users[0]}",
    }[kind]
    platform.server.clear_requests()
    calls = _cross_boundary_calls(platform, identity)
    for what, call in calls.items():
        with pytest.raises(errors.PolicyDenied) as caught:
            await call()
        assert caught.value.reason in ("cross_boundary", "not_permitted"), what
        assert caught.value.code == "policy_denied"
        assert identity.split(":")[0] in str(caught.value) or "only" in str(caught.value), what
    # Not one request reached the platform.
    assert platform.server.requests == []
    journal = platform.orch.journal
    assert journal is not None
    refused = [e for e in journal.entries(limit=100) if e.error_code == "policy_denied"]
    assert len(refused) == len(calls)
    assert all(e.status == "refused" for e in refused)


async def test_each_identity_reaches_its_own(platform: Platform) -> None:
    _customers(platform)
    tenant, user = platform.tenant, platform.users[0]
    counted = await platform.orch.acting_as("reseller:acme").count_mailboxes(tenant)
    assert counted.tenant == tenant
    assert await platform.orch.acting_as(f"customer:{tenant}").list_mailboxes(tenant)
    platform.orch.rules.tenancy.set_allow_upgrade(user, True)
    result = await platform.orch.acting_as(f"mailbox:{user}").set_plan(user, "sync")
    assert result.after == "sync"
    # The site admin (the default) reaches everything.
    assert (await platform.orch.count_mailboxes(tenant)).tenant == tenant


async def test_acting_as_a_block_covers_bulk_tasks(platform: Platform) -> None:
    _customers(platform)
    with platform.orch.acting_as("reseller:globex") as orch:
        result = await orch.count_all([platform.tenant, OTHER], on_error="collect")
    by_key = {item.key: item for item in result.items}
    refused = by_key[platform.tenant].error
    assert refused is not None and refused.code == "policy_denied"
    # globex's own customer was let through (the platform may not know it: any answer but a
    # refusal will do).
    other = by_key[OTHER].error
    assert other is None or other.code != "policy_denied"


def test_identities_parse_and_print() -> None:
    assert Identity.parse("site-admin").kind is IdentityKind.SITE_ADMIN
    assert str(Identity.parse("Reseller:ACME")) == "reseller:acme"
    assert Identity.parse("customer:example.com").kind is IdentityKind.CUSTOMER_ADMIN
    assert Identity.parse("mailbox:Anna@Example.com").name == "anna@example.com"
    with pytest.raises(errors.ValidationError):
        Identity.parse("king:arthur")


def test_the_blocking_facade_acts_as_an_identity(tmp_path) -> None:
    from mailadmin.mock import MockServer
    from mailadmin.orchestration.registry import Registry
    from mailadmin.orchestration.sync import SyncOrchestrator
    from mailadmin.reference.mock import MemoryMock

    server = MockServer(MemoryMock)
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "tenants": {"example.com": {"instance": "eu"}, OTHER: {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    registry = Registry(load=["reference"], disable=[])
    with SyncOrchestrator.from_dict(
        config, registry=registry, http={"eu": server.router("http://memory.test")}
    ) as mail:
        mail.rules.tenancy.add_customer("example.com")
        as_customer = mail.acting_as("customer:example.com")
        assert as_customer.count_mailboxes("example.com").tenant == "example.com"
        server.clear_requests()
        with pytest.raises(errors.PolicyDenied):
            as_customer.count_mailboxes(OTHER)
        assert server.requests == []
        # The facade itself still acts as the site admin.
        assert mail.count_mailboxes("example.com").total > 0
