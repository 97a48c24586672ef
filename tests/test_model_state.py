"""mailadmin.mock.state.ModelState: one pydantic model is the whole state of a mock."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mailadmin.mock import ModelState, SeedError


class Domain(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_accounts: int | None = Field(default=None, ge=0)
    accounts: list[str] = Field(default_factory=list)


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: str = "admin"
    domains: dict[str, Domain] = Field(default_factory=dict)


class DomainState(ModelState[Data]):
    model = Data

    def defaults(self) -> Data:
        return Data(domains={"example.com": Domain(max_accounts=10, accounts=["anna"])})

    def add_account(self, domain: str, name: str) -> None:
        self.data.domains[domain].accounts.append(name)


def test_a_mock_state_is_one_model_with_defaults_snapshot_and_seed() -> None:
    state = DomainState()

    assert state.snapshot() == {
        "operations": [],
        "admin": "admin",
        "domains": {"example.com": {"max_accounts": 10, "accounts": ["anna"]}},
    }

    state.load_seed({"domains": {"example.org": {"accounts": ["ben"]}}})

    # A key given replaces that part; the others keep their value.
    assert state.data.admin == "admin"
    assert list(state.data.domains) == ["example.org"]
    assert state.data.domains["example.org"].accounts == ["ben"]


def test_a_snapshot_loads_back_into_an_identical_state() -> None:
    state = DomainState()
    state.add_account("example.com", "carla")
    snapshot = state.snapshot()

    copy = DomainState()
    copy.load_seed(snapshot)

    assert copy.snapshot() == snapshot


def test_reset_returns_to_fresh_defaults() -> None:
    state = DomainState()
    state.add_account("example.com", "carla")

    state.reset()

    assert state.data.domains["example.com"].accounts == ["anna"]
    assert DomainState().data.domains["example.com"] is not state.data.domains["example.com"]


@pytest.mark.parametrize(
    ("seed", "words"),
    [
        ({"domians": {}}, "domians: Extra inputs are not permitted"),
        ({"domains": {"x": {"max_accounts": -1}}}, "domains.x.max_accounts"),
        ({"domains": {"x": {"accounts": "anna"}}}, "domains.x.accounts"),
    ],
)
def test_a_bad_seed_is_refused_with_where_and_why_and_changes_nothing(
    seed: dict[str, object], words: str
) -> None:
    state = DomainState()
    before = state.snapshot()

    with pytest.raises(SeedError) as caught:
        state.load_seed(seed)

    assert words in str(caught.value)
    assert state.snapshot() == before


def test_a_state_with_default_data_needs_no_override() -> None:
    class Plain(ModelState[Data]):
        model = Data

    assert Plain().snapshot() == {"operations": [], "admin": "admin", "domains": {}}
