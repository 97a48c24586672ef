"""Seed 003: an add-on carries a value (its first field: "9999" shared mailboxes in one
add-on) and is sold by quantity; a sale grants value x quantity, at most 9,999 of a resource.

The seed's own numbers: add-ons of value 9999, sold to resellers with quantity 99999 (refused,
saying how it maps) and to every customer with quantity 1 (9,999 each).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.mock import MockServer
from mailadmin.reference.mock import MemoryMock
from mailadmin.rules.sales import BulkSale, SaleOutcome
from mailadmin.rules.tenancy import MAX_ALLOCATION, CustomerSpec, Resource

S, R, U = Resource.SHARED_MAILBOXES, Resource.RESOURCE_MAILBOXES, Resource.USER_MAILBOXES
#: The seed's two add-ons, "9999" in the first field; seats sold five to an add-on.
ADDONS = {
    "shared_mailbox": {"description": "Shared mailboxes", "value": 9999},
    "resource_mailbox": {"description": "Resource mailboxes", "value": 9999},
    "mailboxes": {"description": "Mailbox seats", "unit": "seats", "value": 5},
}


def _tenant() -> dict:
    return {"allocations": {"user_seats": 4, "shared_mailboxes": 0, "resource_mailboxes": 0}}


@pytest.fixture
def memory() -> MockServer:
    """The memory platform with the two tenants, 4 seats each."""
    seed = {"tenants": {name: _tenant() for name in ("a.test", "b.test")}}
    return MockServer(MemoryMock, seed=seed)


@pytest.fixture
async def orch(tmp_path: Path, memory: MockServer):
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "tenants": {name: {"instance": "eu"} for name in ("a.test", "b.test")},
        "addons": ADDONS,
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    router = memory.router("http://memory.test")
    async with Orchestrator.from_dict(config, http={"eu": router}) as built:
        yield built


def test_the_catalogue_value_is_checked() -> None:
    from pydantic import ValidationError

    from mailadmin.orchestration.config import AddonSpec

    assert AddonSpec().value == 1
    assert AddonSpec(value=9999).value == 9999
    for bad in (0, 10000):
        with pytest.raises(ValidationError):
            AddonSpec(value=bad)


async def test_seed_003_bulk_sale_to_resellers_quantity_99999_is_explained(orch) -> None:
    tenancy = orch.rules.tenancy
    tenancy.add_reseller("acme")
    # The seed's step 8 ("Quantity - will be 99999") is refused before anything is sold,
    # saying how its numbers map here.
    with pytest.raises(Exception) as caught:
        await orch.runs.sell(BulkSale(addon="resource_mailbox", quantity=99999, to="resellers"))
    assert "seed 003's bulk form sells 99999" in str(caught.value)
    assert "sell quantity 1 of an add-on whose value is 9999" in str(caught.value)
    assert tenancy.sales("reseller", "acme") == []


@pytest.mark.parametrize(("quantity", "granted"), [(0, 0), (1, MAX_ALLOCATION), (2, None)])
async def test_value_9999_grants_value_x_quantity_up_to_the_cap(
    orch, quantity: int, granted: int | None
) -> None:
    tenancy = orch.rules.tenancy
    tenancy.add_reseller("acme")
    sale = BulkSale(addon="shared_mailbox", quantity=quantity, to="resellers")
    if granted is None:
        # 2 x 9999 = 19998: past the cap, refused whole, naming value and quantity.
        with pytest.raises(errors.ValidationError) as caught:
            await orch.runs.sell(sale)
        assert "grants 9999 each; quantity 2 would grant 19998" in caught.value.message
        assert tenancy.sales("reseller", "acme") == []
        return
    report = await orch.runs.sell(sale)
    (item,) = report.items
    assert (item.outcome, item.value, item.quantity, item.granted) == (
        SaleOutcome.SOLD,
        9999,
        quantity,
        granted,
    )
    (sold,) = tenancy.sales("reseller", "acme")
    assert (sold.amount, sold.quantity) == (9999, quantity)
    assert tenancy.allocation("reseller", "acme") == {S: granted}


@pytest.mark.parametrize(("quantity", "granted"), [(0, 0), (1, 5), (1999, 9995), (2000, None)])
async def test_value_5_seats_boundaries_reach_the_platform(
    orch, memory: MockServer, quantity: int, granted: int | None
) -> None:
    tenancy = orch.rules.tenancy
    tenancy.add_customer("a.test", CustomerSpec(package={U: 4}))
    sale = BulkSale(addon="mailboxes", quantity=quantity, to="customers")
    if granted is None:
        with pytest.raises(errors.ValidationError) as caught:
            await orch.runs.sell(sale)
        assert "quantity 2000 would grant 10000" in caught.value.message
        assert tenancy.allocation("customer", "a.test") == {U: 4}
        return
    report = await orch.runs.sell(sale)
    item = {i.name: i for i in report.items}["a.test"]
    assert (item.outcome, item.granted) == (SaleOutcome.SOLD, granted), item.reason
    assert tenancy.allocation("customer", "a.test") == {U: 4 + granted}
    # The platform's seat total is the package (4) plus what the sale grants.
    allocations = memory.snapshot()["tenants"]["a.test"]["allocations"]
    assert allocations["user_seats"] == 4 + granted


async def test_value_1_keeps_the_quantity_as_the_grant(tmp_path: Path) -> None:
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {"a.test": {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    # Sales to resellers only: nothing reaches a platform.
    router = MockServer(MemoryMock).router("http://memory.test")
    async with Orchestrator.from_dict(config, http={"eu": router}) as orch:
        orch.rules.tenancy.add_reseller("acme")
        for quantity in (0, 1, MAX_ALLOCATION):
            sale = BulkSale(addon="shared_mailbox", quantity=quantity, to="resellers")
            (item,) = (await orch.runs.sell(sale)).items
            assert (item.value, item.granted) == (1, quantity)
            assert orch.rules.tenancy.allocation("reseller", "acme") == {S: quantity}
        with pytest.raises(Exception) as caught:
            BulkSale(addon="shared_mailbox", quantity=MAX_ALLOCATION + 1, to="resellers")
        assert "seed 003's bulk form sells 99999" in str(caught.value)


async def test_a_reseller_copy_grants_what_the_original_does(orch) -> None:
    tenancy = orch.rules.tenancy
    tenancy.add_reseller("acme")
    sale = BulkSale(addon="resource_mailbox", quantity=1, to="resellers", copy_under_reseller=True)
    (item,) = (await orch.runs.sell(sale)).items
    assert (item.addon, item.granted) == ("resource_mailbox@acme", 9999)
    assert tenancy.allocation("reseller", "acme") == {R: 9999}


async def test_an_addon_total_set_on_the_platform_counts_in_units(orch) -> None:
    """``addon TENANT shared_mailbox 3`` is a total of 3 mailboxes, whatever one add-on of
    the catalogue grants: the record it leaves grants 1 each."""
    tenancy = orch.rules.tenancy
    tenancy.add_customer("a.test", CustomerSpec(package={S: 2}))
    # 2 from the package + 9,999 from one add-on would pass the cap: refused, saying so.
    report = await orch.runs.sell(BulkSale(addon="shared_mailbox", quantity=1, to="customers"))
    failed = {i.name: i for i in report.items}["a.test"]
    assert failed.outcome is SaleOutcome.FAILED and "10001" in failed.reason
    assert tenancy.allocation("customer", "a.test") == {S: 2}
    await orch.apply_addon("a.test", "shared_mailbox", 3)
    assert tenancy.allocation("customer", "a.test")[S] == 3
    (sold,) = [s for s in tenancy.sales("customer", "a.test") if s.addon == "shared_mailbox"]
    assert (sold.amount, sold.quantity) == (1, 1)


# -- every platform -----------------------------------------------------------------------------


@pytest.fixture
async def valued(request: pytest.FixtureRequest, tmp_path: Path):
    """Each demo platform with the seed's valued add-ons in its catalogue."""
    from mailadmin.cli.demo import DemoScenario
    from mailadmin.mock import MockServer
    from mailadmin.orchestration.registry import get_registry

    from .conftest import Platform, platform_config

    name = request.param
    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    instance = f"{name}-test"
    config = platform_config(scenario, instance, f"sqlite:///{tmp_path / 'store.sqlite'}")
    config["addons"] = {
        name: {**spec, **({"value": 9999} if name.endswith("_mailbox") else {})}
        for name, spec in config["addons"].items()
    }
    router = server.router(f"http://{instance}.test")
    async with Orchestrator.from_dict(
        config, registry=get_registry(), http={instance: router}
    ) as orch:
        yield Platform(name, orch, server, next(iter(scenario.tenants)), [], router)


def _platforms() -> list[str]:
    from .conftest import _platform_names

    return _platform_names()


@pytest.mark.parametrize("valued", _platforms(), indirect=True)
async def test_seed_003_quantity_1_to_every_customer_grants_9999_on_the_platform(valued) -> None:
    orch, tenancy = valued.orch, valued.orch.rules.tenancy
    tenancy.add_customer(valued.tenant)
    valued.server.clear_requests()
    # The seed's customers form: owner All, "do not sell when already sold", quantity 1.
    sale = BulkSale(addon="resource_mailbox", quantity=1, to="customers", skip_already_sold=True)
    report = await orch.runs.sell(sale)
    assert report.summary == {"sold": 1, "skipped": 0, "failed": 0}, report.items
    assert {i.granted for i in report.items} == {MAX_ALLOCATION}
    assert tenancy.allocation("customer", valued.tenant) == {R: MAX_ALLOCATION}
    kept = orch.allocations.get(orch.instances[0], valued.tenant, "resource_mailbox")
    if kept is not None:
        assert kept == MAX_ALLOCATION and valued.writes() == []
    else:
        # The platform holds the limit: its write carries the 9,999 total.
        bodies = [w.body.decode() + w.query + w.path for w in valued.writes()]
        assert bodies and all(str(MAX_ALLOCATION) in b for b in bodies), bodies
    # Sold again with quantity 2 (19,998): refused before anything is sent.
    valued.server.clear_requests()
    with pytest.raises(errors.ValidationError):
        await orch.runs.sell(sale.model_copy(update={"quantity": 2, "skip_already_sold": False}))
    assert valued.writes() == []
    assert json.dumps(tenancy.allocation("customer", valued.tenant)) == json.dumps(
        {R: MAX_ALLOCATION}
    )
