"""A provider connected to its mock in one mode: what every suite test works with.

``in-process``: the provider's ``http=`` is the mock's respx router, no socket is opened.
``server``: the mock is served on loopback and the provider's ``endpoint`` points at it,
so the provider's own HTTP transport (aiohttp by default) does real HTTP.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import SecretStr

from mailadmin.contract.settings import Credentials

if TYPE_CHECKING:
    import httpx

    from mailadmin.contract.capabilities import Capabilities
    from mailadmin.contract.models import MailboxKind, MailboxRef, MailboxSettings, TenantRef
    from mailadmin.contract.provider import Provider
    from mailadmin.contract.settings import ProviderSettings
    from mailadmin.testing.control import MockControl
    from mailadmin.testing.probe import StateProbe
    from mailadmin.testing.servers import ServerPool
    from mailadmin.testing.target import ConformanceTarget

__all__ = [
    "IN_PROCESS",
    "MODES",
    "SERVER",
    "WRONG_SECRET",
    "Harness",
    "PlatformView",
    "open_harness",
    "skip_reason",
]

IN_PROCESS = "in-process"
SERVER = "server"
#: Every mode the kit runs a suite in.
MODES: tuple[str, ...] = (IN_PROCESS, SERVER)
#: The secret the authentication tests sign in with; it must never show in an error.
WRONG_SECRET = "wrong-secret-3f9c2a7d"


class Harness:
    """The target's provider talking to its mock in ``mode``.

    ``provider``: a provider built from the target's settings; ``mock``: the
    :class:`~mailadmin.testing.control.MockControl` of the mock it talks to; ``base_url``:
    where the mock answers. Providers made here are closed when the test ends.
    """

    def __init__(
        self,
        target: ConformanceTarget,
        mode: str,
        mock: MockControl,
        base_url: str,
        http: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.target = target
        self.mode = mode
        self.mock = mock
        self.base_url = base_url
        self._http = http
        self._providers: list[Provider] = []
        self._provider: Provider | None = None
        self._numbers = itertools.count(1)

    # -- what the suites use -----------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """The capabilities of the provider under test (per instance where it has them)."""
        return capabilities_of(self.provider)

    @property
    def platform(self) -> PlatformView:
        """What the mock holds now, read through the target's probe."""
        return PlatformView(self)

    @property
    def tenant(self) -> TenantRef:
        """The target's tenant."""
        return self.target.tenant_ref

    @property
    def mailbox(self) -> MailboxRef:
        """The target's existing user mailbox."""
        return self.target.mailbox_ref

    @property
    def plans(self) -> tuple[str, str]:
        """The target's two plans."""
        return self.target.plans

    @property
    def provider(self) -> Provider:
        """A provider built from the target's settings (one per test)."""
        if self._provider is None:
            self._provider = self.make_provider()
        return self._provider

    def settings(self, **update: Any) -> ProviderSettings:
        """The target's settings for this mock, with ``update`` applied on top."""
        settings = self.target.settings_for(self.base_url)
        if not update:
            return settings
        return type(settings).model_validate({**settings.model_dump(), **update})

    def make_provider(self, settings: ProviderSettings | None = None) -> Provider:
        """Another provider talking to the same mock (``settings``: default the target's)."""
        provider = self.target.provider(
            settings if settings is not None else self.settings(), http=self._http
        )
        self._providers.append(provider)
        return provider

    def wrong_credentials_provider(self) -> Provider:
        """A provider whose credentials the platform must refuse."""
        good = self.settings()
        if self.target.wrong_credentials is not None:
            return self.make_provider(self.target.wrong_credentials(good))
        wrong = Credentials(username=good.credentials.username, secret=SecretStr(WRONG_SECRET))
        return self.make_provider(self.settings(credentials=wrong))

    def require(self, *keys: str) -> None:
        """Skip the test, with the provider's declared reason, unless every key is supported."""
        for key in keys:
            if not self.capabilities.supports(key):
                pytest.skip(skip_reason(self.target.provider.name, key, self.capabilities))

    def new_address(self, stem: str = "mailbox") -> str:
        """A fresh address in the target's mail domain (``kit-room-1@example.com``)."""
        return f"kit-{stem}-{next(self._numbers)}@{self.target.domain}"

    async def aclose(self) -> None:
        """Close every provider made for the test."""
        for provider in self._providers:
            await provider.aclose()
        self._providers.clear()
        self._provider = None


class PlatformView:
    """The mock's state in the contract's terms, read afresh on every question.

    ``available`` is false when the target has no probe; the checks then do nothing (and
    the contract suite fails the target for it).
    """

    def __init__(self, harness: Harness) -> None:
        self._h = harness

    @property
    def available(self) -> bool:
        """True when the target supplies a probe."""
        return self._h.target.probe is not None

    def plan(self, mailbox: MailboxRef | None = None) -> str | None:
        """The plan the platform holds for ``mailbox`` (default: the target's)."""
        probe = self._probe()
        return probe.plan(self._h.mock.state(), self._h.settings(), mailbox or self._h.mailbox)

    def addon(self, addon: str) -> int | None:
        """The total the platform holds for an add-on of the target's tenant."""
        from mailadmin.contract.models import AddonRef

        probe = self._probe()
        ref = AddonRef.parse(addon)
        return probe.addon(self._h.mock.state(), self._h.settings(), self._h.tenant, ref)

    def mailboxes(self) -> dict[str, MailboxKind]:
        """The tenant's mailboxes on the platform, by lower-case address."""
        probe = self._probe()
        return probe.mailboxes(self._h.mock.state(), self._h.settings(), self._h.tenant)

    def password_matches(self, password: str, mailbox: MailboxRef | None = None) -> bool:
        """True when the platform would accept ``password`` for ``mailbox`` (default: the
        target's)."""
        probe = self._probe()
        ref = mailbox or self._h.mailbox
        return probe.password_matches(self._h.mock.state(), self._h.settings(), ref, password)

    def mailbox_suspended(self, mailbox: MailboxRef | None = None) -> bool:
        """True when the platform holds the mailbox (default: the target's) suspended."""
        probe = self._probe()
        ref = mailbox or self._h.mailbox
        return probe.mailbox_suspended(self._h.mock.state(), self._h.settings(), ref)

    def tenant_suspended(self) -> bool:
        """True when the platform holds the target's tenant suspended."""
        probe = self._probe()
        return probe.tenant_suspended(self._h.mock.state(), self._h.settings(), self._h.tenant)

    def mailbox_settings(self, mailbox: MailboxRef | None = None) -> MailboxSettings:
        """The settings the platform holds for ``mailbox`` (default: the target's)."""
        probe = self._probe()
        ref = mailbox or self._h.mailbox
        return probe.mailbox_settings(self._h.mock.state(), self._h.settings(), ref)

    def tenant_exists(self, tenant: TenantRef) -> bool:
        """True when the platform holds ``tenant``."""
        return self._probe().tenant_exists(self._h.mock.state(), self._h.settings(), tenant)

    def _probe(self) -> StateProbe:
        probe = self._h.target.probe
        if probe is None:
            raise RuntimeError("the target has no probe; check platform.available first")
        return probe


def capabilities_of(provider: Provider | type[Provider]) -> Capabilities:
    """A provider's capabilities: its instance's where the contract has them, else its
    class's."""
    found: Capabilities = getattr(provider, "instance_capabilities", provider.capabilities)
    return found


def open_harness(target: ConformanceTarget, mode: str, pool: ServerPool | None = None) -> Harness:
    """Set the target's mock up in ``mode`` (fresh state, no faults, nothing recorded)."""
    if mode == IN_PROCESS:
        from mailadmin.mock.server import MockServer
        from mailadmin.testing.control import InProcessControl

        server = MockServer(target.mock, seed=target.seed)
        base_url = target.mock.base_url
        return Harness(target, mode, InProcessControl(server), base_url, server.router(base_url))
    if mode == SERVER:
        if pool is None:
            raise ValueError("the server mode needs a ServerPool to serve the mock from")
        base_url = pool.url(target.mock)
        control = pool.control(target.mock)
        control.reset()
        if target.seed:
            control.seed(target.seed)
        return Harness(target, mode, control, base_url)
    raise ValueError(f"unknown mode {mode!r}; the kit knows {', '.join(MODES)}")


def skip_reason(provider: str, key: str, capabilities: Capabilities) -> str:
    """The skip message of an unsupported feature: it carries the declared reason."""
    return f"{provider} does not support {key}: {capabilities.reason(key)}"
