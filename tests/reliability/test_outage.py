"""Issue 29.6: a PostgreSQL outage. The store is reached through a small TCP proxy on
loopback that the test cuts (every connection closed, new ones refused) and restores:

- a ``mailadmin worker`` whose procrastinate listener stops under the cut reconnects (or
  exits non-zero, and is restarted as its supervisor would), and the run finishes with
  every item settled exactly once;
- the in-process CLI under the same cut says the store is unreachable, prints what was
  done and the ``journal resume --run`` command, and exits 4.

Prints ``outage: ...`` in the suite's summary.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

pytest.importorskip("procrastinate")

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE.parent / "worker"))
from test_distributed import (  # noqa: E402  (the distributed tests' mock and workers)
    Mock,
    Workers,
    _changes,
    _settled,
    _submit,
    address,
    cli,
    write_config,
)

_spec = importlib.util.spec_from_file_location(
    "_mailadmin_outage_stores", _HERE.parent / "rules" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_stores = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stores)
postgres_server = _stores.postgres_server

ITEMS = 240
#: As long as the cut that stopped procrastinate's listener in issue 29.
CUT_SECONDS = 15


class TcpProxy:
    """Forwards loopback connections to the database; :meth:`cut` closes every one and
    refuses new ones until :meth:`restore`."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._open: list[socket.socket] = []
        #: The local port of every connection made to the database (its backend's
        #: ``client_port``), so the backends left behind a cut can be found and ended.
        self.upstream_ports: set[int] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.port = 0
        self.cuts = 0

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        self.cuts += 1
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            doomed, self._open = self._open, []
        for sock in doomed:
            for close in (lambda s=sock: s.shutdown(socket.SHUT_RDWR), sock.close):
                with contextlib.suppress(OSError):
                    close()

    def restore(self) -> None:
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
                self.upstream_ports.add(upstream.getsockname()[1])
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()


def _through(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    host = (
        f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    )
    return urlunsplit(parts._replace(netloc=host))


#: Bounds on the teardown's own statements: it never waits for ever on a lock.
TEARDOWN_TIMEOUTS = "SET lock_timeout = '5s'; SET statement_timeout = '30s'"


@pytest.fixture
def outage_schema(postgres_server: str) -> Iterator[dict[str, Any]]:
    """A fresh schema, and a URL whose connections carry the schema's name as their
    ``application_name``; dropped after the test without waiting on what the cut left.

    A cut leaves backends behind it (a journal ``UPDATE`` whose transaction never ended,
    holding its row locks): the plain ``DROP SCHEMA`` waited on them for minutes. So the
    teardown ends them first (by application name, and by the proxy's client ports), with
    a lock and statement timeout on its own connection, and tries again if one is late."""
    schema = f"mailadmin_t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server)
    with admin.begin() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_server else "?"
    url = (
        f"{postgres_server}{separator}options={quote(f'-csearch_path={schema}')}"
        f"&application_name={schema}"
    )
    held: dict[str, Any] = {"url": url, "schema": schema, "ports": set()}
    try:
        yield held
    finally:
        try:
            _drop(admin, schema, held["ports"])
        finally:
            admin.dispose()


def _drop(admin: sa.Engine, schema: str, ports: set[int]) -> None:
    """End the schema's leftover backends, then drop it; bounded by the timeouts."""
    for attempt in range(5):
        with admin.connect() as db:
            db.exec_driver_sql(TEARDOWN_TIMEOUTS)
            db.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND (application_name = :app "
                    "OR (client_addr IN ('127.0.0.1', '::1') AND client_port = ANY(:ports)))"
                ),
                {"app": schema, "ports": sorted(ports)},
            )
            db.commit()
            try:
                db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                db.commit()
                return
            except sa.exc.OperationalError:
                # A lock timeout: a backend started after the sweep; sweep again.
                db.rollback()
                if attempt == 4:
                    raise
                time.sleep(0.5)


@pytest.fixture
def postgres_schema_url(outage_schema: dict[str, Any]) -> str:
    return str(outage_schema["url"])


@pytest.fixture
def proxy(outage_schema: dict[str, Any]) -> Any:
    parts = urlsplit(outage_schema["url"])
    running = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    running.start()
    # The same set: the schema's teardown ends the backends of every proxied connection.
    running.upstream_ports = outage_schema["ports"]
    yield running
    # Every proxied connection closed when the test ends, whatever it left open.
    running.cut()


_FIGURES: dict[str, str] = {}


def _report(summary: Any) -> None:
    summary.set(
        "outage",
        "outage: " + "; ".join(_FIGURES[k] for k in ("worker", "cli") if k in _FIGURES),
    )


def test_a_worker_finishes_a_run_exactly_once_across_a_database_cut(
    postgres_schema_url: str, proxy: TcpProxy, tmp_path: Path, summary: Any
) -> None:
    mock = Mock(tmp_path, ITEMS)
    workers: Workers | None = None
    try:
        mock.fault({"kind": "latency", "operation": "change_plan", "delay": 0.03})
        config = write_config(
            tmp_path, _through(postgres_schema_url, proxy), mock.url, chunk_size=20
        )
        workers = Workers(config)
        worker = workers.start(4, "--stalled-after", "3")
        run_id = _submit(config, _changes(tmp_path, ITEMS, "sync"))
        direct = sa.create_engine(postgres_schema_url)
        deadline = time.monotonic() + 120
        while _settled(direct, run_id) < ITEMS // 4:
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        proxy.cut()
        time.sleep(CUT_SECONDS)
        proxy.restore()
        restarts = 0
        deadline = time.monotonic() + 90
        while True:
            with direct.connect() as db:
                finished = db.execute(
                    sa.text("SELECT finished FROM mailadmin_runs WHERE id = :id"), {"id": run_id}
                ).scalar()
            if finished is not None:
                break
            assert time.monotonic() < deadline, f"run {run_id} never finished"
            if worker.poll() is not None:
                # The worker gave up and exited: never 0, and its supervisor restarts it.
                assert worker.returncode != 0
                restarts += 1
                worker = workers.start(4, "--stalled-after", "3")
            time.sleep(0.5)
        alive = worker.poll() is None
        with direct.connect() as db:
            states = dict(
                db.execute(
                    sa.text(
                        "SELECT state, count(*) FROM mailadmin_run_items WHERE run_id = :id "
                        "GROUP BY state"
                    ),
                    {"id": run_id},
                ).all()
            )
            rows = db.execute(
                sa.text(
                    "SELECT subject, status, outcome FROM mailadmin_journal "
                    "WHERE run_id = :id AND NOT dry_run"
                ),
                {"id": run_id},
            ).all()
            failures = db.execute(
                sa.text(
                    "SELECT key, error_code, error_message FROM mailadmin_run_items "
                    "WHERE run_id = :id AND state <> 'done'"
                ),
                {"id": run_id},
            ).all()
        direct.dispose()
        state = mock.state()
    finally:
        if workers is not None:
            workers.stop()
        mock.stop()
    assert states == {"done": ITEMS}, failures
    per_subject = Counter(row.subject for row in rows)
    assert set(per_subject.values()) == {1}, per_subject.most_common(3)
    assert len(per_subject) == ITEMS
    assert all(row.status == "done" for row in rows)
    assert all(state[address(i)] == "standard" for i in range(ITEMS))
    _FIGURES["worker"] = (
        f"worker: {CUT_SECONDS} s database cut, run of {ITEMS} finished, "
        f"{len(rows)} journal rows, {sum(1 for n in per_subject.values() if n > 1)} duplicated, "
        f"{'reconnected' if alive and not restarts else f'{restarts} restart(s)'}"
    )
    _report(summary)


def test_the_cli_under_a_database_cut_says_so_and_exits_4(
    postgres_schema_url: str, proxy: TcpProxy, tmp_path: Path, summary: Any
) -> None:
    count = 120
    mock = Mock(tmp_path, count)
    try:
        mock.fault({"kind": "latency", "operation": "change_plan", "delay": 0.05})
        config = write_config(tmp_path, _through(postgres_schema_url, proxy), mock.url)
        changes = _changes(tmp_path, count, "collaborate")
        command = [sys.executable, "-m", "mailadmin", "--config", str(config)]
        process = subprocess.Popen(
            [*command, "set-plan", "--file", str(changes), "--concurrency", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        direct = sa.create_engine(postgres_schema_url)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(sa.exc.ProgrammingError), direct.connect() as db:
                written = db.execute(sa.text("SELECT count(*) FROM mailadmin_journal")).scalar()
                if (written or 0) >= 10:
                    break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
        proxy.cut()
        out, err = process.communicate(timeout=120)
        proxy.restore()
        with direct.connect() as db:
            run_id = db.execute(sa.text("SELECT id FROM mailadmin_runs")).scalar()
        assert process.returncode == 4, (process.returncode, out, err)
        text = out + err
        assert "store (the journal's database) is unreachable" in text, text
        assert f"mailadmin journal resume --run {run_id}" in text, text
        assert "changed" in out  # what was done: the table and its summary
        assert "unexpected" not in text
        done = cli(config, "journal", "resume", "--run", str(run_id))
        assert done.returncode == 0, done.stderr
        with direct.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT subject, status FROM mailadmin_journal "
                    "WHERE run_id = :id AND NOT dry_run"
                ),
                {"id": run_id},
            ).all()
            finished = db.execute(
                sa.text("SELECT finished FROM mailadmin_runs WHERE id = :id"), {"id": run_id}
            ).scalar()
        direct.dispose()
        state = mock.state()
    finally:
        mock.stop()
    per_subject = Counter(row.subject for row in rows)
    assert len(per_subject) == count and set(per_subject.values()) == {1}
    assert finished is not None
    assert all(state[address(i)] == "premium" for i in range(count))
    _FIGURES["cli"] = (
        f"cli: cut mid-run, exit {process.returncode} with the resume command; "
        f"resume finished {count} items, {len(rows)} journal rows"
    )
    _report(summary)
