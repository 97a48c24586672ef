"""``mailadmin --help`` loads only what it prints: no event loop, models, HTTP or database
modules (what they cost at start-up is measured in benchmarks/run.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_FOR_HELP = ("asyncio", "pydantic", "httpx", "aiohttp", "sqlalchemy", "pluggy", "rich")


def test_help_imports_no_event_loop_models_http_or_database() -> None:
    script = (
        "import sys, json, contextlib, io\n"
        "from mailadmin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['--help'])\n"
        "assert code == 0 and 'Usage' in out.getvalue()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert not sorted(m for m in loaded if m.split(".")[0] in NOT_FOR_HELP)
