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


# -- every example of the README and the user docs runs as written --------------------------

import re  # noqa: E402
import shlex  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path, language: str) -> list[str]:
    """The fenced blocks of one language in a Markdown file."""
    return [
        body for lang, body in _BLOCK.findall(path.read_text(encoding="utf-8")) if lang == language
    ]


def commands(path: Path) -> list[list[str]]:
    """The ``mailadmin ...`` lines of the bash blocks (install lines are run by CI)."""
    found = []
    for body in blocks(path, "bash"):
        for line in body.splitlines():
            if line.startswith("mailadmin "):
                found.append(shlex.split(line)[1:])
    return found


@pytest.fixture
def reference_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``examples/mailadmin.toml`` against a fresh reference mock, as ./mailadmin.toml."""
    from mailadmin.orchestration.registry import set_registry

    registry = Registry(load=["reference"], disable=[])
    set_registry(registry)
    with serve(registry.mock_platform("memory")) as url:
        text = EXAMPLE.read_text(encoding="utf-8").replace("http://127.0.0.1:8081", url)
        path = tmp_path / "mailadmin.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        yield path
    set_registry(None)


def test_the_docs_have_examples_to_run() -> None:
    assert len(blocks(README, "python")) >= 2 and commands(README)
    assert blocks(CONFIGURATION, "toml") and commands(CONFIGURATION)


@pytest.mark.parametrize("index", range(len(blocks(README, "python"))))
def test_the_readme_python_examples_run(reference_config: Path, index: int, capsys) -> None:
    code = blocks(README, "python")[index]
    exec(compile(code, f"README.md python block {index + 1}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("args", commands(README), ids=" ".join)
def test_the_readme_shell_examples_run(reference_config: Path, args: list[str], capsys) -> None:
    from mailadmin.cli import main

    args = [str(reference_config) if a == "examples/mailadmin.toml" else a for a in args]
    assert main(args) == 0, capsys.readouterr()


def test_the_plan_file_of_the_readme_is_accepted(reference_config: Path, capsys) -> None:
    from mailadmin.cli import main

    [sample] = [b for b in blocks(README, "text") if b.startswith("address,plan")]
    (reference_config.parent / "changes.csv").write_text(sample, encoding="utf-8")
    assert main(["set-plan", "--file", "changes.csv", "--dry-run"]) == 0
    assert "2 changed, 0 unchanged, 0 failed" in capsys.readouterr().out


def test_the_configuration_sample_runs_against_the_ox_mock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from mailadmin.cli import main
    from mailadmin.orchestration.registry import set_registry

    registry = Registry()
    if "ox" not in registry.providers():
        pytest.skip("the OX plugin is not installed")
    set_registry(registry)
    [sample] = blocks(CONFIGURATION, "toml")
    assert commands(CONFIGURATION), "the sample shows the commands it serves"
    try:
        with serve(registry.mock_platform("ox")) as url:
            text = sample.replace("https://ox.example.net", url)
            (tmp_path / "mailadmin.toml").write_text(text, encoding="utf-8")
            monkeypatch.chdir(tmp_path)
            monkeypatch.setenv("OX_EU_SECRET", "secret")
            for args in commands(CONFIGURATION):
                assert main(args) == 0, (args, capsys.readouterr())
                out = capsys.readouterr().out
                if args[2] == "licence":
                    row = out.splitlines()[2].split("\t")
                    assert row[:4] == ["ox-eu", "active", "50", row[3]] and row[3].isdigit()
                if args[2] == "set-plan":
                    assert "collaborate" in out and "dry run" in out
    finally:
        set_registry(None)


def test_the_docs_say_what_debug_shows_and_which_errors_are_retried() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    retries = text.split("## Retries and timeouts", 1)[1].split("\n## ", 1)[0]
    assert "the connection fails: refused" in retries and "429, 502, 503 or 504" in retries
    debug = text.split("## What `--debug` shows", 1)[1]
    assert "redacted developer detail" in debug and "every log record" in debug
    readme = README.read_text(encoding="utf-8")
    assert "`--debug` adds" in readme and "retried on connection errors" in readme
