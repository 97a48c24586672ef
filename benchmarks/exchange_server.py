"""A bulk run of plan changes on an Exchange Server (on-premises) tenant: one runspace pool.

    python benchmarks/exchange_server.py [--changes 1000] [--concurrency 8] [--json]

The Exchange Server mock is served on loopback (pypsrp needs a socket) with ``N`` user
mailboxes in the tenant's OU; the orchestrator runs ``set_plans`` over all of them (the
run service, journalled to SQLite). Figures: wall time, changes per second, cmdlet
pipelines and WS-Management requests per change, and the shells the mock saw opened
(the point: one, however many changes and however concurrent the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

OU = "contoso.local/Hosting/Fabrikam"


def config(url: str, journal: Path) -> dict[str, Any]:
    """One on-premises instance (the mock's administrator), quota plans, one tenant."""
    from mailadmin_exchange.demo import sample_config

    from mailadmin.cli.demo import CATALOGUE

    return {
        **CATALOGUE,
        "journal": {"url": f"sqlite:///{journal}"},
        "instances": {
            "onprem": {
                "provider": "exchserver",
                "endpoint": f"{url}/PowerShell",
                "auth": "basic",
                "credentials": {"username": "admin@contoso.local", "secret": "Passw0rd!"},
                "plans": sample_config()["instances"]["exchange"]["plans"],
            }
        },
        "tenants": {
            "fabrikam.com": {"instance": "onprem", "native_id": OU, "domains": ["fabrikam.com"]}
        },
    }


def measure(changes: int, concurrency: int) -> dict[str, Any]:
    """Serve the mock, run the changes, return the figures."""
    from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState
    from mailadmin_exchange.server_mock.state import onprem_mailbox

    from mailadmin import Orchestrator
    from mailadmin.mock import MockServer, serve

    server = MockServer(ExchangeServerMock)
    state = server.state
    assert isinstance(state, ServerState)
    tenant = state.data.tenants["fabrikam"]
    for i in range(changes):
        mailbox = onprem_mailbox(f"u{i}@fabrikam.com", "UserMailbox", tenant)
        state.data.mailboxes[mailbox.address] = mailbox
    items = [(f"u{i}@fabrikam.com", "sync") for i in range(changes)]
    with tempfile.TemporaryDirectory() as tmp, serve(server) as url:

        async def run() -> Any:
            async with Orchestrator.from_dict(config(url, Path(tmp) / "j.sqlite")) as orch:
                return await orch.set_plans(items, concurrency=concurrency)

        started = time.perf_counter()
        result = asyncio.run(run())
        seconds = time.perf_counter() - started
    # A Command is recorded under its cmdlet; the rest are the shell's own actions.
    actions = {"create", "receive", "send", "signal", "delete", "get"}
    commands = sum(1 for r in server.requests if r.operation not in actions)
    return {
        "changes": changes,
        "concurrency": concurrency,
        "failed": result.failed,
        "seconds": round(seconds, 1),
        "changes_per_second": round(changes / seconds, 1),
        "pipelines_per_change": round(commands / changes, 2),
        "requests_per_change": round(len(server.requests) / changes, 2),
        "shells_opened": state.shells_opened,
        "shells_open_after": len(state.shells),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.changes, args.concurrency)
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:22} {value}")


if __name__ == "__main__":
    main()
