"""Fixtures of the HTTP API tests; the helpers live in ``apihelpers`` (importable by tests).

The PostgreSQL server lookup, its skip (with the reason) and the CI rule are those of the
business-rules tests (``tests/rules/conftest.py``), loaded from there so all stay one.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# The suite imports test modules by path (importlib mode): put this folder on sys.path
# so the test modules can share the helpers.
sys.path.insert(0, str(Path(__file__).parent))

from apihelpers import any_service, fresh, mock, pg_service, service, store_url

_spec = importlib.util.spec_from_file_location(
    "_mailadmin_test_stores", Path(__file__).parents[1] / "rules" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_stores = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stores)
postgres_server = _stores.postgres_server

__all__ = ["any_service", "fresh", "mock", "pg_service", "postgres_server", "service", "store_url"]
