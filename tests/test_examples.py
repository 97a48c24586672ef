"""The shipped example configuration works as its comments say."""

from __future__ import annotations

from pathlib import Path

from mailadmin import Orchestrator
from mailadmin.mock.serve import serve
from mailadmin.orchestration.config import Config
from mailadmin.orchestration.registry import Registry

EXAMPLE = Path(__file__).parent.parent / "examples" / "mailadmin.toml"


async def test_the_example_configuration_drives_the_reference_mock(tmp_path: Path) -> None:
    config = Config.load(EXAMPLE)
    registry = Registry(load=["reference"], disable=[])
    with serve(registry.mock_platform("memory")) as url:
        data = config.model_dump()
        instances = {k: {**v, "endpoint": url} for k, v in data["instances"].items()}
        journal = {"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"}
        raw = {**data, "instances": instances, "journal": journal, "base_dir": tmp_path}
        async with Orchestrator(Config.model_validate(raw), registry=registry) as orch:
            preview = await orch.set_plan("anna@example.com", "sync", dry_run=True)
            counts = await orch.count_mailboxes("example.com")
    assert preview.dry_run and preview.before == "mail"
    assert counts.total == 5
