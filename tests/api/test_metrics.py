"""``/metrics`` of ``mailadmin serve``, parsed with prometheus_client's own text parser:
after a run, the counters moved by exactly the run's items and the platform requests the
mock received; a 429 answer is counted and retried."""

from __future__ import annotations

from typing import Any

from apihelpers import Service, wait_for_run
from prometheus_client.parser import text_string_to_metric_families

from mailadmin.mock.server import MockServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(service: Service) -> Samples:
    with service.client("site-admin") as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples carrying ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_metrics_count_a_runs_items_and_platform_requests(
    service: Service, fresh: MockServer
) -> None:
    before = scrape(service)
    # The first request of the run is answered 429 (and retried: Retry-After 0).
    fresh.inject({"kind": "rate_limit", "calls": [1], "retry_after": 0})
    items: list[dict[str, Any]] = [
        {"address": "anna@example.org", "plan": "sync"},
        {"address": "ben@example.org", "plan": "collaborate"},
        {"address": "nobody@example.org", "plan": "sync"},
    ]
    with service.client("site-admin") as http:
        run = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 1})
        assert run.status_code == 202, run.text
        finished = wait_for_run(http, run.json()["id"])
    after = scrape(service)
    assert finished["progress"]["succeeded"] == 2 and finished["progress"]["failed"] == 1

    assert (
        delta(before, after, "mailadmin_run_items_total", operation="set_plan", state="done") == 2
    )
    assert (
        delta(before, after, "mailadmin_run_items_total", operation="set_plan", state="failed") == 1
    )
    # Every request the mock received was counted once, by instance and outcome.
    received = len(fresh.requests)
    assert received > 0
    counted = delta(before, after, "mailadmin_platform_requests_total", instance="mem")
    retried = delta(before, after, "mailadmin_platform_retries_total", instance="mem")
    assert counted + retried == received
    assert delta(before, after, "mailadmin_platform_throttled_total", instance="mem") == 1
    assert retried >= 1
    # The unknown mailbox: the platform's 404 is a client error.
    assert delta(before, after, "mailadmin_platform_requests_total", outcome="client_error") >= 1
    seconds = delta(before, after, "mailadmin_platform_request_seconds_count")
    assert seconds == counted
    # Read from the store when scraped.
    assert ("mailadmin_journal_open_rows", frozenset()) in after
    assert total(after, "mailadmin_journal_open_rows") == 0


def test_metrics_need_the_site_admins_key(service: Service) -> None:
    with service.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with service.client("reseller:acme") as http:
        refused = http.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
