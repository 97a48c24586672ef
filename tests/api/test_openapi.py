"""The OpenAPI document: checked in, in sync, served, and honoured (schemathesis)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from apihelpers import Service

from mailadmin.mock.server import MockServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_checked_in_document_is_current() -> None:
    from mailadmin.api.openapi import render

    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/openapi.json is stale: python -m mailadmin.api.openapi > docs/openapi.json"
    )


def test_the_service_serves_the_same_document(service: Service) -> None:
    with service.client() as http:
        served = http.get("/openapi.json").json()
    assert served == json.loads(DOC.read_text(encoding="utf-8"))


def test_every_operation_documents_problem_answers() -> None:
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            default = operation["responses"]["default"]["content"]
            assert "application/problem+json" in default, (method, path)
            if method in ("post", "put", "delete"):
                names = {p["name"] for p in operation.get("parameters", [])}
                assert "dry_run" in names, (method, path)


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(
    service: Service, mock: MockServer
) -> None:
    """A bounded property-based run: a few examples per operation, as the site admin."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    headers = {"Authorization": f"Bearer {service.key('site-admin')}"}
    started = time.monotonic()
    tried = 0
    for found in schema.get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=3,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal tried
            tried += 1
            # Valid-looking input naming no configured tenant is rightly refused (422/404):
            # the check that expects 2xx for any schema-valid input does not apply.
            case.call_and_validate(
                base_url=service.url,
                headers=headers,
                excluded_checks=[positive_data_acceptance],
            )

        check()
    print("schemathesis examples", tried)
    assert tried >= 26
    assert time.monotonic() - started < 60
