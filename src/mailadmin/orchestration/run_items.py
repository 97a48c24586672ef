"""What one item of a run is, per operation: its key, its check and route, how it runs,
and its stored result read back. The run service (:mod:`mailadmin.orchestration.runs`)
is the only caller.

``set_plan`` (``{"mailbox", "plan"}``) and ``apply_addon`` (``{"tenant", "addon",
"quantity"}``) are writes with a subject: one lane per subject key, the same key the
journal and the in-process subject locks use. ``sell`` (``{"sale", "name"}``, seed 003)
sells to one reseller or customer: every sale capped by one reseller's allocation shares
a lane, so those sales run one after another as in-process. ``count`` (``{"tenant"}``)
reads one tenant's mailboxes. ``terminate`` removes a tenant: one item per mailbox
(``{"mailbox"}``), then the tenant itself (``{"tenant"}``); every item shares the
tenant's lane, and the tenant's item runs last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.calls import subject_key

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = [
    "JOURNALLED",
    "OPERATIONS",
    "Routed",
    "execute",
    "from_plan",
    "item_key",
    "item_value",
    "journal_subject",
    "route",
    "runs_last",
    "to_plan",
]

#: The operations a run may hold.
OPERATIONS = ("set_plan", "apply_addon", "sell", "count", "terminate")
#: Operations whose items are journalled writes: such a run's plan is journalled before
#: its first item is sent, and a run cut short is finished by ``journal resume``.
JOURNALLED = ("set_plan", "apply_addon", "terminate")

Item = dict[str, Any]


@dataclass(frozen=True)
class Routed:
    """Where an item goes: its provider instance, its lane key (the subject lock's key),
    and what it changes (a run names each once)."""

    instance: str
    lane: str
    subject: str
    #: The mailbox's reference the check made (its item then runs without making it again).
    ref: Any = None


def route(orch: Orchestrator, operation: str, item: Item) -> Routed:
    """Check one item against the catalogue and the tenants, and route it; a
    ValidationError says what is wrong with it (nothing is sent)."""
    if operation not in OPERATIONS:
        raise errors.ValidationError(f"'{operation}' is not a bulk operation")
    try:
        if operation == "set_plan":
            provider, ref = orch.mailbox(_text(item, "mailbox"))
            orch.check_plan(_text(item, "plan"))
            key = subject_key(provider.instance, "set_plan", {"mailbox": ref})
            assert key is not None  # a write with a subject
            return Routed(provider.instance, key, key, ref)
        if operation == "apply_addon":
            provider, tenant = orch.provider_for(_text(item, "tenant"))
            quantity = item["quantity"]
            if quantity is None:
                raise errors.ValidationError("The add-on quantity must be a whole number")
            addon = orch.check_addon(_text(item, "addon"), quantity)
            key = subject_key(provider.instance, "apply_addon", {"tenant": tenant})
            assert key is not None
            return Routed(provider.instance, key, f"{key} {addon}")
        if operation == "sell":
            return _route_sale(orch, item)
        if operation == "terminate":
            return _route_termination(orch, item)
        provider, tenant = orch.provider_for(_text(item, "tenant"))
        key = f"{provider.instance}/count/{tenant.name}"
        return Routed(provider.instance, key, key)
    except KeyError as missing:
        raise errors.ValidationError(f"the item has no {missing}") from None


def _text(item: Item, name: str) -> str:
    value = item[name]
    if not isinstance(value, str):
        raise errors.ValidationError(f"the {name} must be text, not {type(value).__name__}")
    return value


def _route_termination(orch: Orchestrator, item: Item) -> Routed:
    if "mailbox" in item:
        provider, ref = orch.mailbox(_text(item, "mailbox"))
        tenant = ref.tenant
        subject = ref.address
    else:
        provider, tenant = orch.provider_for(_text(item, "tenant"))
        subject = tenant.name
    # One lane per tenant: its mailboxes go one after another, and the tenant after them.
    return Routed(provider.instance, f"{provider.instance}/terminate/{tenant.name}", subject)


def runs_last(operation: str, item: Item) -> bool:
    """True for the item that may only run once every other item of its run has ended
    (a termination's tenant, which its platform keeps while it has mailboxes)."""
    return operation == "terminate" and "mailbox" not in item


def journal_subject(operation: str, item: Item) -> str:
    """The journal's subject of an item's row (the add-on's row names tenant and add-on)."""
    if "mailbox" in item:
        return str(item["mailbox"])
    if operation == "apply_addon":
        return f"{item['tenant']} {item['addon']}"
    return str(item["tenant"])


def _route_sale(orch: Orchestrator, item: Item) -> Routed:
    from pydantic import ValidationError

    from mailadmin.rules.sales import BulkSale

    try:
        sale = BulkSale.model_validate(item["sale"])
    except ValidationError:
        raise errors.ValidationError("the sale is not a valid bulk sale") from None
    name = _text(item, "name").strip().lower()
    tenancy = orch.tenancy
    if sale.to == "resellers":
        # An unknown reseller becomes a failed item, as in-process.
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
    return Routed(instance, f"{instance}/sales/{group}", f"sale to {name}")


async def execute(
    orch: Orchestrator, operation: str, item: Item, *, dry_run: bool, ref: Any = None
) -> Any:
    """Run one item (the caller holds the run's journal scope and identity); ``ref``: the
    subject's reference its check made, if any."""
    if operation == "set_plan":
        mailbox = ref if ref is not None else item["mailbox"]
        return await orch.set_plan(mailbox, item["plan"], dry_run=dry_run)
    if operation == "apply_addon":
        quantity = int(item["quantity"])
        return await orch.apply_addon(item["tenant"], item["addon"], quantity, dry_run=dry_run)
    if operation == "sell":
        from mailadmin.rules.sales import BulkSale, sell_to

        sale = BulkSale.model_validate(item["sale"])
        return await sell_to(orch, sale, str(item["name"]), dry_run=dry_run)
    if operation == "count":
        return await orch.count_mailboxes(str(item["tenant"]))
    if operation == "terminate":
        if "mailbox" in item:
            return await orch.delete_mailbox(str(item["mailbox"]), dry_run=dry_run)
        return await orch.delete_tenant(str(item["tenant"]), dry_run=dry_run)
    raise errors.ValidationError(f"'{operation}' is not a bulk operation")


def item_key(item: Item) -> str:
    """An item's key in a run's result: the address, tenant:add-on, the sale's reseller or
    customer, the tenant."""
    if "mailbox" in item:
        return str(item["mailbox"])
    if "sale" in item:
        return str(item["name"])
    if "addon" in item:
        return f"{item.get('tenant')}:{item.get('addon')}"
    return str(item.get("tenant"))


def item_value(operation: str, result: Any) -> Any:
    """An item's stored result as the model the in-process run returns."""
    from pydantic import ValidationError

    from mailadmin.contract.models import ChangeResult, MailboxCount

    try:
        if operation in JOURNALLED:
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


def to_plan(operation: str, item: Item) -> list[Any]:
    """The journal's form of a planned item: ``[address, plan]`` or ``[tenant, add-on,
    quantity]`` (what ``journal resume`` re-runs)."""
    if operation == "set_plan":
        return [item["mailbox"], item["plan"]]
    if operation == "terminate":
        return ["mailbox", item["mailbox"]] if "mailbox" in item else ["tenant", item["tenant"]]
    return [item["tenant"], item["addon"], int(item["quantity"])]


def from_plan(operation: str, planned: list[Any]) -> Item:
    """An item of a journalled plan (see :func:`to_plan`)."""
    if operation == "set_plan":
        return {"mailbox": planned[0], "plan": planned[1]}
    if operation == "terminate":
        return {str(planned[0]): planned[1]}
    return {"tenant": planned[0], "addon": planned[1], "quantity": int(planned[2])}
