"""Counting domains larger than the directory's search limit.

The real ``SearchDirectoryRequest`` runs its whole search under the server's size limit
(``zimbra_directory_max_search_result``, 5000) before it counts or pages, so neither
``countOnly`` nor ``limit``/``offset`` gets past it: the answer is then
``account.TOO_MANY_SEARCH_RESULTS``. The mock does the same (its limit is a seed field,
small here so the tests stay small); the provider counts through ``CountAccountRequest``
and splits any search the limit refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_zextras.demo import sample_config
from mailadmin_zextras.mock.platform import ZextrasMock
from mailadmin_zextras.mock.state import ZextrasState, ZimbraFault
from mailadmin_zextras.provider import ZextrasProvider

from mailadmin.mock import MockServer
from mailadmin.sdk import MailboxKind, TenantRef

TENANT = TenantRef(name="example.com")
LIMIT = 20


def _seed(users: int, shared: int, rooms: int, equipment: int) -> dict[str, Any]:
    accounts: list[dict[str, Any]] = []
    # Varied first letters and digits, and a few uids outside [a-z0-9], so every kind of
    # slice (a character, a deeper prefix, the rest) holds something.
    for i in range(users):
        first = "abcdefghijklmnopqrstuvwxyz0123456789_"[i % 37]
        name = f"{first}user{i}@example.com"
        accounts.append(
            {"name": name, "attrs": {"zimbraCOSId": "sync", "zimbraMailDeliveryAddress": name}}
        )
    for i in range(shared):
        name = f"s{i}.box@example.com"
        attrs = {"zimbraNotes": "mailadmin-shared", "zimbraMailDeliveryAddress": name}
        accounts.append({"name": name, "attrs": attrs})
    for i in range(rooms + equipment):
        kind = "Location" if i < rooms else "Equipment"
        accounts.append(
            {
                "name": f"res{i}@example.com",
                "calresource": True,
                "attrs": {
                    "zimbraCalResType": kind,
                    "displayName": f"Resource {i}",
                    "objectClass": ["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"],
                    "zimbraMailDeliveryAddress": f"res{i}@example.com",
                },
            }
        )
    return {"accounts": accounts, "max_search_results": LIMIT}


def _state(server: MockServer) -> ZextrasState:
    assert isinstance(server.state, ZextrasState)
    return server.state


def test_count_only_does_not_lift_the_search_limit() -> None:
    state = _state(MockServer(ZextrasMock, seed=_seed(30, 0, 0, 0)))
    with pytest.raises(ZimbraFault) as raised:
        state.search("(mail=*)", domain="example.com", count_only=True)
    assert raised.value.code == "account.TOO_MANY_SEARCH_RESULTS"
    assert raised.value.receiver
    # Paging does not lift it either: the server pages a search it has already run.
    with pytest.raises(ZimbraFault):
        state.search("(mail=*)", domain="example.com", limit=5)
    # The request's own maxResults does, as on the server.
    assert state.search("(mail=*)", count_only=True, max_results=1000).total > LIMIT


async def test_count_mailboxes_past_the_search_limit() -> None:
    server = MockServer(ZextrasMock, seed=_seed(users=150, shared=45, rooms=30, equipment=3))
    instance = sample_config()["instances"]["zextras"]
    settings = {k: v for k, v in instance.items() if k != "provider"}
    async with ZextrasProvider({**settings, "retries": 0}, http=server.transport()) as provider:
        count = await provider.count_mailboxes(TENANT)

    # The defaults hold 4 users, 1 shared, 1 room and 1 equipment of example.com.
    assert count.by_kind == {
        MailboxKind.USER: 150 + 4,
        MailboxKind.SHARED: 45 + 1,
        MailboxKind.ROOM: 30 + 1,
        MailboxKind.EQUIPMENT: 3 + 1,
    }
    assert count.by_plan == {"sync": 150 + 1, "mail": 2, "collaborate": 1}
    assert (
        count.of(MailboxKind.USER) + count.of(MailboxKind.SHARED)
        == _state(server).licensed_mailboxes()
    )
    # The limit refused the whole searches (the only faults), and slices answered instead.
    refused = [r for r in server.requests if r.status == 500]
    assert refused, "the test domain must be larger than the search limit"
    assert {r.operation for r in refused} == {"SearchDirectoryRequest"}
