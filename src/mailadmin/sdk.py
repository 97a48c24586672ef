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
from typing import TYPE_CHECKING, Any

from mailadmin import errors
from mailadmin.contract.capabilities import (
    KNOWN_ADDONS,
    REQUIRED,
    Capabilities,
    Feature,
    LicenceKind,
    LicenceModel,
    Operation,
)
from mailadmin.contract.change import Applied, Change, Verified
from mailadmin.contract.demo import DemoScenario
from mailadmin.contract.hookspecs import Register, hookimpl
from mailadmin.contract.provider import CallHooks, CallInfo, Provider, SettingsT
from mailadmin.contract.readback import bounded_int, native_name
from mailadmin.contract.settings import Credentials, PlanMapping, ProviderSettings
from mailadmin.models import (
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
    MailboxSettings,
    NativePlan,
    NewMailbox,
    Outcome,
    SignOn,
    TenantRef,
)
from mailadmin.wire.answers import AnswerCheck, Reading, Refusal, Verdict
from mailadmin.wire.jsonapi import ErrorRule, ErrorTable, JsonClient, parse_json
from mailadmin.wire.redaction import Redactor
from mailadmin.wire.transport import Streamed, Transport, raise_for_status

if TYPE_CHECKING:  # what the type checker sees for the names loaded on first use
    from mailadmin.wire import auth as auth
    from mailadmin.wire import paging as paging
    from mailadmin.wire import polling as polling
    from mailadmin.wire import soap as soap
    from mailadmin.wire.auth import ApiKeyAuth as ApiKeyAuth
    from mailadmin.wire.auth import ClientCredentialsAuth as ClientCredentialsAuth
    from mailadmin.wire.auth import SessionAuth as SessionAuth
    from mailadmin.wire.auth import Token as Token
    from mailadmin.wire.auth import with_body as with_body
    from mailadmin.wire.auth import with_cookie as with_cookie
    from mailadmin.wire.paging import OffsetPage as OffsetPage
    from mailadmin.wire.paging import items as items
    from mailadmin.wire.paging import next_link_pages as next_link_pages
    from mailadmin.wire.paging import odata_next_link as odata_next_link
    from mailadmin.wire.paging import offset_pages as offset_pages
    from mailadmin.wire.polling import PollTimeout as PollTimeout
    from mailadmin.wire.polling import poll as poll
    from mailadmin.wire.polling import retry_after_of as retry_after_of
    from mailadmin.wire.soap import EnvelopeError as EnvelopeError
    from mailadmin.wire.soap import Node as Node
    from mailadmin.wire.soap import SoapClient as SoapClient
    from mailadmin.wire.soap import SoapFault as SoapFault
    from mailadmin.wire.soap import SoapMessage as SoapMessage
    from mailadmin.wire.soap import SoapVersion as SoapVersion
    from mailadmin.wire.soap import child as child
    from mailadmin.wire.soap import child_text as child_text
    from mailadmin.wire.soap import children as children
    from mailadmin.wire.soap import content_type as content_type
    from mailadmin.wire.soap import envelope as envelope
    from mailadmin.wire.soap import fault_envelope as fault_envelope
    from mailadmin.wire.soap import is_nil as is_nil
    from mailadmin.wire.soap import local_name as local_name
    from mailadmin.wire.soap import namespace_of as namespace_of
    from mailadmin.wire.soap import node as node
    from mailadmin.wire.soap import read_envelope as read_envelope
    from mailadmin.wire.soap import read_fault as read_fault
    from mailadmin.wire.soap import request_headers as request_headers

# Names loaded on first use: name -> module (the SOAP, auth, paging and polling blocks).
_LAZY: dict[str, str] = {
    # SOAP 1.1 and 1.2: envelopes, faults, element helpers, the client
    "SoapVersion": "mailadmin.wire.soap",
    "SoapMessage": "mailadmin.wire.soap",
    "SoapFault": "mailadmin.wire.soap",
    "SoapClient": "mailadmin.wire.soap",
    "EnvelopeError": "mailadmin.wire.soap",
    "Node": "mailadmin.wire.soap",
    "node": "mailadmin.wire.soap",
    "envelope": "mailadmin.wire.soap",
    "read_envelope": "mailadmin.wire.soap",
    "read_fault": "mailadmin.wire.soap",
    "fault_envelope": "mailadmin.wire.soap",
    "content_type": "mailadmin.wire.soap",
    "request_headers": "mailadmin.wire.soap",
    "local_name": "mailadmin.wire.soap",
    "namespace_of": "mailadmin.wire.soap",
    "child": "mailadmin.wire.soap",
    "children": "mailadmin.wire.soap",
    "child_text": "mailadmin.wire.soap",
    "is_nil": "mailadmin.wire.soap",
    # credentials with a lifecycle (login sessions, OAuth2 client credentials)
    "Token": "mailadmin.wire.auth",
    "ApiKeyAuth": "mailadmin.wire.auth",
    "SessionAuth": "mailadmin.wire.auth",
    "ClientCredentialsAuth": "mailadmin.wire.auth",
    "with_body": "mailadmin.wire.auth",
    "with_cookie": "mailadmin.wire.auth",
    # paging: next links and offsets, one page in memory at a time
    "next_link_pages": "mailadmin.wire.paging",
    "offset_pages": "mailadmin.wire.paging",
    "OffsetPage": "mailadmin.wire.paging",
    "items": "mailadmin.wire.paging",
    "odata_next_link": "mailadmin.wire.paging",
    # polling accepted work, honouring Retry-After
    "poll": "mailadmin.wire.polling",
    "PollTimeout": "mailadmin.wire.polling",
    "retry_after_of": "mailadmin.wire.polling",
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
    "AnswerCheck",
    "Applied",
    "CallHooks",
    "CallInfo",
    "Capabilities",
    "Change",
    "ChangeResult",
    "ConnectionStatus",
    "Credentials",
    "DemoScenario",
    "ErrorRule",
    "ErrorTable",
    "Feature",
    "JsonClient",
    "Licence",
    "LicenceFeature",
    "LicenceKind",
    "LicenceModel",
    "LicenceState",
    "Mailbox",
    "MailboxCount",
    "MailboxKind",
    "MailboxRef",
    "MailboxSettings",
    "SignOn",
    "NativePlan",
    "NewMailbox",
    "Operation",
    "Outcome",
    "PlanMapping",
    "Provider",
    "ProviderSettings",
    "Reading",
    "Redactor",
    "Refusal",
    "Register",
    "SettingsT",
    "TenantRef",
    "Verdict",
    "Verified",
    "Streamed",
    "Transport",
    "bounded_int",
    "errors",
    "hookimpl",
    "native_name",
    "parse_json",
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
