"""Rooms and equipment: OX resources carry no kind, so the kind is the instance's configured
convention; what it cannot tell is counted as unclassified, never guessed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.settings import OXResourceKinds

from mailadmin.mock import MockServer, serve
from mailadmin.sdk import MailboxKind, NewMailbox, TenantRef, errors

if TYPE_CHECKING:
    from conftest import Make, Post

EXAMPLE = TenantRef(name="example.com", native_id="1")


def _resource(name: str, description: str, displayname: str = "") -> bytes:
    """OXResourceService.create as another admin tool sends it (MW Resource.java order)."""
    return (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:s="http://soap.admin.openexchange.com"'
        ' xmlns:d="http://dataobjects.soap.admin.openexchange.com/xsd"'
        ' xmlns:r="http://dataobjects.rmi.admin.openexchange.com/xsd"><e:Body><s:create>'
        "<s:ctx><d:id>1</d:id></s:ctx><s:res><d:available>true</d:available>"
        f"<d:description>{description}</d:description>"
        f"<d:displayname>{displayname or name}</d:displayname>"
        f"<d:email>{name}@example.com</d:email><d:name>{name}</d:name></s:res>"
        "<s:auth><r:login>oxadmin</r:login><r:password>secret</r:password></s:auth>"
        "</s:create></e:Body></e:Envelope>"
    ).encode()


@pytest.fixture
async def server(post: Post) -> MockServer:
    """The defaults (room-1, description "room") plus resources made outside mailadmin."""
    made = MockServer(OXMock)
    for name, description, display in (
        ("beamer", "Equipment: projector", "Beamer"),
        ("boardroom", "Room 2.01, 12 seats", "Boardroom"),
        ("car-1", "", "Pool car"),
    ):
        response = await post(made, "OXResourceService", _resource(name, description, display))
        assert response.status_code == 200
    return made


async def test_resources_made_elsewhere_are_counted_by_the_convention(
    server: MockServer, make: Make
) -> None:
    count = await make(server).count_mailboxes(EXAMPLE)

    assert count.of(MailboxKind.ROOM) == 2  # room-1 and the boardroom
    assert count.of(MailboxKind.EQUIPMENT) == 1  # the beamer
    assert count.unclassified == 1  # the pool car: neither marker, not guessed


async def test_a_resource_that_cannot_be_told_is_not_listed_as_some_kind(
    server: MockServer, make: Make
) -> None:
    listed = await make(server).list_mailboxes(EXAMPLE)

    kinds = {
        m.address: m.kind for m in listed if m.kind in (MailboxKind.ROOM, MailboxKind.EQUIPMENT)
    }
    assert kinds == {
        "room-1@example.com": MailboxKind.ROOM,
        "boardroom@example.com": MailboxKind.ROOM,
        "beamer@example.com": MailboxKind.EQUIPMENT,
    }


async def test_a_site_convention_on_the_name_with_a_default_kind(
    server: MockServer, make: Make
) -> None:
    provider = make(
        server,
        resource_kinds={
            "field": "name",
            "room": ["room", "board"],
            "equipment": ["beamer", "car"],
        },
    )

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.of(MailboxKind.ROOM) == 2
    assert count.of(MailboxKind.EQUIPMENT) == 2
    assert count.unclassified == 0


async def test_unmarked_resources_may_be_declared_one_kind(server: MockServer, make: Make) -> None:
    provider = make(server, resource_kinds={"unmarked": "room"})

    count = await provider.count_mailboxes(EXAMPLE)

    assert count.of(MailboxKind.ROOM) == 3
    assert count.unclassified == 0


async def test_new_equipment_carries_the_marker_in_the_configured_field(make: Make) -> None:
    by_description, by_display = MockServer(OXMock), MockServer(OXMock)
    new = NewMailbox(address="drill@example.com", kind=MailboxKind.EQUIPMENT, display_name="Drill")

    await make(by_description).create_mailbox(EXAMPLE, new)
    await make(
        by_display, resource_kinds={"field": "displayname", "equipment": ["[eq]"]}
    ).create_mailbox(EXAMPLE, new)

    (one,) = [
        r
        for r in by_description.state.contexts[1].resources.values()
        if r.name == "drill@example.com"
    ]  # type: ignore[attr-defined]
    (two,) = [
        r for r in by_display.state.contexts[1].resources.values() if r.name == "drill@example.com"
    ]  # type: ignore[attr-defined]
    assert one.description == "equipment"
    assert (two.display_name, two.description) == ("[eq] Drill", "")
    assert (
        await make(
            by_display, resource_kinds={"field": "displayname", "equipment": ["[eq]"]}
        ).count_mailboxes(EXAMPLE)
    ).of(MailboxKind.EQUIPMENT) == 1


async def test_an_address_without_the_marker_is_refused_before_anything_is_sent(
    make: Make,
) -> None:
    server = MockServer(OXMock)
    provider = make(server, resource_kinds={"field": "email", "room": ["room-"]})

    with pytest.raises(errors.ValidationError, match="room-"):
        await provider.create_mailbox(
            EXAMPLE, NewMailbox(address="hall@example.com", kind=MailboxKind.ROOM)
        )

    assert server.requests == []


def test_markers_must_not_be_blank() -> None:
    with pytest.raises(ValueError, match="marker"):
        OXResourceKinds(room=(" ",))


CLI_CONFIG = """
[plans.mail]
rank = 1

[instances.ox]
provider = "ox"
endpoint = "{endpoint}"
mode = "reseller"
credentials = {{ username = "reseller", secret = "secret" }}
[instances.ox.plans.mail]
access_combination = "pim"

[tenants."example.com"]
instance = "ox"
native_id = "1"
"""


def test_the_cli_shows_what_it_could_not_classify(server: MockServer, tmp_path: Path) -> None:
    config = tmp_path / "mailadmin.toml"
    with serve(server) as url:
        config.write_text(CLI_CONFIG.format(endpoint=url))
        # The shell as an operator runs it (a plugin imports no core module beyond the
        # SDK, the mock toolkit and the kit).
        command = [sys.executable, "-m", "mailadmin", "--config", str(config)]
        table = subprocess.run([*command, "count"], capture_output=True, text=True, timeout=60)
        data = subprocess.run(
            [*command, "--json", "count"], capture_output=True, text=True, timeout=60
        )

    assert table.returncode == 0, table.stderr
    assert "unclassified=1" in table.stdout
    [item] = json.loads(data.stdout)["items"]
    assert item["value"]["unclassified"] == 1
    assert item["value"]["by_kind"]["room"] == 2
