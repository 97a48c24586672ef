"""Size strings as Exchange writes and reads them (reference 1.5, 2.3)."""

from __future__ import annotations

import pytest
from mailadmin_exchange.sizes import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("50 GB (53,687,091,200 bytes)", 53_687_091_200),
        ("100 GB (107,374,182,400 bytes)", 107_374_182_400),
        ("98 GB (105,226,698,752 bytes)", 105_226_698_752),
        ("1.8 GB (1,932,735,283 bytes)", 1_932_735_283),
        ("Unlimited", None),
        ("unlimited", None),
        ("40GB", 40 << 30),
        ("1.5 GB", 3 << 29),
        ("500 MB", 500 << 20),
        ("2048", 2048),
        (36700160, 36700160),
    ],
)
def test_parse_size_reads_every_form(text: object, size: int | None) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "lots", "-5 GB", -1, True, None, 1.5])
def test_parse_size_refuses_what_is_not_a_size(bad: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(bad)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (53_687_091_200, "50 GB (53,687,091,200 bytes)"),
        (105_226_698_752, "98 GB (105,226,698,752 bytes)"),
        (2 << 30, "2 GB (2,147,483,648 bytes)"),
        (1_932_735_283, "1.8 GB (1,932,735,283 bytes)"),
        (500 << 20, "500 MB (524,288,000 bytes)"),
        (None, "Unlimited"),
        (12, "12 B (12 bytes)"),
    ],
)
def test_format_size_writes_exchanges_display_form(size: int | None, text: str) -> None:
    assert format_size(size) == text
    assert parse_size(format_size(size)) == size
