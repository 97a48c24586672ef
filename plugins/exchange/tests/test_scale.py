"""Counting 100,000 mailboxes streams: the provider holds one page at a time.

The mock runs as ``mailadmin mock serve exchange`` in its own process, so the memory
traced here is the provider's alone (and the HTTP is real).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
from mailadmin_exchange.provider import ExchangeProvider

from mailadmin.sdk import MailboxKind, TenantRef

MAILBOXES = 100_000
#: One page of a thousand rows and the client's buffers, with room to spare (measured: about
#: 5 MB); the 100,000 rows held at once would take more than this on their own.
PEAK_LIMIT = 16_000_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"tenants": {DEFAULT_TENANT_ID: {"filler_users": MAILBOXES}}}))
    command = [sys.executable, "-m", "mailadmin", "mock", "serve", "exchange", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on http://"), line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=30)


async def test_counting_100000_mailboxes_keeps_memory_flat(served: str) -> None:
    settings = {
        "endpoint": served,
        "transport": "httpx",
        "tenant": DEFAULT_TENANT,
        "tenant_id": DEFAULT_TENANT_ID,
        "credentials": {"username": "mock-client", "secret": "secret"},
        "plans": {"mail": {"sku": "EXCHANGESTANDARD"}, "sync": {"sku": "EXCHANGEENTERPRISE"}},
        "timeout": 120,
    }
    async with ExchangeProvider(settings) as provider:
        tracemalloc.start()
        try:
            count = await provider.count_mailboxes(TenantRef(name=DEFAULT_TENANT))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count.of(MailboxKind.USER) == MAILBOXES + 3
    assert (count.of(MailboxKind.SHARED), count.of(MailboxKind.ROOM)) == (1, 1)
    assert count.by_plan == {"mail": 2, "sync": 1, "unmapped": MAILBOXES}
    assert peak < PEAK_LIMIT, f"counting held {peak / 1e6:.1f} MB"
