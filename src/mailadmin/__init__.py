"""mailadmin: drive hosted-mail platforms through one typed API.

``from mailadmin import Orchestrator, Provider``. Names are imported on first use, so
``import mailadmin`` loads no plugin and no heavy dependency.
"""

from __future__ import annotations

# Not imported from typing: that module alone costs most of a bare ``import mailadmin``.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mailadmin.contract.capabilities import Capabilities, Operation
    from mailadmin.contract.provider import Provider
    from mailadmin.contract.settings import PlanMapping, ProviderSettings
    from mailadmin.models import (
        AddonRef,
        ChangeResult,
        Licence,
        Mailbox,
        MailboxCount,
        MailboxKind,
        MailboxRef,
        NewMailbox,
        Outcome,
        TenantRef,
    )
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.sync import SyncOrchestrator

__version__ = "0.1.0"

_LAZY = {
    "Orchestrator": "mailadmin.orchestration.orchestrator",
    "SyncOrchestrator": "mailadmin.orchestration.sync",
    "Provider": "mailadmin.contract.provider",
    "ProviderSettings": "mailadmin.contract.settings",
    "PlanMapping": "mailadmin.contract.settings",
    "Capabilities": "mailadmin.contract.capabilities",
    "Operation": "mailadmin.contract.capabilities",
    "AddonRef": "mailadmin.models",
    "ChangeResult": "mailadmin.models",
    "Licence": "mailadmin.models",
    "Mailbox": "mailadmin.models",
    "MailboxCount": "mailadmin.models",
    "MailboxKind": "mailadmin.models",
    "MailboxRef": "mailadmin.models",
    "NewMailbox": "mailadmin.models",
    "Outcome": "mailadmin.models",
    "TenantRef": "mailadmin.models",
}

__all__ = [
    "AddonRef",
    "Capabilities",
    "ChangeResult",
    "Licence",
    "Mailbox",
    "MailboxCount",
    "MailboxKind",
    "MailboxRef",
    "NewMailbox",
    "Operation",
    "Orchestrator",
    "Outcome",
    "PlanMapping",
    "Provider",
    "ProviderSettings",
    "SyncOrchestrator",
    "TenantRef",
    "__version__",
]


# The bottom vocabulary, reachable as ``mailadmin.errors`` after a bare ``import mailadmin``.
_LAZY_MODULES = {"errors": "mailadmin.errors", "models": "mailadmin.models"}


def __getattr__(name: str) -> Any:
    # importlib here, not at the top: ``mailadmin --help`` imports this package only.
    from importlib import import_module

    if name in _LAZY_MODULES:
        value = import_module(_LAZY_MODULES[name])
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mailadmin' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
