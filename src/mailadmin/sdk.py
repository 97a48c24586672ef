"""Everything a provider plugin needs, from one module.

::

    from mailadmin.sdk import (
        Capabilities, Change, ErrorRule, ErrorTable, JsonClient, Provider,
        ProviderSettings, errors,
    )

A plugin imports from here, :mod:`mailadmin.mock` (its mock server) and
:mod:`mailadmin.testing` (the conformance kit) only; the rest of the core may move.
``__all__`` is pinned by ``tests/test_sdk.py``: a name leaves only with a deprecation.

The contract, models, settings, transport and JSON client load with this module (pydantic,
pluggy; httpx on first use). SOAP, credential lifecycles, paging and polling load on first
use of one of their names. ``import mailadmin`` stays as light as before: it does not
import this module.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from mailadmin.contract import errors
from mailadmin.contract.capabilities import KNOWN_ADDONS, REQUIRED, Capabilities, Feature, Operation
from mailadmin.contract.change import Applied, Change
from mailadmin.contract.hookspecs import Register, hookimpl
from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    LicenceFeature,
    LicenceState,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.contract.provider import CallHooks, CallInfo, Provider, SettingsT
from mailadmin.contract.settings import Credentials, PlanMapping, ProviderSettings
from mailadmin.wire.jsonapi import ErrorRule, ErrorTable, JsonClient
from mailadmin.wire.transport import Transport, raise_for_status

# Names loaded on first use: name -> module. Their modules arrive with their own work.
_LAZY: dict[str, str] = {
    # SOAP 1.1 and 1.2, client and envelope helpers
    "SoapVersion": "mailadmin.wire.soap",
    "SoapMessage": "mailadmin.wire.soap",
    "SoapFault": "mailadmin.wire.soap",
    "SoapClient": "mailadmin.wire.soap",
    "Node": "mailadmin.wire.soap",
    "node": "mailadmin.wire.soap",
    "envelope": "mailadmin.wire.soap",
    "read_envelope": "mailadmin.wire.soap",
    "read_fault": "mailadmin.wire.soap",
    "fault_envelope": "mailadmin.wire.soap",
    "content_type": "mailadmin.wire.soap",
    "local_name": "mailadmin.wire.soap",
    "namespace_of": "mailadmin.wire.soap",
    "child": "mailadmin.wire.soap",
    "children": "mailadmin.wire.soap",
    "child_text": "mailadmin.wire.soap",
    "is_nil": "mailadmin.wire.soap",
    # credentials with a lifecycle
    "Token": "mailadmin.wire.auth",
    "SessionAuth": "mailadmin.wire.auth",
    "ClientCredentialsAuth": "mailadmin.wire.auth",
    # paging and polling
    "next_link_pages": "mailadmin.wire.paging",
    "offset_pages": "mailadmin.wire.paging",
    "poll": "mailadmin.wire.polling",
}

#: Whole modules reachable as ``from mailadmin.sdk import soap``.
_LAZY_MODULES: dict[str, str] = {
    "soap": "mailadmin.wire.soap",
    "auth": "mailadmin.wire.auth",
    "paging": "mailadmin.wire.paging",
    "polling": "mailadmin.wire.polling",
}

# Loaded with this module, then the names of _LAZY and _LAZY_MODULES (pinned by a test).
__all__ = [
    "KNOWN_ADDONS",
    "REQUIRED",
    "AddonRef",
    "Applied",
    "CallHooks",
    "CallInfo",
    "Capabilities",
    "Change",
    "ChangeResult",
    "ConnectionStatus",
    "Credentials",
    "ErrorRule",
    "ErrorTable",
    "Feature",
    "JsonClient",
    "Licence",
    "LicenceFeature",
    "LicenceState",
    "Mailbox",
    "MailboxCount",
    "MailboxKind",
    "MailboxRef",
    "NativePlan",
    "NewMailbox",
    "Operation",
    "Outcome",
    "PlanMapping",
    "Provider",
    "ProviderSettings",
    "Register",
    "SettingsT",
    "TenantRef",
    "Transport",
    "errors",
    "hookimpl",
    "raise_for_status",
    *_LAZY,
    *_LAZY_MODULES,
]


def lazy_names() -> dict[str, str]:
    """Every name of ``__all__`` loaded on first use, with the module that holds it."""
    return {**_LAZY, **_LAZY_MODULES}


def __getattr__(name: str) -> Any:
    module = _LAZY_MODULES.get(name)
    if module is not None:
        value = import_module(module)
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'mailadmin.sdk' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
