"""The mailcow mock answers as the reference describes (keys, refusals in a 200, validation
order, quirks), and the provider reads those answers right, checked in the mock's state."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mailadmin.mock import MockServer
from mailadmin.sdk import AddonRef, MailboxRef, NewMailbox, TenantRef, errors

from mailadmin_mailcow.mock import MailcowMock, MailcowState
from mailadmin_mailcow.provider import MailcowProvider

KEY = "0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"
READ_ONLY = "1F2E3D-4C5B6A-7F8E9D-0C1B2A-3F4E5D"
URL = "http://mailcow.test"
TENANT = TenantRef(name="example.com")


@pytest.fixture
def server() -> MockServer:
    return MockServer(MailcowMock)


@pytest.fixture
def state(server: MockServer) -> MailcowState:
    assert isinstance(server.state, MailcowState)
    return server.state


@pytest.fixture
async def provider(server: MockServer) -> Any:
    settings = {"endpoint": URL, "credentials": {"username": "api", "secret": KEY}, "retries": 0}
    async with MailcowProvider(settings, http=server.router(URL)) as made:
        yield made


async def _call(server: MockServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=server.router(URL), base_url=URL) as client:
        return await client.request(method, path, **kwargs)


async def test_keys_are_checked_as_mailcow_does(server: MockServer) -> None:
    path = "/api/v1/get/domain/example.com"
    no_key = await _call(server, "GET", path)
    assert (no_key.status_code, no_key.content) == (200, b"")  # a read without a key
    wrong = await _call(server, "GET", path, headers={"X-API-Key": "nope"})
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"type": "error", "msg": "authentication failed"},
    )
    body = {"items": ["anna@example.com"], "attr": {"quota": "1"}}
    read_only = await _call(
        server, "POST", "/api/v1/edit/mailbox", json=body, headers={"X-API-Key": READ_ONLY}
    )
    assert read_only.status_code == 403
    assert read_only.json()["msg"] == "API read/write access denied"


async def test_refusals_come_in_a_200_in_the_reference_order(
    server: MockServer, state: MailcowState
) -> None:
    headers = {"X-API-Key": KEY}
    add = {"local_part": "anna", "domain": "nowhere.test", "password": "secret1"}
    unknown_domain = await _call(server, "POST", "/api/v1/add/mailbox", json=add, headers=headers)
    assert unknown_domain.status_code == 200
    assert unknown_domain.json()[0]["type"] == "danger"
    assert unknown_domain.json()[0]["msg"] == "access_denied"  # not domain_not_found
    exists = {**add, "domain": "example.com", "password2": "secret1"}
    answer = await _call(server, "POST", "/api/v1/add/mailbox", json=exists, headers=headers)
    assert answer.json()[0]["msg"] == ["object_exists", "anna@example.com"]
    state.data.domains["example.com"].mailboxes = 2
    full = {**exists, "local_part": "carla"}
    answer = await _call(server, "POST", "/api/v1/add/mailbox", json=full, headers=headers)
    assert answer.json()[0]["msg"] == ["max_mailbox_exceeded", 2, 2]
    assert "carla@example.com" not in state.data.mailboxes


async def test_an_unknown_domain_lists_every_mailbox_but_counts_as_not_found(
    provider: MailcowProvider, server: MockServer
) -> None:
    listed = await _call(
        server, "GET", "/api/v1/get/mailbox/all/nowhere.test", headers={"X-API-Key": KEY}
    )
    assert {m["username"] for m in listed.json()} == {"anna@example.com", "ben@example.com"}
    with pytest.raises(errors.NotFoundError):
        await provider.count_mailboxes(TenantRef(name="nowhere.test"))
    assert (await provider.count_mailboxes(TENANT)).by_plan == {"mail": 1, "sync": 1}


async def test_writes_land_in_the_mock_state(
    provider: MailcowProvider, state: MailcowState
) -> None:
    anna = MailboxRef(tenant=TENANT, address="anna@example.com")
    result = await provider.set_plan(anna, "sync")
    assert (result.before, result.after) == ("mail", "sync")
    box = state.data.mailboxes["anna@example.com"]
    assert (box.quota, box.eas_access, box.dav_access, box.imap_access) == (5120, 1, 1, 1)
    await provider.apply_addon(TENANT, AddonRef.parse("storage_gb"), 60)
    await provider.apply_addon(TENANT, AddonRef.parse("mailboxes"), 12)
    domain = state.data.domains["example.com"]
    assert (domain.quota, domain.mailboxes) == (60 * 1024, 12)
    created = await provider.create_mailbox(TENANT, NewMailbox(address="new@example.com"))
    assert created.changed and state.data.mailboxes["new@example.com"].quota == 2048
    gone = await provider.delete_mailbox(MailboxRef(tenant=TENANT, address="new@example.com"))
    assert gone.changed and "new@example.com" not in state.data.mailboxes


async def test_a_domain_limit_below_use_is_refused_and_nothing_changes(
    provider: MailcowProvider, state: MailcowState
) -> None:
    with pytest.raises(errors.ConflictError):
        await provider.apply_addon(TENANT, AddonRef.parse("mailboxes"), 1)
    assert state.data.domains["example.com"].mailboxes == 10
    with pytest.raises(errors.ValidationError):
        await provider.apply_addon(TENANT, AddonRef.parse("storage_gb"), 0)


async def test_nothing_is_licensed(provider: MailcowProvider) -> None:
    licence = await provider.get_licence()
    assert (licence.state.value, licence.seats_licensed, licence.over_used) == ("none", None, False)
