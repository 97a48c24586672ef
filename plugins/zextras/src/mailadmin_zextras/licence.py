"""The Zextras licence: ``zextras`` ``ZxCore getLicenseInfo`` read into a :class:`Licence`.

The answer's ``content`` is a JSON string ``{"ok": true, "response": {...}}`` whose fields
are those of the Carbonio admin console's licence type: ``licensedUsers`` (a number as text
or ``"unlimited"``), ``accountCount``, dates in epoch milliseconds, ``type``/``subType``,
``editions[]`` and ``features[]`` (``{name, quantity, enabled}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mailadmin.sdk import Licence, LicenceFeature, LicenceState, errors

__all__ = ["decode_content", "licence_of"]

_NOT_OWNED = frozenset({"", "0", "none", "false"})


def decode_content(
    answer: Mapping[str, Any], *, server: str | None, provider: str
) -> dict[str, Any]:
    """The ``response`` object inside the ``content`` JSON string of a ``zextras`` answer.

    ``server``: the ``targetServers`` name the request named (the answer is keyed by it).
    """
    raw = answer.get("content")
    if isinstance(raw, Mapping):  # an element form {"_content": "..."} instead of a string
        raw = raw.get("_content")
    if not isinstance(raw, str):
        raise errors.ProtocolError(f"{provider} sent a licence answer without content")
    try:
        content = json.loads(raw)
    except ValueError:
        raise errors.ProtocolError(f"{provider} sent a licence answer that is not JSON") from None
    if server is not None and isinstance(content, Mapping):
        inner = content.get("response", {})
        if isinstance(inner, Mapping) and isinstance(inner.get(server), Mapping):
            content = inner[server]
    if not isinstance(content, Mapping) or not content.get("ok"):
        said = content.get("error") if isinstance(content, Mapping) else None
        raise errors.ProviderError(
            f"{provider} could not read its licence",
            debug={"error": str(said)[:500] if said else None},
        )
    response = content.get("response")
    if not isinstance(response, Mapping):
        raise errors.ProtocolError(f"{provider} sent a licence answer without licence data")
    return dict(response)


def _quantity(value: Any) -> int | None:
    # "unlimited" (or a missing figure) is no limit; a number may come as text or number.
    text = str(value).strip().lower() if value is not None else "unlimited"
    if text in ("unlimited", ""):
        return None
    try:
        return max(int(text), 0)
    except ValueError:
        return 0


def _when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        millis = int(value)
    except ValueError:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis > 0 else None


def _state(info: Mapping[str, Any]) -> LicenceState:
    kind = str(info.get("type", "")).lower()
    if kind == "none":
        return LicenceState.NONE
    if info.get("expired"):
        return LicenceState.GRACE if info.get("isWithinGraceInterval") else LicenceState.EXPIRED
    if kind == "trial" or str(info.get("subType", "")).upper() == "TRIAL":
        return LicenceState.TRIAL
    if info.get("notYetValid"):
        return LicenceState.NONE
    return LicenceState.ACTIVE


def licence_of(info: Mapping[str, Any]) -> Licence:
    """Map a ``getLicenseInfo`` response onto the contract's :class:`Licence`.

    Editions owned (quantity not ``0``/``none``) come first as ``edition:<name>``, then the
    enabled features by name, each with its quantity (``None``: unlimited).
    """
    features: list[LicenceFeature] = []
    seen: set[str] = set()
    for edition in info.get("editions", ()) or ():
        if not isinstance(edition, Mapping):
            continue
        quantity = str(edition.get("quantity", "0")).strip().lower()
        name = f"edition:{edition.get('name', '')}"
        if quantity in _NOT_OWNED or name in seen:
            continue
        seen.add(name)
        features.append(LicenceFeature(name=name, quantity=_quantity(quantity)))
    for feature in info.get("features", ()) or ():
        if not isinstance(feature, Mapping) or feature.get("enabled") is False:
            continue
        name = str(feature.get("name", ""))
        if not name or name in seen:
            continue
        seen.add(name)
        features.append(LicenceFeature(name=name, quantity=_quantity(feature.get("quantity"))))
    used = info.get("accountCount", 0)
    start, end = _when(info.get("dateStart")), _when(info.get("dateEnd"))
    if start is not None and end is not None and end < start:
        start = None
    return Licence(
        seats_licensed=_quantity(info.get("licensedUsers")),
        seats_used=max(int(used), 0) if str(used).lstrip("-").isdigit() else 0,
        features=tuple(features),
        valid_from=start,
        valid_until=end,
        state=_state(info),
        maintenance_until=_when(info.get("maintenanceEndDate")),
    )
