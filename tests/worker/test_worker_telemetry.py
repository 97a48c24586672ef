"""A worker's ``/metrics``, its part of a trace (the context carried in each job) and the
``run.finished`` event of a distributed run, on the real PostgreSQL store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from pathlib import Path

import httpx
import sqlalchemy as sa
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

# The suite imports test modules by path: the helpers of the distributed-run tests.
sys.path.insert(0, str(Path(__file__).parent))
from test_distributed import address, seed, write_config

from mailadmin.mock.serve import serve
from mailadmin.orchestration import tracing
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.worker.engine import run_worker


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_worker_serves_metrics_joins_the_trace_and_records_the_event(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    count = 12
    port = _free_port()
    try:
        with serve("memory", seed=seed(count)) as url:
            config = write_config(tmp_path, postgres_schema_url, url, chunk_size=5)
            async with (
                Orchestrator.from_config(config) as worker_side,
                Orchestrator.from_config(config) as orch,
            ):
                worker = asyncio.ensure_future(
                    run_worker(
                        worker_side,
                        concurrency=2,
                        heartbeat=0.5,
                        install_signal_handlers=False,
                        metrics_port=port,
                    )
                )
                try:
                    with tracing.span("HTTP POST /v1/runs/plan-changes", kind="server") as top:
                        result = await orch.set_plans(
                            [(address(i), "sync") for i in range(count)], distributed=True
                        )
                    async with httpx.AsyncClient() as http:
                        scraped = await http.get(f"http://127.0.0.1:{port}/metrics")
                        missing = await http.get(f"http://127.0.0.1:{port}/other")
                finally:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
    finally:
        tracing.uninstall()
        provider.shutdown()
    assert result.ok and result.run_id is not None
    assert scraped.status_code == 200 and missing.status_code == 404
    samples = _samples(scraped.text)
    done = frozenset({("operation", "set_plan"), ("state", "done")})
    assert samples[("mailadmin_run_items_total", done)] == count
    assert samples[("mailadmin_distributed_run_items", frozenset({("state", "done")}))] == count
    requests = sum(
        v
        for (name, labels), v in samples.items()
        if name == "mailadmin_platform_requests_total" and ("instance", "mem") in labels
    )
    assert requests >= count  # at least one write per item

    spans = exporter.get_finished_spans()
    trace_id = top.get_span_context().trace_id
    jobs = [s for s in spans if s.name == "job run_chunk"]
    assert len(jobs) == _chunks(postgres_schema_url, result.run_id)
    for job in jobs:
        assert job.context.trace_id == trace_id
        assert job.parent is not None and job.parent.span_id == top.get_span_context().span_id
    job_ids = {job.context.span_id for job in jobs}
    platform = [s for s in spans if s.kind is SpanKind.CLIENT and s.context.trace_id == trace_id]
    assert len(platform) >= count
    assert all(s.parent is not None and s.parent.span_id in job_ids for s in platform)

    engine = sa.create_engine(postgres_schema_url)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT kind, data FROM mailadmin_events ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [kind for kind, _ in rows] == ["run.finished"]
    data = json.loads(rows[0][1])
    assert data["run_id"] == result.run_id and data["distributed"] is True
    assert data["counts"] == {"done": count}


def _chunks(url: str, run_id: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            query = "SELECT count(DISTINCT chunk) FROM mailadmin_run_items WHERE run_id = :id"
            return int(db.execute(sa.text(query), {"id": run_id}).scalar_one())
    finally:
        engine.dispose()
