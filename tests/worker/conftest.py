"""The store fixtures of ``tests/rules`` for the distributed-run tests: one fresh schema
per test on the real PostgreSQL server, a visible skip without one, a failure under
``CI=true``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "_mailadmin_rules_conftest", Path(__file__).parent.parent / "rules" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_rules = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rules)

# The same PostgreSQL fixtures as the business-rules tests.
postgres_server = _rules.postgres_server
postgres_schema_url = _rules.postgres_schema_url
