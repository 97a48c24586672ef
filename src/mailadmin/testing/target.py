"""What a plugin author hands the conformance kit: a provider, its mock and a known state.

One :class:`ConformanceTarget` describes a provider class, the mock platform it is run
against and the facts the suites rely on (a tenant and a user mailbox that exist in the
mock's start state, two configured plans). It names no mode: the kit runs every suite
twice, in process and against the mock served on loopback, building the settings for
each from :attr:`ConformanceTarget.settings`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailadmin.contract.models import MailboxRef, TenantRef

if TYPE_CHECKING:
    from mailadmin.contract.provider import Provider
    from mailadmin.contract.settings import ProviderSettings
    from mailadmin.mock.faults import Fault
    from mailadmin.mock.platform import MockPlatform
    from mailadmin.orchestration.registry import Registry
    from mailadmin.testing.probe import StateProbe

__all__ = ["ConformanceTarget", "SettingsFactory"]

#: ``settings(base_url)`` -> the provider's settings for a mock answering at ``base_url``
#: (``"http://127.0.0.1:54321"``): endpoint (with any path the platform needs),
#: credentials the mock accepts and the neutral plans mapped to native ones.
SettingsFactory = Callable[[str], "ProviderSettings | Mapping[str, Any]"]


@dataclass(frozen=True, kw_only=True)
class ConformanceTarget:
    """A provider and its mock, described for the conformance suites.

    ``provider``: the provider class (``MemoryProvider``); ``mock``: its mock platform
    class (``MemoryMock``); ``settings``: see :data:`SettingsFactory`; ``tenant``: a
    tenant of the mock's start state (``"example.com"`` or a :class:`TenantRef`);
    ``mailbox``: a user mailbox of that tenant (``"anna@example.com"``); ``plans``: two
    different neutral plans configured in the settings (``("mail", "sync")``).

    ``probe``: a :class:`~mailadmin.testing.probe.StateProbe` reading the mock's state, so
    every write is checked on the platform and not only through the provider (the kit
    fails a target without one).

    Optional: ``seed``: applied over the mock's defaults before every test;
    ``over_licence_seed``: a seed that puts the platform over its licence (proves that
    over-use is flagged; without it that test is skipped); ``addon_quantities``: two
    different totals the add-on tests set; ``wrong_credentials``: turns good settings
    into settings the platform must reject (default: the same user with a wrong secret);
    ``check_registration``: whether the provider must be the class registered under its
    name (off for variants built only for a test).

    ``refusals``: how the mock refuses a plan change, per refusal kind of
    :mod:`mailadmin.testing.suite.refusals` (``not_found``, ``limit_reached``, ``invalid``,
    ``refused_in_200``, ``other_operation``): a :class:`~mailadmin.mock.Fault` answering
    the ``set_plan`` write in the platform's own shape, or the reason the platform never
    answers so. A kind left out fails its test.
    """

    provider: type[Provider]
    mock: type[MockPlatform]
    settings: SettingsFactory
    tenant: TenantRef | str
    mailbox: str
    plans: tuple[str, str]
    probe: StateProbe | None = None
    seed: Mapping[str, Any] | None = None
    over_licence_seed: Mapping[str, Any] | None = None
    addon_quantities: tuple[int, int] = (40, 45)
    wrong_credentials: Callable[[ProviderSettings], ProviderSettings] | None = None
    check_registration: bool = True
    refusals: Mapping[str, Fault | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.plans) != 2 or self.plans[0] == self.plans[1]:
            raise ValueError("a conformance target needs two different plans")
        low, high = self.addon_quantities
        if low == high or min(low, high) < 0:
            raise ValueError("addon_quantities must be two different totals, 0 or more")
        from mailadmin.testing.suite.refusals import REFUSAL_KINDS

        unknown = sorted(set(self.refusals) - set(REFUSAL_KINDS))
        if unknown:
            raise ValueError(
                f"unknown refusal kinds {unknown}; the kit knows {', '.join(REFUSAL_KINDS)}"
            )

    @classmethod
    def registered(
        cls, name: str, *, registry: Registry | None = None, **fields: Any
    ) -> ConformanceTarget:
        """A target for the provider and mock registered as ``name`` in the registry.

        The other fields are passed through (``settings=...``, ``tenant=...``, ...).
        Going through the registry also proves the plugin's entry point works.
        """
        from mailadmin.orchestration.registry import get_registry

        entry = (registry or get_registry()).get(name)
        return cls(provider=entry.load(), mock=entry.load_mock(), **fields)

    def settings_for(self, base_url: str) -> ProviderSettings:
        """The provider's settings for a mock at ``base_url``, validated."""
        model = self.provider.settings_model
        raw = self.settings(base_url)
        if isinstance(raw, model):
            return raw
        plain = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw)
        return model.model_validate(plain)

    @property
    def tenant_ref(self) -> TenantRef:
        """``tenant`` as a :class:`TenantRef`."""
        if isinstance(self.tenant, TenantRef):
            return self.tenant
        return TenantRef(name=self.tenant)

    @property
    def mailbox_ref(self) -> MailboxRef:
        """``mailbox`` as a :class:`MailboxRef` of the tenant."""
        return MailboxRef(tenant=self.tenant_ref, address=self.mailbox)

    @property
    def domain(self) -> str:
        """The mail domain of ``mailbox`` (new test mailboxes are created in it)."""
        return self.mailbox.rpartition("@")[2].lower()
