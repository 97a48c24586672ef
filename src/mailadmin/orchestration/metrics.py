"""Prometheus metrics of one process (``/metrics`` of ``mailadmin serve`` and each worker).

Counted as things happen, in this process: platform requests by platform, instance,
operation and outcome, their latency, retries and 429 answers, run items as they end,
webhook delivery attempts. Read from the store when scraped: journal rows still open, the
items of distributed runs by state, deliveries by state. ``prometheus_client`` is
imported when a process builds :class:`Metrics`, never by the command line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics import MetricWrapperBase

    from mailadmin.store.database import Database

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_log = logging.getLogger("mailadmin.metrics")

#: Latency buckets (seconds): admin APIs answer in tens of milliseconds to many seconds.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """This process's metrics in a registry of their own; :meth:`install` hooks them into
    the transports and the run service, :meth:`render` answers a scrape.

    ``platforms``: the platform of each provider instance (``{"ox-main": "ox"}``);
    ``database``: the store read when scraped (``None``: nothing read)."""

    def __init__(self, platforms: Mapping[str, str], database: Database | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        self._platforms = dict(platforms)
        reg = self.registry
        self.requests = Counter(
            "mailadmin_platform_requests",
            "Platform requests by platform, instance, operation and outcome",
            ["platform", "instance", "operation", "outcome"],
            registry=reg,
        )
        self.latency = Histogram(
            "mailadmin_platform_request_seconds",
            "Time of a platform request, its retries included",
            ["platform", "operation"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.retries = Counter(
            "mailadmin_platform_retries",
            "Platform requests sent again (a retryable answer or error)",
            ["platform", "instance", "operation"],
            registry=reg,
        )
        self.throttled = Counter(
            "mailadmin_platform_throttled",
            "Platform answers 429 Too Many Requests",
            ["platform", "instance", "operation"],
            registry=reg,
        )
        self.items = Counter(
            "mailadmin_run_items",
            "Run items ended in this process, by operation and state",
            ["operation", "state"],
            registry=reg,
        )
        self.deliveries = Counter(
            "mailadmin_webhook_delivery_attempts",
            "Webhook delivery attempts by outcome (delivered, retrying, failed)",
            ["outcome"],
            registry=reg,
        )
        # labels() costs a lock and a dict look-up; the children are kept per label tuple.
        self._children: dict[tuple[Any, ...], Any] = {}
        if database is not None:
            reg.register(_StoreCollector(database))

    def _child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    # -- hooks ------------------------------------------------------------------------------

    def install(self) -> None:
        """Count every platform request and run item of this process from now on."""
        from mailadmin.orchestration.runs import ITEM_WATCHERS
        from mailadmin.wire.observe import add_observer

        add_observer(self)
        if self.item not in ITEM_WATCHERS:
            ITEM_WATCHERS.append(self.item)

    def uninstall(self) -> None:
        """Stop counting (tests, a server stopping)."""
        from mailadmin.orchestration.runs import ITEM_WATCHERS
        from mailadmin.wire.observe import remove_observer

        remove_observer(self)
        while self.item in ITEM_WATCHERS:
            ITEM_WATCHERS.remove(self.item)

    def started(self, instance: str, operation: str, method: str) -> object:
        return None

    def attempted(self, instance: str, operation: str, status: int | None) -> None:
        if status == 429:
            platform = self._platforms.get(instance, instance)
            self._child(self.throttled, platform, instance, operation).inc()

    def ended(
        self,
        token: object,
        instance: str,
        operation: str,
        outcome: str,
        status: int | None,
        seconds: float,
        attempts: int,
    ) -> None:
        platform = self._platforms.get(instance, instance)
        self._child(self.requests, platform, instance, operation, outcome).inc()
        self._child(self.latency, platform, operation).observe(seconds)
        if attempts > 1:
            self._child(self.retries, platform, instance, operation).inc(attempts - 1)

    def item(self, operation: str, state: str) -> None:
        """A run's item ended (``done``, ``failed``, ``cancelled``)."""
        self._child(self.items, operation, state).inc()

    def delivery(self, outcome: str) -> None:
        """A webhook delivery attempt ended."""
        self._child(self.deliveries, outcome).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _StoreCollector:
    """Gauges read from the store at scrape time (a failure leaves them out, logged)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            open_rows, items, deliveries = _read(self._db)
        except Exception as exc:
            _log.warning("metrics: the store could not be read (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "mailadmin_journal_open_rows",
            "Journal rows still open (started, or ended unknown or partial)",
            value=open_rows,
        )
        family = GaugeMetricFamily(
            "mailadmin_distributed_run_items",
            "Items of distributed runs by state",
            labels=["state"],
        )
        for state in ("pending", "done", "failed", "cancelled"):
            family.add_metric([state], items.get(state, 0))
        yield family
        family = GaugeMetricFamily(
            "mailadmin_webhook_deliveries",
            "Webhook deliveries by state",
            labels=["state"],
        )
        for state in ("pending", "delivered", "failed"):
            family.add_metric([state], deliveries.get(state, 0))
        yield family


def _read(database: Database) -> tuple[int, dict[str, int], dict[str, int]]:
    import sqlalchemy as sa

    from mailadmin.store.events import count_deliveries
    from mailadmin.store.journal import OPEN_OUTCOMES
    from mailadmin.store.schema import journal, run_items

    open_query = (
        sa.select(sa.func.count())
        .select_from(journal)
        .where(
            journal.c.dry_run == sa.false(),
            sa.or_(journal.c.status == "started", journal.c.outcome.in_(OPEN_OUTCOMES)),
        )
    )
    items_query = sa.select(run_items.c.state, sa.func.count()).group_by(run_items.c.state)
    with database.connect() as db:
        open_rows = int(db.execute(open_query).scalar_one())
        items = {str(state): int(n) for state, n in db.execute(items_query)}
    return open_rows, items, count_deliveries(database)
