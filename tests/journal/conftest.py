"""Stores for the journal tests: SQLite always, PostgreSQL when a server answers.

The server lookup, the skip (with its reason) and the CI rule are those of the
business-rules tests (``tests/rules/conftest.py``), loaded from there so both stay one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_mailadmin_test_stores", Path(__file__).parents[1] / "rules" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_stores = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stores)

postgres_server = _stores.postgres_server
postgres_schema_url = _stores.postgres_schema_url
store_url = _stores.store_url
