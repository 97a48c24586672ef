"""The cmdlets the mock runs, their parameters and parameter sets, and PowerShell's binding.

Parameter names and sets come from the official cmdlet docs (``MicrosoftDocs/
office-docs-powershell``, ``exchange/exchange-ps/ExchangePowerShell/*.md``: the SYNTAX
blocks and each parameter's ``Parameter Sets`` and ``Required``), limited to the Exchange
Online parameters the mock acts on. Binding follows PowerShell's rules as the admin API
reports them (reference 1.7):

* names match whatever their case (``identity`` binds ``Identity``);
* a name no parameter set of the cmdlet has: ``A parameter cannot be found that matches
  parameter name 'X'.`` (``ParameterBindingException``);
* names that no single set holds together: ``Parameter set cannot be resolved using the
  specified named parameters.`` (``AmbiguousParameterSetException``, empty error id);
* a set whose mandatory parameters are missing: ``Cannot process command because of one
  or more missing mandatory parameters: X Y.``;
* a switch given anything but a JSON boolean: ``Cannot process argument transformation on
  parameter 'X'...`` (inferred text, PowerShell's wording for a failed conversion).

The common parameters (``ErrorAction``, ``WarningAction``, ``Verbose``, ``WhatIf``,
``Confirm`` where a cmdlet declares it) bind in every set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mailadmin_exchange.mock.state import CmdletError

__all__ = ["CMDLETS", "Cmdlet", "bind"]

_BINDING = "System.Management.Automation.ParameterBindingException"
_AMBIGUOUS = "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException"
_COMMON = frozenset({"ErrorAction", "WarningAction", "Verbose", "Debug", "WhatIf", "Confirm"})


@dataclass(frozen=True)
class Cmdlet:
    """One cmdlet: its parameter sets (name -> mandatory, optional parameters), the
    parameters every set has, and which parameters are switches."""

    sets: Mapping[str, tuple[frozenset[str], frozenset[str]]]
    shared: frozenset[str] = frozenset()
    switches: frozenset[str] = frozenset()

    @cached_property
    def names(self) -> dict[str, str]:
        """Every parameter name, lower-cased -> as declared (made once: every request
        binds its parameters through it)."""
        every = set(self.shared) | set(_COMMON)
        for mandatory, optional in self.sets.values():
            every |= mandatory | optional
        return {name.lower(): name for name in every}


def _set(
    mandatory: set[str], optional: set[str] = frozenset()
) -> tuple[frozenset[str], frozenset[str]]:  # type: ignore[assignment]
    return frozenset(mandatory), frozenset(optional)


_LISTING = {"Filter", "RecipientTypeDetails", "ResultSize", "SortBy"}
_NEW_MAILBOX_COMMON = {
    "DisplayName",
    "Alias",
    "PrimarySmtpAddress",
    "Password",
    "FirstName",
    "LastName",
}

CMDLETS: dict[str, Cmdlet] = {
    # Get-Mailbox.md: Identity, AnrSet, MailboxPlanSet (Database and Server: on-premises).
    "get-mailbox": Cmdlet(
        sets={
            "Identity": _set(set(), {"Identity"}),
            "AnrSet": _set(set(), {"Anr"}),
            "MailboxPlanSet": _set(set(), {"MailboxPlan"}),
        },
        shared=frozenset(_LISTING),
    ),
    # Get-CASMailbox.md: Identity, AnrSet.
    "get-casmailbox": Cmdlet(
        sets={"Identity": _set(set(), {"Identity"}), "AnrSet": _set(set(), {"Anr"})},
        shared=frozenset(_LISTING),
    ),
    # Get-MailboxPlan.md: one set.
    "get-mailboxplan": Cmdlet(
        sets={
            "Default": _set(
                set(), {"Identity", "AllMailboxPlanReleases", "Filter", "ResultSize", "SortBy"}
            )
        },
        switches=frozenset({"AllMailboxPlanReleases"}),
    ),
    # Set-Mailbox.md: Identity mandatory; the quota, display and type parameters.
    "set-mailbox": Cmdlet(
        sets={
            "Identity": _set(
                {"Identity"},
                {
                    "IssueWarningQuota",
                    "ProhibitSendQuota",
                    "ProhibitSendReceiveQuota",
                    "UseDatabaseQuotaDefaults",
                    "DisplayName",
                    "EmailAddresses",
                    "ForwardingSmtpAddress",
                    "DeliverToMailboxAndForward",
                    "Type",
                    # CustomAttribute1 to 15 are Set-Mailbox parameters of their own.
                    *(f"CustomAttribute{n}" for n in range(1, 16)),
                },
            )
        }
    ),
    # Set-CASMailbox.md: Identity mandatory; the protocol switches are Booleans.
    "set-casmailbox": Cmdlet(
        sets={
            "Identity": _set(
                {"Identity"},
                {
                    "ActiveSyncEnabled",
                    "OWAEnabled",
                    "MAPIEnabled",
                    "PopEnabled",
                    "ImapEnabled",
                    "EwsEnabled",
                    "ECPEnabled",
                },
            )
        }
    ),
    # New-Mailbox.md: the Exchange Online sets the mock creates.
    "new-mailbox": Cmdlet(
        sets={
            "Shared": _set({"Name", "Shared"}, _NEW_MAILBOX_COMMON),
            "Room": _set({"Name", "Room"}, _NEW_MAILBOX_COMMON | {"ResourceCapacity"}),
            "Equipment": _set({"Name", "Equipment"}, _NEW_MAILBOX_COMMON),
            "MicrosoftOnlineServicesID": _set(
                {"Name", "Password", "MicrosoftOnlineServicesID"},
                _NEW_MAILBOX_COMMON | {"MailboxPlan"},
            ),
        },
        switches=frozenset({"Shared", "Room", "Equipment"}),
    ),
    # Remove-Mailbox.md: Identity mandatory.
    "remove-mailbox": Cmdlet(
        sets={"Identity": _set({"Identity"}, {"Permanent"})},
        switches=frozenset({"Permanent"}),
    ),
}


def bind(cmdlet: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` bound to ``cmdlet`` (names as declared), or the :class:`CmdletError`
    PowerShell's binding gives; ``KeyError`` for a cmdlet the mock does not run."""
    spec = CMDLETS[cmdlet.lower()]
    names = spec.names
    bound: dict[str, Any] = {}
    for given, value in parameters.items():
        name = names.get(given.lower())
        if name is None:
            raise CmdletError(
                400, _BINDING, f"A parameter cannot be found that matches parameter name '{given}'."
            )
        if name in spec.switches and not isinstance(value, bool):
            raise CmdletError(
                400,
                _BINDING,
                f"Cannot process argument transformation on parameter '{name}'. Cannot convert "
                f'value "{value}" to type "System.Management.Automation.SwitchParameter".',
                in_details=False,
            )
        bound[name] = value
    used = set(bound) - _COMMON - spec.shared
    fitting = {n: s for n, s in spec.sets.items() if used <= (s[0] | s[1])}
    if not fitting:
        raise CmdletError(
            400,
            _AMBIGUOUS,
            "Parameter set cannot be resolved using the specified named parameters.",
        )
    complete = [n for n, (mandatory, _) in fitting.items() if mandatory <= set(bound)]
    if not complete:
        # PowerShell names what the closest set still needs (the one missing the fewest).
        missing = min(
            (sorted(s[0] - set(bound)) for s in fitting.values()), key=lambda m: (len(m), m)
        )
        raise CmdletError(
            400,
            _BINDING,
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}.",
        )
    return bound
