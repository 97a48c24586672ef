"""CLI cold start (issue 31): ``mailadmin count`` on a one-tenant configuration.

    python benchmarks/cli.py [--rounds 7] [--commands count,plans,licence,providers,check]

Serves the reference ``memory`` mock on loopback (``mailadmin mock serve``, a subprocess),
writes a one-tenant configuration (SQLite store, created by a first run), then runs each
command as a new process, interleaved with ``python -c pass``, bytecode cached. Printed:

* ``cli_count_ratio``: CPU of ``mailadmin count`` (user + system of the child, from
  ``getrusage``) / CPU of ``python -c pass``, medians; wall time beside it;
* per command: modules loaded (``len(sys.modules)`` at exit) and how many of them are
  alembic/mako, SQLAlchemy, rich/pygments, and whether a TLS context was built.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PASS = (sys.executable, "-c", "pass")
#: Imports loaded by a command, with what built a TLS context (a probe wraps the call).
_PROBE = """
import sys, json, ssl
built = []
_orig = ssl.SSLContext.load_verify_locations
def _probe(self, *a, **k):
    built.append(1)
    return _orig(self, *a, **k)
ssl.SSLContext.load_verify_locations = _probe
from mailadmin.cli import main
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
mods = sorted(sys.modules)
groups = {"alembic+mako": ("alembic", "mako"), "sqlalchemy": ("sqlalchemy",),
          "rich+pygments": ("rich", "pygments")}
print(json.dumps({"code": code, "modules": len(mods), "tls_contexts": len(built),
    **{g: sum(m.split(".")[0] in p for m in mods) for g, p in groups.items()}}))
"""


def _config(url: str, folder: Path) -> Path:
    path = folder / "mailadmin.toml"
    path.write_text(
        f"""
[journal]
url = "sqlite:///{folder / "mailadmin.sqlite"}"

[plans.mail]
[plans.sync]

[instances.mem]
provider = "memory"
endpoint = "{url}"
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}

[tenants."example.com"]
instance = "mem"
domains = ["example.com"]
"""
    )
    return path


def _child(command: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def cli_figures(add: Callable[[str, float, str], None], rounds: int, commands: list[str]) -> None:
    """``cli_count_ratio`` and each command's module counts, added by ``add``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        mock = subprocess.Popen(
            [sys.executable, "-m", "mailadmin.cli", "mock", "serve", "memory", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert mock.stdout is not None
            line = mock.stdout.readline().strip()
            url = line.removeprefix("listening on ")
            config = _config(url, folder)
            count = (sys.executable, "-m", "mailadmin.cli", "--config", str(config), "count")
            _child(count, env)  # creates the store, writes the bytecode
            _child(PASS, env)
            runs: dict[str, list[tuple[float, float]]] = {"pass": [], "count": []}
            for r in range(rounds):
                order = [("pass", PASS), ("count", count)]
                for name, command in order if r % 2 == 0 else order[::-1]:
                    runs[name].append(_child(command, env))
            wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
            cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
            add(
                "cli_count_ratio",
                cpu["count"] / cpu["pass"],
                f"CPU {cpu['count'] * 1e3:.0f} ms vs {cpu['pass'] * 1e3:.0f} ms for python -c "
                f"pass; wall {wall['count'] * 1e3:.0f} ms vs {wall['pass'] * 1e3:.0f} ms",
            )
            for command in commands:
                probe = subprocess.run(
                    [sys.executable, "-c", _PROBE, "--config", str(config), command],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                found = json.loads(probe.stdout.strip().splitlines()[-1])
                add(
                    f"cli_modules.{command}",
                    found["modules"],
                    ", ".join(f"{k} {v}" for k, v in found.items() if k != "modules"),
                )
        finally:
            mock.terminate()
            mock.wait(timeout=20)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--commands", default="count,plans,licence,providers,check")
    args = parser.parse_args(argv)

    def add(name: str, value: float, note: str) -> None:
        print(f"  {name:<28}{value:>10.3f}  {note}", flush=True)

    cli_figures(add, args.rounds, [c for c in args.commands.split(",") if c])


if __name__ == "__main__":
    main()
