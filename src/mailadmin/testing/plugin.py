"""pytest plugin entry point (``pytest11``) of the mailadmin conformance kit."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers the kit uses."""
    config.addinivalue_line(
        "markers", "mailadmin_capability(key): the test needs this declared provider feature"
    )
