"""Traces, exported in memory: one trace from the HTTP request that starts a run, through
the run, to each platform request; JSON logs carry the request id."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apihelpers import config_text, wait_for_run
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from test_inprocess import served

from mailadmin.mock.server import MockServer
from mailadmin.orchestration import tracing
from mailadmin.orchestration.jsonlogs import JsonFormatter
from mailadmin.orchestration.orchestrator import Orchestrator


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    found = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(found))
    tracing.install(provider)
    try:
        yield found
    finally:
        tracing.uninstall()
        provider.shutdown()


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        found = by_id[parent.span_id]
        names.append(found.name)
        parent = found.parent
    return names


def test_one_trace_from_the_request_through_the_run_to_each_platform_request(
    fresh: MockServer, tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(fresh.url, tmp_path))  # type: ignore[attr-defined]
    items = [
        {"address": "anna@example.net", "plan": "sync"},
        {"address": "ben@example.net", "plan": "collaborate"},
    ]
    with served(lambda: Orchestrator.from_config(config)) as (url, key):
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            started = http.post("/v1/runs/plan-changes", json={"items": items})
            assert started.status_code == 202, started.text
            wait_for_run(http, started.json()["id"])
    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    request = next(s for s in spans if s.name == "HTTP POST /v1/runs/plan-changes")
    assert request.kind is SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes["mailadmin.request_id"] == started.headers["X-Request-Id"]
    run = next(s for s in spans if s.name == "run set_plan")
    assert run.attributes is not None and run.attributes["run_id"] == started.json()["id"]
    assert run.parent is not None and run.parent.span_id == request.context.span_id
    trace_id = request.context.trace_id
    platform = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT and s.context.trace_id == trace_id and s.name != request.name
    ]
    # Each platform request the mock received during the run is one span of the trace.
    assert len(platform) == len(fresh.requests)
    for span in platform:
        assert span.name.startswith("platform ")
        assert span.attributes is not None and span.attributes["mailadmin.instance"] == "mem"
        chain = _ancestors(span, by_id)
        assert chain[-2:] == ["run set_plan", request.name]
    assert {s.attributes["http.response.status_code"] for s in platform if s.attributes} <= {
        200,
        201,
        204,
    }


def test_tracing_is_off_unless_configured() -> None:
    assert not tracing.enabled()
    with tracing.span("nothing") as nothing:
        assert nothing is None
    assert tracing.carrier() is None


def test_a_carrier_joins_another_process_to_the_trace(exporter: InMemorySpanExporter) -> None:
    with tracing.span("HTTP POST /v1/runs/plan-changes", kind="server"):
        carried = tracing.carrier()
    assert carried is not None and "traceparent" in carried
    # What a worker does with the carrier found in its job's arguments.
    with tracing.span("job run_chunk", {"run_id": "r1", "chunk": 0}, parent=carried):
        pass
    request, job = exporter.get_finished_spans()
    assert job.context.trace_id == request.context.trace_id
    assert job.parent is not None and job.parent.span_id == request.context.span_id


def test_json_logs_carry_the_request_id() -> None:
    record = logging.LogRecord("mailadmin.api", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    record.request_id = "abc123"
    record.status = 200
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello x"
    assert line["request_id"] == "abc123"
    assert line["status"] == 200
    assert line["level"] == "INFO" and line["logger"] == "mailadmin.api"


def test_json_logs_of_a_platform_call_keep_the_http_request_id() -> None:
    from mailadmin.orchestration.jsonlogs import REQUEST_ID

    record = logging.LogRecord("mailadmin.wire", logging.INFO, __file__, 1, "GET", (), None)
    record.request_id = "platform-1"
    token = REQUEST_ID.set("http-1")
    try:
        line = json.loads(JsonFormatter().format(record))
        plain = logging.LogRecord("mailadmin.api", logging.INFO, __file__, 1, "x", (), None)
        inside = json.loads(JsonFormatter().format(plain))
    finally:
        REQUEST_ID.reset(token)
    assert (line["request_id"], line["http_request_id"]) == ("platform-1", "http-1")
    assert inside["request_id"] == "http-1" and "http_request_id" not in inside
