"""Call and request ids: unique, cheap, not secret.

``uuid.uuid4()`` asks the kernel for randomness on every call (a system call, slow in
sandboxes and on busy machines, and paid several times per item of a bulk run). These ids
only need to be unique, not unpredictable, so they come from a generator of their own,
seeded from the kernel once and again in a forked child (so two workers forked from one
parent never share a sequence); ``random.seed()`` in user code does not touch it.
"""

from __future__ import annotations

import os
import random

__all__ = ["new_id"]

_IDS = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_IDS.seed)


def new_id() -> str:
    """32 hex digits (128 random bits), the shape of ``uuid.uuid4().hex``."""
    return f"{_IDS.getrandbits(128):032x}"
