"""Every bulk run is checked as a whole before its first item is sent (the run service):
an unknown plan, add-on or tenant, a bad address or quantity, or one subject named twice
refuses the whole batch, naming each bad item; nothing reaches the platform and nothing is
journalled. On every installed platform, through the Python forms."""

from __future__ import annotations

import pytest

from mailadmin.contract import errors
from mailadmin.rules.sales import BulkSale

from .conftest import OTHER, Platform


async def test_a_bad_item_refuses_the_whole_plan_run(platform: Platform) -> None:
    orch = platform.orch
    first, last = platform.users[0], platform.users[-1]
    platform.server.clear_requests()
    with pytest.raises(errors.ValidationError) as caught:
        await orch.set_plans(
            [(first, "collaborate"), (last, "platinum"), ("carl@nowhere.test", "sync")]
        )
    message = caught.value.message
    assert message.startswith("nothing was sent: ")
    assert "item 2: Unknown plan 'platinum'" in message
    assert "item 3: Unknown tenant 'nowhere.test'" in message
    assert "item 1" not in message
    with pytest.raises(errors.ValidationError, match="item 2 repeats item 1"):
        await orch.set_plans([(first, "sync"), (first.upper(), "mail")])
    assert not platform.writes()
    assert orch.journal is not None
    assert orch.journal.entries(100) == [] and orch.journal.unfinished_runs() == []


async def test_a_bad_item_refuses_the_whole_addon_count_and_sale_run(platform: Platform) -> None:
    orch, tenant = platform.orch, platform.tenant
    platform.server.clear_requests()
    with pytest.raises(errors.ValidationError) as caught:
        await orch.apply_addons(
            [(tenant, "storage_gb", 5), (tenant, "gold_bars", 1), (OTHER, "storage_gb", -1)]
        )
    assert "item 2: Unknown add-on 'gold_bars'" in caught.value.message
    assert "item 3: The add-on quantity must be a whole number" in caught.value.message
    with pytest.raises(errors.ValidationError, match="item 2 repeats item 1"):
        await orch.apply_addons([(tenant, "storage_gb", 5), (tenant.upper(), "storage_gb", 6)])
    with pytest.raises(errors.ValidationError, match="item 2: Unknown tenant 'nowhere.test'"):
        await orch.count_all([tenant, "nowhere.test"])
    twice = BulkSale(addon="shared_mailbox", quantity=1, to="resellers", resellers=("a", "A"))
    with pytest.raises(errors.ValidationError, match="item 2 repeats item 1"):
        await orch.runs.sell(twice)
    assert not platform.writes()
    assert orch.rules.tenancy.sales("reseller", "a") == []
