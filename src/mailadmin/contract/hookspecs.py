"""The hooks a mailadmin plugin may implement.

One registration hook puts provider classes into the registry; provider calls never go
through pluggy. Three cross-cutting hooks see every provider call (audit, metrics,
policy): they are 1:N, called for every plugin that implements them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pluggy

if TYPE_CHECKING:
    from mailadmin.contract.provider import CallInfo, Provider
    from mailadmin.errors import MailadminError

__all__ = ["Register", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("mailadmin")
#: Decorate a plugin's hook functions with this.
hookimpl = pluggy.HookimplMarker("mailadmin")


class Register(Protocol):
    """The callback handed to :func:`mailadmin_register_providers`."""

    def __call__(
        self,
        name: str,
        *,
        provider: str | type[Provider],
        mock: str | None = None,
        demo: str | None = None,
    ) -> None:
        """Register provider ``name``.

        ``provider``: the class, or ``"module:Class"`` imported on first use;
        ``mock``: ``"module:Class"`` of the platform's ``MockPlatform``, if it ships one;
        ``demo``: ``"module:function"`` returning a ``mailadmin.sdk.DemoScenario`` that
        ``mailadmin demo`` runs against the mock.
        """


@hookspec
def mailadmin_register_providers(register: Register) -> None:
    """Register this plugin's provider classes by calling ``register`` once for each.

    Example::

        @hookimpl
        def mailadmin_register_providers(register):
            register("ox", provider="mailadmin_ox.provider:OXProvider",
                     mock="mailadmin_ox.mock.platform:OXMock",
                     demo="mailadmin_ox.demo:scenario")
    """


@hookspec
def mailadmin_before_call(call: CallInfo, provider: Provider) -> str | None:
    """Called before every provider call, before the platform is touched.

    Return ``None`` to let the call proceed. Return a non-empty string, or raise
    :class:`~mailadmin.errors.PolicyDenied`, to refuse it: the string becomes the
    user-safe reason of the ``PolicyDenied`` error the caller receives; the orchestrator
    journals a refused write with status ``refused``. Writes to one subject are serialised
    before this hook runs, so a policy reading the platform sees no concurrent write to it.
    """


@hookspec
def mailadmin_after_call(call: CallInfo, provider: Provider, result: object) -> None:
    """Called after every provider call that succeeded, with its result."""


@hookspec
def mailadmin_call_failed(call: CallInfo, provider: Provider, error: MailadminError) -> None:
    """Called after every provider call that failed, with the normalised error."""
