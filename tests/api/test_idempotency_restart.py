"""Issue 29.8: an Idempotency-Key whose request started a run, and whose service died
before keeping the answer, is settled when the next start-up takes the run up: a repeat
gets the run (``202``, replayed), not ``409 idempotency_in_progress`` for five minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from apihelpers import config_text

from mailadmin.api.app import create_app
from mailadmin.api.keys import ApiKeys
from mailadmin.mock.server import MockServer
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.rules.identities import Identity

ITEMS = [{"address": f"{name}@example.com", "plan": "collaborate"} for name in ("anna", "ben")]


@asynccontextmanager
async def started(config: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """One start of the service over ``config``: its app and a client of it."""
    app = create_app(orchestrator=lambda: Orchestrator.from_config(config))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield app, client


async def test_a_key_of_a_run_cut_short_is_settled_at_start_up(
    fresh: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(fresh.url, tmp_path))  # type: ignore[attr-defined]
    request = {"items": ITEMS, "concurrency": 1}
    # Each write waits on the platform, so the run is still going when the service stops.
    fresh.inject({"kind": "latency", "operation": "change_plan", "delay": 0.5})
    try:
        async with started(config) as (app, client):
            services = app.state.services
            key = ApiKeys(services.orch.rules.store).create(Identity.parse("reseller:acme")).key
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "order-77"}

            # The service dies after starting the run, before it keeps the answer.
            def died(key_id: str, key: str, answer: Any) -> None:
                return None

            services.idempotency.complete = died
            first = await client.post("/v1/runs/plan-changes", json=request, headers=headers)
            assert first.status_code == 202, first.text
            run_id = first.json()["id"]
            blocked = await client.post("/v1/runs/plan-changes", json=request, headers=headers)
            assert blocked.status_code == 409  # the claim is still pending in this life
        # The next start takes the unfinished run up, and with it the key.
        async with started(config) as (app, client):
            again = await client.post("/v1/runs/plan-changes", json=request, headers=headers)
            other = await client.post(
                "/v1/runs/plan-changes",
                json={"items": ITEMS[:1]},
                headers={**headers, "Idempotency-Key": "order-78"},
            )
            await app.state.services.runs.wait(run_id)
            polled = await client.get(f"/v1/runs/{run_id}", headers=headers)
    finally:
        fresh.clear_faults()
    assert again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == f"/v1/runs/{run_id}"
    assert again.json()["id"] == run_id
    assert other.status_code == 202 and other.json()["id"] != run_id
    assert polled.json()["state"] == "succeeded"
