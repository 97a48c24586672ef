"""mailadmin: drive hosted-mail platforms through one typed API.

``from mailadmin import Orchestrator, Provider``. Names are imported on first use, so
``import mailadmin`` loads no plugin and no heavy dependency.
"""

from __future__ import annotations

from importlib import import_module

# Not imported from typing: that module alone costs most of a bare ``import mailadmin``.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mailadmin.capabilities import Capabilities, Operation
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
    from mailadmin.orchestrator import Orchestrator
    from mailadmin.provider import Provider
    from mailadmin.settings import PlanMapping, ProviderSettings
    from mailadmin.sync import SyncOrchestrator

__version__ = "0.1.0"

_LAZY = {
    "Orchestrator": "mailadmin.orchestrator",
    "SyncOrchestrator": "mailadmin.sync",
    "Provider": "mailadmin.provider",
    "ProviderSettings": "mailadmin.settings",
    "PlanMapping": "mailadmin.settings",
    "Capabilities": "mailadmin.capabilities",
    "Operation": "mailadmin.capabilities",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mailadmin' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
