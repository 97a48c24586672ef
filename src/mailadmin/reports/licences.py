"""The licences report: per platform instance, licensed against used seats, free seats,
state (trial with days left, active, grace, expired) and what to buy to be compliant
(seed 002: licensed >= mailboxes, at least the minimum, stated as the new total)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mailadmin.contract.capabilities import LicenceKind
from mailadmin.contract.models import LicenceState
from mailadmin.rules.policies import licence_upgrade, licences_required

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["COLUMNS", "LicenceRow", "build"]

COLUMNS = [
    "instance",
    "platform",
    "licensed",
    "used",
    "free",
    "state",
    "days_left",
    "required",
    "to_buy",
    "compliant",
    "maintenance_until",
    "maintenance",
    "error",
]


class LicenceRow(BaseModel):
    """One instance's licence against the seed 002 rules."""

    model_config = ConfigDict(frozen=True)

    instance: str
    platform: str
    licensed: int | None
    used: int | None
    free: int | None
    state: str
    days_left: int | None
    required: int | None
    to_buy: str
    compliant: bool
    #: When the maintenance service ends (``None``: not sold apart, or unknown).
    maintenance_until: date | None = None
    #: Seed 002: ``valid`` (help and updates), ``lapsed N days`` (back-paid from its end
    #: when renewed), empty when not sold apart.
    maintenance: str = ""
    error: str = ""


async def build(orch: Orchestrator) -> list[LicenceRow]:
    """Every configured instance's licence."""
    orch.rules.require_site_admin("the licences of the platforms")
    licences = await orch.licences()
    today = orch.rules.today()
    rows = []
    for item in licences.items:
        provider = orch.provider(item.key)
        settings = orch.rules.settings_for(item.key)
        licence = item.value
        if licence is None:
            error = item.error.message if item.error else "no answer"
            rows.append(
                LicenceRow(
                    instance=item.key,
                    platform=provider.platform or provider.name,
                    licensed=None,
                    used=None,
                    free=None,
                    state="unknown",
                    days_left=None,
                    required=None,
                    to_buy="",
                    compliant=False,
                    error=error,
                )
            )
            continue
        end: datetime | None = licence.valid_until
        if end is None and licence.state is LicenceState.TRIAL and licence.valid_from:
            end = licence.valid_from + timedelta(days=settings.trial_days)
        days_left = (end.date() - today).days if end is not None else None
        state, ended = _trial_state(licence.state, end, days_left)
        model = provider.instance_capabilities.licence
        required = licences_required(licence.seats_used, settings, model)
        to_buy = ""
        compliant = not ended and licence.state not in (LicenceState.EXPIRED, LicenceState.NONE)
        if provider.instance_capabilities.licence.kind is LicenceKind.NONE:
            # Declared without licences: nothing to buy, so nothing can be missing.
            compliant, required = True, licence.seats_used
        if licence.seats_licensed is not None and licence.seats_licensed < required:
            upgrade = licence_upgrade(
                licence.seats_licensed, required - licence.seats_licensed, settings, model
            )
            to_buy = str(upgrade)
            compliant = False
        rows.append(
            LicenceRow(
                instance=item.key,
                platform=provider.platform or provider.name,
                licensed=licence.seats_licensed,
                used=licence.seats_used,
                free=licence.seats_free,
                state=state,
                days_left=days_left,
                required=required if licence.seats_licensed is not None else None,
                to_buy=to_buy,
                compliant=compliant,
                maintenance_until=(
                    licence.maintenance_until.date() if licence.maintenance_until else None
                ),
                maintenance=_maintenance(licence.maintenance_until, today),
            )
        )
    await _note_findings(orch, rows)
    return rows


def _maintenance(until: datetime | None, today: date) -> str:
    """Seed 002: help and updates need a valid (not expired) maintenance service; a lapsed
    one is paid from the day it ended."""
    if until is None:
        return ""
    missed = (today - until.date()).days
    return "valid" if missed <= 0 else f"lapsed {missed} days"


def _trial_state(
    state: LicenceState, end: datetime | None, days_left: int | None
) -> tuple[str, bool]:
    """The state's words and whether a trial has ended (seed 002: every feature for 30
    days, then none). The trial's last day is the one before its end date: on the end
    date it "ends today", after it the licence is expired whatever the platform still says.
    """
    if end is None or days_left is None:
        return state.value, False
    if state is LicenceState.TRIAL:
        if days_left > 0:
            return f"trial ({days_left} days left)", False
        if days_left == 0:
            return "trial (ends today)", False
        return f"expired (trial ended {end.date().isoformat()})", True
    if state is LicenceState.NONE and days_left < 0:
        return f"none (ended {end.date().isoformat()})", True
    return state.value, False


#: A licence ending within this many days is an event (``licence.expiring``).
EXPIRING_DAYS = 30


async def _note_findings(orch: Orchestrator, rows: list[LicenceRow]) -> None:
    """Record each licence not compliant, or ending soon, as an event (once per figure)."""
    import asyncio

    from mailadmin.orchestration.events import Finding, record_findings

    findings: list[Finding] = []
    for row in rows:
        data = row.model_dump(mode="json")
        if not row.compliant and not row.error:
            once = f"licence:{row.instance}:{row.state}:{row.licensed}:{row.used}:{row.to_buy}"
            findings.append(("licence.non_compliant", once, data))
        if row.days_left is not None and row.days_left <= EXPIRING_DAYS:
            ends = orch.rules.today() + timedelta(days=row.days_left)
            findings.append(("licence.expiring", f"licence:{row.instance}:ends:{ends}", data))
    if findings:
        await asyncio.to_thread(record_findings, orch.rules.store, findings)
