"""docs/http-api.md runs as it stands: every ``bash`` block, in order, in one shell."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_walk_through_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```bash\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    port = str(_free_port())
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("8000", port)
    # Whatever happens, the service started in the background does not outlive the test.
    script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script + "\nwait\n"
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, (done.stdout, done.stderr, (tmp_path / "serve.log").read_text())
    assert f"listening on http://127.0.0.1:{port}" in (tmp_path / "serve.out").read_text()
    assert '"status":"ready"' in out
    # The customer created, the dry run (nothing sent) and then the change.
    assert re.search(
        r'\{"reseller":"acme","package":\{"user_mailboxes":20\}[^}]*"name":"example.net"', out
    )
    assert '"subject":"anna@example.com","outcome":"changed","before":"mail","after":"sync"' in out
    assert '"dry_run":true' in out
    assert '"subject":"example.com shared_mailbox"' in out
    assert re.search(r"run [0-9a-f]{16}: succeeded", out)
    assert '"progress":{"total":2,"done":2,"succeeded":2,"failed":0}' in out
    # The bulk sale: a dry run, then the sale itself.
    assert re.search(r'"kind":"sales","state":"succeeded","dry_run":true', out)
    assert re.search(r'"kind":"sales","state":"succeeded","dry_run":false', out)
    assert re.search(r'"summary":\{"sold":[1-9][0-9]*,"skipped":0,"failed":0\}', out)
    assert '"subscription":"example.com"' in out and '"over_use"' in out
    assert '"licensed"' in out
    assert "Traceback" not in done.stderr
