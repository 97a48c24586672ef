"""Seed 002's trial: every feature for 30 days, then none. The day before its end, on it and
after it, in the licences report (Python, CLI), on Zextras (its own clock and answer) and on
a platform that only says "trial" with a start date (the policy's 30 days)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin import Orchestrator
from mailadmin.cli.commands import cli
from mailadmin.mock import ManualClock, MockServer
from mailadmin.mock.serve import serve
from mailadmin.reference.mock import MemoryMock
from mailadmin.reports import licences

#: A trial started at noon on 2027-01-01 ends at noon on 2027-01-31 (30 days).
STARTED = datetime(2027, 1, 1, 12, tzinfo=UTC)
ENDS = date(2027, 1, 31)


def _memory_config(url: str, journal: str | None = None) -> dict:
    return {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": url,
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "journal": {"url": journal},
    }


@pytest.mark.parametrize(
    ("today", "state", "compliant"),
    [
        (ENDS - timedelta(days=1), "trial (1 days left)", True),
        (ENDS, "trial (ends today)", True),
        (ENDS + timedelta(days=1), f"expired (trial ended {ENDS.isoformat()})", False),
    ],
)
async def test_a_trial_without_an_end_lasts_the_policys_30_days(
    today: date, state: str, compliant: bool
) -> None:
    seed = {"licence": {"seats": 50, "state": "trial", "valid_from": STARTED.isoformat()}}
    server = MockServer(MemoryMock, seed=seed)
    config = _memory_config("http://memory.test")
    async with Orchestrator.from_dict(
        config, http={"eu": server.router("http://memory.test")}
    ) as orch:
        orch.rules.today = lambda: today
        (row,) = await licences.build(orch)
    assert (row.state, row.days_left, row.compliant) == (state, (ENDS - today).days, compliant)


async def test_a_longer_trial_policy_moves_the_end() -> None:
    seed = {"licence": {"seats": 50, "state": "trial", "valid_from": STARTED.isoformat()}}
    server = MockServer(MemoryMock, seed=seed)
    config = _memory_config("http://memory.test") | {"policies": {"trial_days": 45}}
    async with Orchestrator.from_dict(
        config, http={"eu": server.router("http://memory.test")}
    ) as orch:
        orch.rules.today = lambda: ENDS + timedelta(days=1)
        (row,) = await licences.build(orch)
    assert (row.state, row.compliant) == ("trial (14 days left)", True)


@pytest.mark.parametrize(
    ("offset_hours", "state", "compliant"),
    [
        (-24, "trial (1 days left)", True),  # noon of the day before the end
        (-6, "trial (ends today)", True),  # 06:00 of the end date: still running
        (24, "none (ended", False),  # the day after: Zextras answers type None
    ],
)
async def test_zextras_trial_the_day_before_on_and_after_its_end(
    offset_hours: int, state: str, compliant: bool
) -> None:
    import time

    from mailadmin.cli.demo import DemoScenario
    from mailadmin.orchestration.registry import get_registry

    entry = get_registry().providers().get("zextras")
    if entry is None or entry.mock is None:
        pytest.skip("the zextras plugin is not installed")
    scenario = DemoScenario.model_validate(entry.load_demo()())
    clock = ManualClock()
    server = MockServer(entry.load_mock(), seed=scenario.seed, clock=clock)
    # Installed at noon today (UTC): the trial ends at noon 30 days on. The mock's dates
    # are wall-clock ones moved on by its clock.
    now = datetime.fromtimestamp(time.time(), tz=UTC)
    installed = now.replace(hour=12, minute=0, second=0, microsecond=0)
    server.state.data.licence.installed_at = int(installed.timestamp() * 1000)
    end = installed + timedelta(days=30)
    moment = end + timedelta(hours=offset_hours)
    clock.advance((moment - now).total_seconds())
    config = {
        "instances": {"zx": {**scenario.instance, "endpoint": "http://zx.test"}},
        "journal": {"url": None},
    }
    async with Orchestrator.from_dict(
        config, registry=get_registry(), http={"zx": server.router("http://zx.test")}
    ) as orch:
        orch.rules.today = lambda: moment.date()
        (row,) = await licences.build(orch)
    assert row.state.startswith(state) and row.compliant is compliant, row
    assert row.error == ""
    if not compliant:
        assert row.state == f"none (ended {end.date().isoformat()})"


@pytest.mark.parametrize(
    ("days_ago", "state", "compliant"),
    [
        (29, "trial (1 days left)", True),
        (30, "trial (ends today)", True),
        (31, "expired (trial ended", False),
    ],
)
def test_the_cli_report_says_when_the_trial_ends(
    tmp_path: Path, days_ago: int, state: str, compliant: bool
) -> None:
    started = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    started -= timedelta(days=days_ago)
    seed = {"licence": {"seats": 50, "state": "trial", "valid_from": started.isoformat()}}
    server = MockServer(MemoryMock, seed=seed)
    with serve(server) as url:
        path = tmp_path / "mailadmin.toml"
        path.write_text(
            f"""
[instances.eu]
provider = "memory"
endpoint = "{url}"
retries = 0
credentials = {{ username = "admin", secret = "secret" }}

[journal]
url = "sqlite:///{tmp_path / "store.sqlite"}"
""",
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["--config", str(path), "--json", "report", "licences"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["rows"]
    assert row["state"].startswith(state) and row["compliant"] is compliant, row
