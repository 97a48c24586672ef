"""The memory platform's mock server: state (rules), handlers (wire) and routes.

``MockServer(MemoryMock)`` runs one in process; ``mailadmin mock serve memory`` on
loopback. Defaults and the seed format: :mod:`mailadmin.reference.mock.state`.
"""

from __future__ import annotations

from mailadmin.reference.mock.platform import MemoryMock
from mailadmin.reference.mock.state import MemoryState

__all__ = ["MemoryMock", "MemoryState"]
