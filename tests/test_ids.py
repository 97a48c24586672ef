"""Call and request ids (``mailadmin.wire.ids``)."""

from __future__ import annotations

import os
import random
import re

import pytest

from mailadmin.wire.ids import new_id


def test_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_seeding_the_global_random_generator_does_not_repeat_ids() -> None:
    random.seed(7)
    first = new_id()
    random.seed(7)
    assert new_id() != first


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its first id and leave without cleanup
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child != new_id()
