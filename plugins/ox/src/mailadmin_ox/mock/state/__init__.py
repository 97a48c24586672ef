"""The OX mock's state and business rules: authentication, users and their module access,
access combinations, quotas, resources, functional accounts, resellers and restrictions.

No HTTP and no XML here: handlers decode a request into plain values (dicts keyed by the
WSDL's element names), call a method, and encode what it returns. A refused call raises
:class:`OXFault` carrying the exception name and the exact message OX sends (reference
section 1.6); ``; exceptionId <jvm>-<n>`` is appended the way OX 7.10.4+ does, except to
``InvalidCredentialsException`` (whose stored source does not extend the exception base
that appends it).

Defaults (``reset``): master admin ``oxadminmaster``/``secret`` (accepted for context-level
calls: ``ALLOW_MASTER_OVERRIDE`` on); OX's stock access combinations; context 1
``example.com`` (maxQuota 1024 MB) with context admin ``oxadmin``/``secret`` (user id 2,
combination ``all``) and the sample mailboxes of :data:`SAMPLE`: users ``anna`` (``pim``,
2048 MB), ``ben`` (``pim_mobility``, 5120 MB) and ``carla`` (``groupware_premium``,
10240 MB), the functional account ``info@example.com`` and the room ``room-1@example.com``;
reseller ``reseller``/``secret`` owning context 1, limited to 50 users and 10 contexts.

The rules are split by area, one module each, stacked into :class:`OXState`:
:mod:`.base` (faults, access combinations, context lookup), :mod:`.auth`,
:mod:`.restrictions`, :mod:`.contexts`, :mod:`.users`, :mod:`.directory` (resources,
functional accounts, groups), :mod:`.resellers` and :mod:`.seed` (sample data and seeds).
The data is one pydantic model, :class:`~mailadmin_ox.mock.state.data.OXData`.
"""

from __future__ import annotations

from mailadmin_ox.mock.state.base import Actor, OXFault
from mailadmin_ox.mock.state.data import OXData
from mailadmin_ox.mock.state.seed import SAMPLE, OXSeed, SeedRules

__all__ = ["SAMPLE", "Actor", "OXData", "OXFault", "OXSeed", "OXState"]


class OXState(SeedRules):
    """Everything one OX mock server holds. One instance per server."""
