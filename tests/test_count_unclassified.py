"""``MailboxCount.unclassified``: mailboxes a provider found but could not put in a kind
without guessing; outside ``by_kind`` and ``total``, shown by every face."""

from __future__ import annotations

from mailadmin.cli.tables import count_table
from mailadmin.contract.models import MailboxCount, MailboxKind
from mailadmin.orchestration.bulk import ItemResult


def test_unclassified_stays_out_of_the_total_and_defaults_to_zero() -> None:
    count = MailboxCount(tenant="t", by_kind={MailboxKind.USER: 3}, unclassified=2)
    assert count.total == 3
    assert count.model_dump(mode="json")["unclassified"] == 2
    assert MailboxCount(tenant="t", by_kind={}).unclassified == 0


def test_the_cli_table_names_unclassified_mailboxes_when_there_are_some() -> None:
    some = MailboxCount(tenant="t", by_kind={MailboxKind.USER: 3}, unclassified=2)
    none = MailboxCount(tenant="u", by_kind={MailboxKind.USER: 3})
    _, rows = count_table([ItemResult(key="t", value=some), ItemResult(key="u", value=none)])
    assert rows[0][-1].endswith("unclassified=2")
    assert "unclassified" not in rows[1][-1]
