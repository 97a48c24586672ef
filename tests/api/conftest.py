"""Fixtures of the HTTP API tests; the helpers live in ``apihelpers`` (importable by tests)."""

from __future__ import annotations

import sys
from pathlib import Path

# The suite imports test modules by path (importlib mode): put this folder on sys.path
# so the test modules can share the helpers.
sys.path.insert(0, str(Path(__file__).parent))

from apihelpers import fresh, mock, service

__all__ = ["fresh", "mock", "service"]
