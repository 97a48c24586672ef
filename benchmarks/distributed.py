"""Items per second of a distributed plan change with 1 and 2 worker processes.

    python benchmarks/distributed.py [--items 2000] [--workers 1 2] [--concurrency 8]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Starts ``mailadmin mock serve memory`` seeded with ``--items`` mailboxes, makes a fresh
PostgreSQL schema, then for each worker count: resets the mock, starts that many
``mailadmin worker`` processes, enqueues one ``set-plan --file --distributed --detach``
run and measures the wall time from enqueueing until the run is finished (every item
settled and journalled). Prints one line per worker count and a JSON summary. A figure
for reading, not an assertion: the mock, the workers and PostgreSQL share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy as sa

TENANT = "bulk.test"
PLANS = {
    "mail": {"native": "basic", "quota_mb": 2048},
    "sync": {"native": "standard", "quota_mb": 5120},
    "collaborate": {"native": "premium", "quota_mb": 10240},
}


def _seed(count: int) -> dict[str, object]:
    boxes = [
        {"address": f"u{i:06d}@{TENANT}", "kind": "user", "plan": "basic"} for i in range(count)
    ]
    return {"tenants": {TENANT: {"allocations": {"user_seats": count}, "mailboxes": boxes}}}


def _config(folder: Path, store: str, endpoint: str) -> Path:
    lines = [
        "[journal]",
        f"url = {json.dumps(store)}",
        "[plans.mail]\nrank = 1\n[plans.sync]\nrank = 2\n[plans.collaborate]\nrank = 3",
        "[instances.mem]",
        'provider = "memory"',
        f'endpoint = "{endpoint}"',
        'credentials = { username = "admin", secret = "secret" }',
    ]
    for name, plan in PLANS.items():
        fields = ", ".join(f"{k} = {json.dumps(v)}" for k, v in plan.items())
        lines.append(f"plans.{name} = {{ {fields} }}")
    lines += [f'[tenants."{TENANT}"]', 'instance = "mem"', f'domains = ["{TENANT}"]']
    path = folder / "mailadmin.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mailadmin", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True)


def _worker(config: Path, concurrency: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mailadmin", "--config", str(config), "worker"]
    process = subprocess.Popen(
        [*command, "--concurrency", str(concurrency)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    while not process.stderr.readline().startswith("worker ready"):
        if process.poll() is not None:
            raise SystemExit("a worker did not start")
    return process


def _measure(config: Path, mock: str, items: int, workers: int, concurrency: int) -> float:
    httpx.post(mock + "/_mock/reset", timeout=60).raise_for_status()
    changes = config.parent / "changes.csv"
    changes.write_text(
        "address,plan\n" + "".join(f"u{i:06d}@{TENANT},sync\n" for i in range(items))
    )
    processes = [_worker(config, concurrency) for _ in range(workers)]
    engine = sa.create_engine(json.loads(config.read_text().split("url = ", 1)[1].split("\n")[0]))
    try:
        start = time.perf_counter()
        done = _cli(config, "set-plan", "--file", str(changes), "--distributed", "--detach")
        run_id = done.stdout.strip()
        while True:
            with engine.connect() as db:
                finished = db.execute(
                    sa.text("SELECT finished FROM mailadmin_runs WHERE id = :id"), {"id": run_id}
                ).scalar()
            if finished is not None:
                return time.perf_counter() - start
            time.sleep(0.1)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("MAILADMIN_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    args = parser.parse_args()
    schema = f"mailadmin_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres)
    with admin.begin() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in args.postgres else "?"
    store = f"{args.postgres}{separator}options={quote(f'-csearch_path={schema}')}"
    results = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            seed = Path(folder) / "seed.json"
            seed.write_text(json.dumps(_seed(args.items)))
            command = [sys.executable, "-m", "mailadmin", "mock", "serve", "memory"]
            mock = subprocess.Popen(
                [*command, "--seed", str(seed)], stdout=subprocess.PIPE, text=True
            )
            assert mock.stdout is not None
            url = mock.stdout.readline().strip().removeprefix("listening on ")
            try:
                config = _config(Path(folder), store, url)
                for workers in args.workers:
                    seconds = _measure(config, url, args.items, workers, args.concurrency)
                    rate = args.items / seconds
                    results.append({"workers": workers, "seconds": seconds, "items_per_s": rate})
                    print(
                        f"{workers} worker(s): {args.items} items in {seconds:.1f} s = {rate:.0f} items/s"
                    )
            finally:
                mock.send_signal(signal.SIGTERM)
                mock.wait(timeout=10)
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    summary = {
        "items": args.items,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
