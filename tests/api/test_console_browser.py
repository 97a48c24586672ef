"""The operator console in a real browser: Playwright drives Debian's Chromium.

One ``mailadmin serve`` and one browser for the module; each test has its own browser
context (no cookie shared). Without the ``playwright`` package or a Chromium at
``/usr/bin/chromium`` (``MAILADMIN_TEST_CHROMIUM`` names another) the tests skip with the
reason; under ``CI=true`` a missing browser fails them (``.ci/run`` installs Debian's).
The run and item test leaves ``docs/console.png``, the picture of the console in the docs.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apihelpers import Service, config_text, plan_of

from mailadmin.mock.server import MockServer
from mailadmin.store.journal import Journal

CHROMIUM = os.environ.get("MAILADMIN_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
#: The highlight of an over-used row (the console's --bad-bg).
OVER_USE_BACKGROUND = "rgb(253, 236, 234)"
#: example.org may have one user mailbox; the mock holds two (anna, ben): over by one.
OVER_USED = '\n[customers."example.org"]\npackage = { user_mailboxes = 1, shared_mailboxes = 5 }\n'


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[browser]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _missing()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{problem}; CI=true requires the browser tests to run")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        # Debian's browser, never one downloaded by Playwright.
        launched = driver.chromium.launch(executable_path=CHROMIUM)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def console(
    browser: Any, mock: MockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The service of this module: the suite's tenancy, example.org over-used."""
    folder = tmp_path_factory.mktemp("console")
    config = folder / "mailadmin.toml"
    config.write_text(config_text(mock.url, folder) + OVER_USED)  # type: ignore[attr-defined]
    running = Service(config)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def page(browser: Any, console: Service, fresh: MockServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def _sign_in(page: Any, console: Service, identity: str = "site-admin") -> None:
    page.goto(f"{console.url}/console/sign-in")
    page.get_by_label("API key").fill(console.key(identity))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/runs")


def test_sign_in_with_a_key_from_the_keyboard(page: Any, console: Service) -> None:
    page.goto(f"{console.url}/console/journal")
    page.wait_for_url("**/console/sign-in")  # no key yet: sent to sign in
    key = console.key("site-admin")
    # The key field has the focus; typing and Enter sign in, no pointer needed.
    page.keyboard.type("mak_not_a_key")
    page.keyboard.press("Enter")
    assert page.get_by_role("alert").inner_text() == "That key is unknown or revoked"
    field = page.get_by_label("API key")
    field.fill("")
    field.focus()
    page.keyboard.type(key)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/runs")
    assert key not in page.url and "mak_" not in page.url
    [cookie] = [c for c in page.context.cookies() if c["name"] == "mailadmin_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] == -1
    assert page.evaluate("document.cookie") == ""  # the page's scripts cannot read it
    # Focus order: the skip link first, then the sections.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Runs"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/journal")
    assert page.get_by_role("heading", level=1).inner_text() == "Journal"


def test_watch_a_run_progress_to_done_and_open_a_failed_item(
    page: Any, console: Service, fresh: MockServer
) -> None:
    # Each write takes a while; the second is refused by the platform.
    fresh.inject({"kind": "latency", "operation": "change_plan", "delay": 0.7})
    fresh.inject({"kind": "status", "status": 400, "operation": "change_plan", "calls": [2]})
    items = [
        {"address": "anna@example.org", "plan": "collaborate"},
        {"address": "ben@example.org", "plan": "collaborate"},
        {"address": "anna@example.com", "plan": "collaborate"},
    ]
    _sign_in(page, console)
    with console.client("site-admin") as http:
        started = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 1})
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    page.goto(f"{console.url}/console/runs")
    page.get_by_role("link", name=run_id).click()
    page.wait_for_url(f"**/console/runs/{run_id}")
    live = page.locator("#run-live")
    assert live.get_attribute("data-ended") == "false"  # still working when the page opened
    page.evaluate("window.sameDocument = true")
    page.wait_for_selector('#run-live[data-ended="true"]')
    assert page.evaluate("window.sameDocument === true")  # updated in place, not reloaded
    assert page.locator("#run-state").inner_text() == "failed"
    assert page.locator("#run-progress").get_attribute("value") == "3"
    assert page.get_by_role("button", name="Cancel run").count() == 0  # ended: nothing to stop
    failures = page.locator("ul.failures li")
    assert failures.count() == 1 and "ben@example.org" in failures.inner_text()
    failures.get_by_role("link").click()
    page.wait_for_url(f"**/console/runs/{run_id}/items/1")
    assert page.locator("#item-error-code").inner_text() != ""
    assert page.locator("#item-error-message").inner_text() != ""
    # The console showed what the platform holds.
    assert plan_of(fresh, "anna@example.org") == "premium"
    assert plan_of(fresh, "ben@example.org") == "standard"
    assert plan_of(fresh, "anna@example.com") == "premium"


def _open_row(console: Service, mock: MockServer, address: str, plan: str) -> None:
    """A write cut off in flight by another process (as a crash would): its journal row
    stays open. Done in a thread of its own, apart from the browser driver's loop."""
    from mailadmin.orchestration.orchestrator import Orchestrator

    async def crash() -> None:
        orch = Orchestrator.from_config(console.config)
        try:
            mock.inject({"kind": "latency", "operation": "change_plan", "delay": 5})
            seen = len(mock.requests)
            write = asyncio.create_task(orch.set_plan(address, plan))
            # The read before the write is answered: the write is on the wire (held).
            while not any(r.operation == "get_mailbox" for r in mock.requests[seen:]):
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            write.cancel()
            with pytest.raises(asyncio.CancelledError):
                await write
        finally:
            await orch.aclose()
            mock.clear_faults()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(crash())
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    assert not worker.is_alive() and not failure, failure


def test_resume_an_open_journal_row(page: Any, console: Service, fresh: MockServer) -> None:
    _open_row(console, fresh, "ben@example.net", "collaborate")
    journal = Journal(console.store)
    try:
        [row] = journal.entries(10, open_only=True, subject="ben@example.net")
    finally:
        journal.close()
    _sign_in(page, console)
    page.get_by_role("link", name="Journal").click()
    page.get_by_label("Open rows only").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/console/journal?*open=1*")
    listed = page.locator("tbody tr")
    assert listed.count() >= 1 and "ben@example.net" in listed.first.inner_text()
    page.get_by_role("link", name=str(row.id), exact=True).click()
    page.wait_for_url(f"**/console/journal/{row.id}")
    assert "open" in page.locator("#entry-status").inner_text()
    page.get_by_role("button", name="Resume this record").click()
    page.wait_for_url(f"**/console/journal/{row.id}")
    assert page.locator("#entry-status").inner_text() == "done"
    assert page.locator("#entry-outcome").inner_text() in ("changed", "unchanged")
    assert page.get_by_role("button", name="Resume this record").count() == 0
    # Settled on the platform and in the store, not only on the page.
    assert plan_of(fresh, "ben@example.net") == "premium"
    journal = Journal(console.store)
    try:
        settled = journal.get(row.id)
    finally:
        journal.close()
    assert settled is not None and not settled.open and settled.status == "done"


def test_see_an_over_use_highlighted_at_1280_px_and_on_a_phone(
    page: Any, console: Service, fresh: MockServer
) -> None:
    _sign_in(page, console)
    page.get_by_role("link", name="Reports").click()
    page.wait_for_url("**/console/reports")
    over = page.locator("#usage tr[data-over-use]")
    assert over.count() == 1
    assert "example.org" in over.inner_text() and "over by 1" in over.inner_text()
    background = over.evaluate("row => getComputedStyle(row).backgroundColor")
    assert background == OVER_USE_BACKGROUND
    within = page.locator("#usage tbody tr:not([data-over-use])").first
    assert within.evaluate("row => getComputedStyle(row).backgroundColor") != background
    chart = page.get_by_role("img", name="Licensed and used seats per platform")
    assert chart.count() == 1 and page.locator("svg.chart rect").count() >= 2
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    # A phone: every page fits its width (wide tables scroll inside their own box).
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("reports", "tenants", "journal", "runs"):
        page.goto(f"{console.url}/console/{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
    page.goto(f"{console.url}/console/tenants")
    tenants = page.locator("section.card", has_text="example.org")
    assert "over by 1" in tenants.inner_text()


def test_a_key_that_is_revoked_is_signed_out(page: Any, console: Service) -> None:
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity
    from mailadmin.store.database import Database

    store = Database(console.store)
    try:
        made = ApiKeys(store).create(Identity.parse("site-admin"), "revoked in the test")
    finally:
        store.close()
    page.goto(f"{console.url}/console/sign-in")
    page.get_by_label("API key").fill(made.key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/runs")
    store = Database(console.store)
    try:
        ApiKeys(store).revoke(made.id)
    finally:
        store.close()
    page.get_by_role("link", name="Tenants").click()
    page.wait_for_url("**/console/sign-in")
    assert not [c for c in page.context.cookies() if c["name"] == "mailadmin_console"]
    with httpx.Client(base_url=console.url) as http:
        assert http.get("/console/tenants").status_code == 303
