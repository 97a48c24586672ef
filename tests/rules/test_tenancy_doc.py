"""docs/tenancy.md: its configuration examples validate, its Python example compiles, and it
names every policy refusal reason the code raises."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from mailadmin.orchestration.config import Config

DOC = Path(__file__).resolve().parents[2] / "docs" / "tenancy.md"
SRC = Path(__file__).resolve().parents[2] / "src" / "mailadmin"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_configuration_examples_are_valid() -> None:
    base = {
        "instances": {
            "ox-eu": {"provider": "ox"},
            "zextras-eu": {"provider": "zextras"},
        },
        "tenants": {"example.com": {"instance": "ox-eu"}},
    }
    for block in _blocks("toml"):
        Config.from_dict({**base, **tomllib.loads(block)})


def test_the_python_example_compiles() -> None:
    (code,) = _blocks("python")
    compile(code, str(DOC), "exec")


def test_every_refusal_reason_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    reasons = set()
    for path in [*SRC.joinpath("rules").glob("*.py"), SRC / "cli" / "business.py"]:
        reasons |= set(re.findall(r'reason="([a-z_]+)"', path.read_text(encoding="utf-8")))
    missing = sorted(r for r in reasons if f"`{r}`" not in text)
    assert not missing, f"reasons not in docs/tenancy.md: {missing}"
