"""Cursor paging of the API's lists: follow ``Link: rel="next"`` to the end, while rows are
inserted between pages, and see every row that was there exactly once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from apihelpers import config_text
from fastapi.testclient import TestClient

from mailadmin.api.app import create_app
from mailadmin.api.keys import ApiKeys
from mailadmin.mock.server import MockServer
from mailadmin.rules.identities import Identity
from mailadmin.store.database import Database

_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


@pytest.fixture
def api(fresh: MockServer, tmp_path: Path) -> Iterator[TestClient]:
    """The API in-process over a store of its own, as the site admin."""
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(fresh.url, tmp_path))  # type: ignore[attr-defined]
    with TestClient(create_app(config)) as client:
        client.headers["Authorization"] = f"Bearer {_key(tmp_path, 'site-admin')}"
        yield client


def _key(folder: Path, identity: str) -> str:
    store = Database(f"sqlite:///{folder / 'mailadmin.sqlite'}")
    try:
        return ApiKeys(store).create(Identity.parse(identity), "test").key
    finally:
        store.close()


def walk(
    client: TestClient, url: str, between: Callable[[int], None] = lambda _: None
) -> list[dict[str, Any]]:
    """Every item of a list, page after page, calling ``between(page)`` after each page."""
    seen: list[dict[str, Any]] = []
    page = 0
    while True:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        seen += answer.json()
        link = answer.headers.get("Link")
        assert answer.headers["X-Has-More"] == ("true" if link else "false")
        if link is None:
            return seen
        found = _NEXT.match(link)
        assert found is not None, link
        url = found.group(1)
        between(page)
        page += 1


def test_mailboxes_page_by_address_and_inserts_repeat_and_lose_nothing(
    api: TestClient, fresh: MockServer
) -> None:
    for n in range(7):
        made = api.post(
            "/v1/customers/example.com/mailboxes",
            json={"address": f"m{n}@example.com", "kind": "user", "plan": "mail"},
        )
        assert made.status_code == 201, made.text
    first = api.get("/v1/customers/example.com/mailboxes?limit=3")
    assert first.headers["X-Total-Count"] == "10"
    assert len(first.json()) == 3
    before = {m["address"] for m in fresh.snapshot()["tenants"]["example.com"]["mailboxes"]}
    added: list[str] = []

    def insert(page: int) -> None:
        # One sorts before every cursor, one after: the second must show, neither repeats.
        for name in (f"a{page}", f"z{page}"):
            address = f"{name}@example.com"
            made = api.post(
                "/v1/customers/example.com/mailboxes",
                json={"address": address, "kind": "user", "plan": "mail"},
            )
            assert made.status_code == 201, made.text
            added.append(address)

    seen = [m["address"] for m in walk(api, "/v1/customers/example.com/mailboxes?limit=3", insert)]
    assert len(seen) == len(set(seen)), "a mailbox was repeated"
    assert before <= set(seen), "a mailbox that was there all along was lost"
    assert seen == sorted(seen)
    assert {a for a in added if a.startswith("z")} <= set(seen)


def test_the_journal_pages_newest_first_while_writes_go_on(api: TestClient) -> None:
    def write(n: int) -> None:
        answer = api.put(
            "/v1/mailboxes/anna@example.com/plan?dry_run=true",
            json={"plan": "sync" if n % 2 else "collaborate"},
        )
        assert answer.status_code == 200, answer.text

    for n in range(8):
        write(n)
    everything = api.get("/v1/journal?limit=1000").json()
    assert len(everything) >= 8
    assert api.get("/v1/journal?limit=1").headers["X-Total-Count"] == str(len(everything))

    seen = walk(api, "/v1/journal?limit=3", write)
    ids = [row["id"] for row in seen]
    assert len(ids) == len(set(ids)), "a journal row was repeated"
    assert ids == [row["id"] for row in everything], "rows were lost or reordered"


def test_runs_and_resellers_page_while_new_ones_arrive(api: TestClient) -> None:
    def start(_: int) -> None:
        answer = api.post(
            "/v1/runs/plan-changes?dry_run=true",
            json={"items": [{"address": "anna@example.com", "plan": "sync"}]},
        )
        assert answer.status_code == 202, answer.text

    for n in range(5):
        start(n)
    existing = [run["id"] for run in api.get("/v1/runs?limit=500").json()]
    seen = [run["id"] for run in walk(api, "/v1/runs?limit=2", start)]
    assert seen == existing

    def add(page: int) -> None:
        for name in (f"aa{page}", f"zz{page}"):
            made = api.post("/v1/resellers", json={"name": name})
            assert made.status_code == 201, made.text

    names = [r["name"] for r in walk(api, "/v1/resellers?limit=1", add)]
    assert len(names) == len(set(names))
    assert {"acme", "globex"} <= set(names)


@pytest.mark.parametrize(
    "url",
    [
        "/v1/providers",
        "/v1/instances",
        "/v1/instances/mem/plans",
        "/v1/customers",
        "/v1/reports/usage",
        "/v1/reports/licences",
        "/v1/reports/renewals",
    ],
)
def test_every_other_list_pages_one_item_at_a_time(api: TestClient, url: str) -> None:
    whole = api.get(url)
    assert whole.status_code == 200, whole.text
    assert whole.headers["X-Has-More"] == "false"
    paged = walk(api, f"{url}?limit=1")
    assert sorted(map(repr, paged)) == sorted(map(repr, whole.json()))
    assert len(paged) == int(whole.headers["X-Total-Count"])


def test_a_forged_or_foreign_cursor_is_a_422(api: TestClient) -> None:
    link = api.get("/v1/customers?limit=1").headers["Link"]
    cursor = link.split("cursor=", 1)[1].split(">", 1)[0]
    for url in (
        f"/v1/resellers?cursor={cursor}",
        "/v1/customers?cursor=not-a-cursor",
        "/v1/journal?cursor=e30",
    ):
        answer = api.get(url)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["code"] == "validation"
        assert "cursor" in answer.json()["detail"]


def test_a_reseller_pages_through_its_own_journal_rows_only(
    api: TestClient, tmp_path: Path
) -> None:
    def write(n: int) -> None:
        for domain in ("example.com", "example.net", "example.org"):
            answer = api.put(
                f"/v1/mailboxes/anna@{domain}/plan?dry_run=true",
                json={"plan": "sync" if n % 2 else "collaborate"},
            )
            assert answer.status_code == 200, answer.text

    for n in range(5):
        write(n)
    acme = {"Authorization": f"Bearer {_key(tmp_path, 'reseller:acme')}"}
    mine = [
        row["id"]
        for row in api.get("/v1/journal?limit=1000").json()
        if row["subject"].endswith("@example.com")
    ]
    assert len(mine) >= 5
    seen: list[dict[str, Any]] = []
    url = "/v1/journal?limit=2"
    while True:
        answer = api.get(url, headers=acme)
        assert answer.status_code == 200, answer.text
        assert "X-Total-Count" not in answer.headers
        seen += answer.json()
        link = answer.headers.get("Link")
        if link is None:
            break
        found = _NEXT.match(link)
        assert found is not None
        url = found.group(1)
        write(0)
    assert [row["id"] for row in seen] == mine
