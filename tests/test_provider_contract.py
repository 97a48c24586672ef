"""The provider contract: final public methods, enforced signatures, typed errors, hooks."""

from __future__ import annotations

from typing import Any

import pytest

from mailadmin.contract import errors
from mailadmin.contract.capabilities import Capabilities, LicenceKind, LicenceModel, Operation
from mailadmin.contract.change import Applied, Change
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceState,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, CallInfo, Provider
from mailadmin.contract.settings import PlanMapping, ProviderSettings
from mailadmin.wire.dryrun import dry_run_scope

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


# -- the change pattern, the one dry-run rule, settings types and instance capabilities ------


class ToySettings(ProviderSettings):
    """Settings with a field of the toy's own: whether the admin may sell add-ons."""

    reseller: bool = True


class Shop(Provider[ToySettings]):
    """A provider whose writes go through Change; the platform is a dict."""

    name = "shop"
    platform = "Shop"
    settings_model = ToySettings
    capabilities = Capabilities(addons=frozenset({"shared_mailbox"}), unsupported=_GAPS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans: dict[str, str] = {}
        self.limits: dict[str, int] = {}
        self.sent: list[str] = []
        self.accept = False

    @classmethod
    def capabilities_for(cls, settings: ToySettings) -> Capabilities:
        if settings.reseller:
            return cls.capabilities
        return Capabilities(unsupported={**_GAPS, "addon:shared_mailbox": "not a reseller"})

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        async def put() -> str | None:
            self.sent.append(f"plan {plan}")
            self.plans[mailbox.address] = plan
            return "op-7" if self.accept else None

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self.plans.get(mailbox.address),
                after=plan,
                apply=put,
                note="the quota follows the plan",
            )
        )

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        async def put() -> Applied[int]:
            self.sent.append(f"{addon} {quantity}")
            before, self.limits[str(addon)] = self.limits.get(str(addon)), quantity
            return Applied(before=before, after=quantity)

        return await self.change(
            Change(
                subject=tenant.name, before=self.limits.get(str(addon)), after=quantity, apply=put
            )
        )

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        return MailboxCount(tenant=tenant.name, by_kind={})

    async def _get_licence(self) -> Licence:
        return Licence(seats_licensed=None, seats_used=0)

    async def _test_connection(self) -> ConnectionStatus:
        return ConnectionStatus(ok=True, platform=self.platform)

    async def _list_plans(self) -> list[NativePlan]:
        return []


ANNA = MailboxRef(tenant=TENANT, address="anna@example.com")


def shop(**settings: Any) -> Shop:
    return Shop({"plans": {"mail": {}, "sync": {}}, **settings})


async def test_a_write_is_a_change_the_base_class_carries_out() -> None:
    provider = shop()
    first = await provider.set_plan(ANNA, "mail")
    assert (first.operation, first.subject, first.outcome) == (
        "set_plan",
        ANNA.address,
        Outcome.CHANGED,
    )
    assert (first.before, first.after, first.note) == (None, "mail", "the quota follows the plan")
    again = await provider.set_plan(ANNA, "mail")
    assert again.outcome is Outcome.UNCHANGED and provider.sent == ["plan mail"]


async def test_a_dry_run_sends_nothing_and_every_result_says_how_the_call_was_made() -> None:
    provider = shop()
    await provider.set_plan(ANNA, "mail")
    would = await provider.set_plan(ANNA, "sync", dry_run=True)
    same = await provider.set_plan(ANNA, "mail", dry_run=True)
    real_same = await provider.set_plan(ANNA, "mail")
    assert (would.outcome, would.dry_run, would.before, would.after) == (
        Outcome.CHANGED,
        True,
        "mail",
        "sync",
    )
    assert (same.outcome, same.dry_run) == (Outcome.UNCHANGED, True)
    assert (real_same.outcome, real_same.dry_run) == (Outcome.UNCHANGED, False)
    assert provider.sent == ["plan mail"]


async def test_the_base_class_corrects_a_plugin_that_gets_dry_run_wrong() -> None:
    """Toy builds its own results and leaves dry_run False on an unchanged dry run."""
    provider = toy()
    await provider.set_plan(ANNA, "mail")
    same = await provider.set_plan(ANNA, "mail", dry_run=True)
    assert (same.outcome, same.dry_run) == (Outcome.UNCHANGED, True)


async def test_an_operation_id_makes_the_change_accepted_and_applied_values_win() -> None:
    provider = shop()
    provider.accept = True
    accepted = await provider.set_plan(ANNA, "sync")
    assert (accepted.outcome, accepted.operation_id) == (Outcome.ACCEPTED, "op-7")
    provider.limits["shared_mailbox"] = 3
    result = await provider.apply_addon(TENANT, "shared_mailbox", 5)
    assert (result.before, result.after, result.outcome) == (3, 5, Outcome.CHANGED)


async def _noop() -> None:
    return None


async def test_change_outside_a_call_needs_an_operation_name() -> None:
    provider = shop()
    with pytest.raises(RuntimeError, match="operation="):
        await provider.change(Change(subject="x", before=1, after=2, apply=_noop))
    result = await provider.change(
        Change(subject="x", before=1, after=1, apply=_noop), operation="probe"
    )
    assert (result.operation, result.outcome) == ("probe", Outcome.UNCHANGED)


async def test_a_dry_run_runs_the_check_instead_of_apply() -> None:
    provider = shop()
    calls: list[str] = []

    async def check() -> None:
        calls.append("check")
        raise errors.ConflictError("already there")

    async def apply() -> None:
        calls.append("apply")

    change = Change(subject="x", before=None, after=1, apply=apply, check=check)
    with dry_run_scope(True), pytest.raises(errors.ConflictError):
        await provider.change(change, operation="probe")
    assert calls == ["check"]
    assert (await provider.change(change, operation="probe")).outcome is Outcome.CHANGED
    assert calls == ["check", "apply"]  # a real run pays for no check


def test_settings_are_typed_by_the_class_parameter() -> None:
    provider = shop(reseller=False)
    assert isinstance(provider.settings, ToySettings) and provider.settings.reseller is False
    with pytest.raises(TypeError, match="not the ToySettings its Provider"):

        class Mismatch(Provider[ToySettings]):
            settings_model = ProviderSettings


async def test_capabilities_narrow_per_instance() -> None:
    reseller, admin = shop(), shop(reseller=False)
    assert reseller.instance_capabilities.supports("addon:shared_mailbox")
    assert not admin.instance_capabilities.supports("addon:shared_mailbox")
    assert Shop.capabilities.supports("addon:shared_mailbox")  # the class declares the most
    with pytest.raises(errors.UnsupportedOperation, match="not a reseller"):
        await admin.apply_addon(TENANT, "shared_mailbox", 2)
    assert admin.sent == []


def test_capabilities_for_may_not_widen_the_class() -> None:
    class Greedy(Shop):
        @classmethod
        def capabilities_for(cls, settings: ToySettings) -> Capabilities:
            gaps = {k: v for k, v in _GAPS.items() if k != "addon:storage_gb"}
            return Capabilities(
                addons=frozenset({"shared_mailbox", "storage_gb"}), unsupported=gaps
            )

    with pytest.raises(TypeError, match="widens the class's capabilities: addon:storage_gb"):
        Greedy({"plans": {"mail": {}}})


def test_a_parametrized_change_result_is_built_once_per_process() -> None:
    # pydantic keeps it weakly; rebuilding it after every garbage collection cost each
    # write 40-80 us (contract/models.py keeps it).
    import gc
    import weakref
    from typing import TypeVar

    fresh = TypeVar("fresh")
    made = weakref.ref(ChangeResult[fresh])
    gc.collect()
    assert made() is not None and ChangeResult[fresh] is made()
    assert ChangeResult[int] is ChangeResult[int]


def _without_licence(kind: LicenceKind) -> type[Provider]:
    """Toy's operations without ``_get_licence``, declaring licence model ``kind``."""
    methods = {
        name: Toy.__dict__[name]
        for name in ("_set_plan", "_count_mailboxes", "_apply_addon", "_test_connection")
    }
    methods["_list_plans"] = Toy.__dict__["_list_plans"]
    return type(
        "Free",
        (Provider,),
        {
            "name": "free",
            "platform": "Free",
            "capabilities": Capabilities(
                addons=frozenset({"shared_mailbox"}),
                unsupported=_GAPS,
                licence=LicenceModel(kind=kind),
            ),
            **methods,
        },
    )


async def test_a_platform_without_licences_need_not_write_get_licence() -> None:
    """Declared ``none``: the base answers an unlimited licence in state ``none``."""
    free = _without_licence(LicenceKind.NONE)({"plans": {"mail": {}}})
    licence = await free.get_licence()
    assert licence.state is LicenceState.NONE
    assert (licence.seats_licensed, licence.seats_free, licence.over_used) == (None, None, False)
    # Any other model must say how it reads its licence.
    with pytest.raises(TypeError, match="does not implement: _get_licence"):
        _without_licence(LicenceKind.PER_SEAT)


def test_a_licence_model_is_typed_data() -> None:
    assert Toy.capabilities.licence == LicenceModel(kind=LicenceKind.PER_SEAT)  # the default
    model = LicenceModel.model_validate({"kind": "per_mailbox", "minimum": 10})
    assert model.per_mailbox and model.minimum == 10
    with pytest.raises(ValueError, match="only a per_mailbox licence model has a minimum"):
        LicenceModel(kind=LicenceKind.CALS, minimum=5)
    with pytest.raises(ValueError):
        LicenceModel.model_validate({"kind": "per_byte"})
    declared = Capabilities(addons=frozenset({"shared_mailbox"}), unsupported=_GAPS, licence=model)
    narrowed = declared.narrowed(["addon:shared_mailbox"], "not sold here")
    assert narrowed.licence == model
