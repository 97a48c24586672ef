"""What a distributed run can do, item by item: route an item to its lane, run it on a
worker, and turn its stored result back into the Python forms' result.

``set_plan`` (``{"mailbox", "plan"}``) and ``apply_addon`` (``{"tenant", "addon",
"quantity"}``) are writes with a subject: one lane per subject key, the same key the
journal and the in-process subject locks use. ``sell`` (``{"sale", "name"}``, seed 003)
sells to one reseller or customer: every sale capped by one reseller's allocation shares
a lane, so those sales run one after another as in-process. ``count``
(``{"tenant"}``) reads one tenant's mailboxes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.calls import subject_key

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["OPERATIONS", "execute", "item_key", "item_value", "route"]

#: The operations a run may hold.
OPERATIONS = ("set_plan", "apply_addon", "sell", "count")


def route(orch: Orchestrator, operation: str, item: dict[str, Any]) -> tuple[str, str, str]:
    """The item's provider instance, its lane key, and what it changes (a run names each
    once). Checks the item: an unknown tenant, mailbox, plan or add-on stops the run."""
    if operation == "set_plan":
        provider, ref = orch.mailbox(str(item["mailbox"]))
        orch._check_plan(str(item["plan"]))
        key = subject_key(provider.instance, "set_plan", {"mailbox": ref})
        assert key is not None  # a write with a subject
        return provider.instance, key, key
    if operation == "apply_addon":
        provider, tenant = orch.provider_for(str(item["tenant"]))
        orch._check_addon(str(item["addon"]))
        key = subject_key(provider.instance, "apply_addon", {"tenant": tenant})
        assert key is not None
        return provider.instance, key, f"{key} {item['addon']}"
    if operation == "sell":
        return _route_sale(orch, item)
    if operation == "count":
        provider, tenant = orch.provider_for(str(item["tenant"]))
        key = f"{provider.instance}/count/{tenant.name}"
        return provider.instance, key, key
    raise errors.ValidationError(f"'{operation}' cannot run distributed")


def _route_sale(orch: Orchestrator, item: dict[str, Any]) -> tuple[str, str, str]:
    from mailadmin.rules.sales import BulkSale

    sale = BulkSale.model_validate(item["sale"])
    name = str(item["name"])
    tenancy = orch.rules.tenancy
    if sale.to == "resellers":
        # An unknown reseller becomes a failed item on the worker, as in-process.
        reseller = tenancy.reseller(name)
        group = name
        instance = reseller.instance if reseller is not None else None
    else:
        customer = tenancy.customer(name)
        group = customer.reseller if customer is not None and customer.reseller else name
        reseller = tenancy.reseller(group) if group != name else None
        instance = reseller.instance if reseller is not None else None
        if instance is None and reseller is not None:
            # One queue for every customer of a reseller, whichever instance each is on:
            # their sales are capped by one allocation, so they share one lane.
            instance = min(orch.config.instance_of(c.name) for c in tenancy.customers(group))
        if instance is None:
            instance = orch.config.instance_of(name)
    if instance is None:
        instance = min(orch.config.instances)
    return instance, f"{instance}/sales/{group}", f"sale to {name}"


async def execute(orch: Orchestrator, operation: str, data: dict[str, Any]) -> Any:
    """Run one item on this worker (the journal's run scope is set by the caller)."""
    if operation == "set_plan":
        return await orch.set_plan(data["mailbox"], data["plan"])
    if operation == "apply_addon":
        return await orch.apply_addon(data["tenant"], data["addon"], int(data["quantity"]))
    if operation == "sell":
        from mailadmin.rules.sales import BulkSale, sell_to

        return await sell_to(orch, BulkSale.model_validate(data["sale"]), str(data["name"]))
    if operation == "count":
        return await orch.count_mailboxes(str(data["tenant"]))
    raise errors.ValidationError(f"'{operation}' cannot run distributed")


def item_key(item: dict[str, Any]) -> str:
    """The key the in-process forms give an item: the address, tenant:add-on, the sale's
    reseller or customer, the tenant."""
    if "mailbox" in item:
        return str(item["mailbox"])
    if "sale" in item:
        return str(item["name"])
    if "addon" in item:
        return f"{item.get('tenant')}:{item.get('addon')}"
    return str(item.get("tenant"))


def item_value(operation: str, result: Any) -> Any:
    """An item's stored result as the model the in-process form returns."""
    from pydantic import ValidationError

    from mailadmin.contract.models import ChangeResult, MailboxCount

    try:
        if operation in ("set_plan", "apply_addon"):
            return ChangeResult[Any].model_validate(result)
        if operation == "count":
            # ``total`` is computed from the rest: not an input.
            fields = {k: v for k, v in dict(result).items() if k != "total"}
            return MailboxCount.model_validate(fields)
        if operation == "sell":
            from mailadmin.rules.sales import SaleItem

            return SaleItem.model_validate(result)
    except ValidationError:
        pass
    return result
