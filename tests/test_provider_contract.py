"""The provider contract: final public methods, enforced signatures, typed errors, hooks."""

from __future__ import annotations

from typing import Any

import pytest

from mailadmin.contract import errors
from mailadmin.contract.capabilities import Capabilities, Operation
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, CallInfo, Provider
from mailadmin.contract.settings import PlanMapping

TENANT = TenantRef(name="example.com")
_GAPS = {
    "list_mailboxes": "toy",
    "create_mailbox": "toy",
    "delete_mailbox": "toy",
    "addon:mailboxes": "toy",
    "addon:resource_mailbox": "toy",
    "addon:storage_gb": "toy",
}


class Toy(Provider):
    """A provider whose platform is a dict: enough to exercise the base class."""

    name = "toy"
    platform = "Toy"
    capabilities = Capabilities(addons=frozenset({"shared_mailbox"}), unsupported=_GAPS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans: dict[str, str] = {}
        self.writes = 0

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        before = self.plans.get(mailbox.address)
        if before == plan:
            return ChangeResult[str](
                operation="set_plan",
                subject=mailbox.address,
                outcome=Outcome.UNCHANGED,
                before=before,
                after=plan,
            )
        if not self.dry_run:
            self.writes += 1
            self.plans[mailbox.address] = plan
        return ChangeResult[str](
            operation="set_plan",
            subject=mailbox.address,
            outcome=Outcome.CHANGED,
            before=before,
            after=plan,
            dry_run=self.dry_run,
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        return MailboxCount(tenant=tenant.name, by_kind={MailboxKind.USER: len(self.plans)})

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        raise RuntimeError("secret-internal-detail Toy.apply exploded")

    async def _get_licence(self) -> Licence:
        return Licence(seats_licensed=10, seats_used=len(self.plans))

    async def _test_connection(self) -> ConnectionStatus:
        return ConnectionStatus(ok=True, platform=self.platform)

    async def _list_plans(self) -> list[NativePlan]:
        return [NativePlan(native_name="gold")]


def toy() -> Toy:
    return Toy({"plans": {"mail": {"quota_mb": 2048}, "sync": {}}})


async def test_a_provider_is_used_through_its_public_methods() -> None:
    provider = toy()
    mailbox = MailboxRef(tenant=TENANT, address="Anna@Example.com")
    first = await provider.set_plan(mailbox, "sync")
    again = await provider.set_plan(mailbox, "sync")
    assert (first.outcome, first.before, first.after) == (Outcome.CHANGED, None, "sync")
    assert again.outcome is Outcome.UNCHANGED and not again.changed
    assert mailbox.address == "anna@example.com"
    assert (await provider.count_mailboxes(TENANT)).total == 1


async def test_dry_run_reports_without_writing() -> None:
    provider = toy()
    mailbox = MailboxRef(tenant=TENANT, address="anna@example.com")
    result = await provider.set_plan(mailbox, "mail", dry_run=True)
    assert result.dry_run and result.outcome is Outcome.CHANGED
    assert provider.writes == 0 and provider.plans == {}
    assert not provider.dry_run  # the scope ends with the call


def test_overriding_a_public_method_is_refused() -> None:
    with pytest.raises(TypeError, match="overrides the final method 'set_plan'"):

        class Drift(Toy):
            async def set_plan(self, mailbox: Any, plan: Any, *, dry_run: bool = False) -> Any:  # type: ignore[override, misc]
                return None


def test_a_protected_method_with_another_signature_is_refused() -> None:
    with pytest.raises(TypeError, match=r"_set_plan takes \(self, mailbox, plan, force\)"):

        class Drift(Toy):
            async def _set_plan(self, mailbox: MailboxRef, plan: str, force: bool = False) -> Any:  # type: ignore[override]
                return None


def test_a_sync_implementation_is_refused() -> None:
    with pytest.raises(TypeError, match="must be 'async def'"):

        class Drift(Toy):
            def _get_licence(self) -> Any:  # type: ignore[override]
                return None


def test_a_declared_capability_must_be_implemented() -> None:
    with pytest.raises(TypeError, match="declares but does not implement: _list_mailboxes"):

        class Liar(Toy):
            name = "liar"
            capabilities = Capabilities(
                operations=frozenset({Operation.LIST_MAILBOXES}),
                addons=frozenset({"shared_mailbox"}),
                unsupported={k: v for k, v in _GAPS.items() if k != "list_mailboxes"},
            )


def test_an_unsupported_feature_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="need a reason.*list_mailboxes"):
        Capabilities(unsupported={k: v for k, v in _GAPS.items() if k != "list_mailboxes"})


async def test_an_unsupported_operation_raises_a_typed_error_naming_the_capability() -> None:
    provider = toy()
    with pytest.raises(errors.UnsupportedOperation) as caught:
        await provider.create_mailbox(
            TENANT, NewMailbox(address="room@example.com", kind=MailboxKind.ROOM)
        )
    assert caught.value.capability == "create_mailbox:room"
    assert "create_mailbox:room" in str(caught.value)
    with pytest.raises(errors.UnsupportedOperation, match="addon:storage_gb"):
        await provider.apply_addon(TENANT, "storage_gb", 5)


async def test_bad_input_gets_a_validation_error_before_the_platform_is_touched() -> None:
    provider = toy()
    with pytest.raises(errors.ValidationError, match="Unknown plan 'platinum'"):
        await provider.set_plan(MailboxRef(tenant=TENANT, address="a@example.com"), "platinum")
    with pytest.raises(errors.ValidationError, match="Invalid mailbox"):
        await provider.set_plan({"tenant": {"name": "x"}, "address": "not-an-address"}, "mail")  # type: ignore[arg-type]
    with pytest.raises(errors.ValidationError, match="whole number"):
        await provider.apply_addon(TENANT, "shared_mailbox", -1)
    assert provider.writes == 0


async def test_unexpected_exceptions_leave_as_user_safe_errors() -> None:
    provider = toy()
    with pytest.raises(errors.ProviderError) as caught:
        await provider.apply_addon(TENANT, "shared_mailbox", 3)
    message = str(caught.value)
    assert "secret-internal-detail" not in message and "RuntimeError" not in message
    assert "Toy" not in message
    assert "secret-internal-detail" in caught.value.debug["exception"]
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_invalid_settings_are_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigurationError, match="timeout"):
        Toy({"timeout": -1})


class _Recorder(CallHooks):
    def __init__(self, veto: str | None = None) -> None:
        self.seen: list[tuple[str, str]] = []
        self.veto = veto

    def before(self, provider: Provider, call: CallInfo) -> None:
        self.seen.append(("before", call.operation))
        if self.veto and call.is_write:
            raise errors.PolicyDenied(self.veto)

    def after(self, provider: Provider, call: CallInfo, result: object) -> None:
        self.seen.append(("after", call.operation))

    def error(self, provider: Provider, call: CallInfo, error: errors.MailadminError) -> None:
        self.seen.append(("error", error.code))


async def test_hooks_see_every_call_and_may_veto_writes() -> None:
    hooks = _Recorder()
    provider = Toy({"plans": {"mail": PlanMapping()}}, hooks=hooks)
    await provider.get_licence()
    with pytest.raises(errors.ProviderError):
        await provider.apply_addon(TENANT, "shared_mailbox", 1)
    assert hooks.seen == [
        ("before", "get_licence"),
        ("after", "get_licence"),
        ("before", "apply_addon"),
        ("error", "provider"),
    ]
    vetoed = Toy({"plans": {"mail": PlanMapping()}}, hooks=_Recorder(veto="Upgrades are closed"))
    with pytest.raises(errors.PolicyDenied, match="Upgrades are closed"):
        await vetoed.set_plan(MailboxRef(tenant=TENANT, address="a@example.com"), "mail")
    assert vetoed.writes == 0
