"""The Zextras part of ``mailadmin demo``: the sample configuration against the Zextras mock."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

__all__ = ["sample_config", "scenario"]


def sample_config() -> dict[str, Any]:
    """The sample configuration shipped as ``mailadmin_zextras/sample.toml``, parsed."""
    text = files("mailadmin_zextras").joinpath("sample.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


#: The demo's own domain: OX sits on example.com and the reference platform on example.net.
DEMO_DOMAIN = "example.org"


def demo_seed() -> dict[str, Any]:
    """The mock's start state for the demo: the defaults plus ``example.org`` with four user
    mailboxes on the three plans, a shared mailbox and a room."""

    def account(local: str, cos: str | None = None, **attrs: str) -> dict[str, Any]:
        values: dict[str, Any] = {"zimbraMailDeliveryAddress": f"{local}@{DEMO_DOMAIN}", **attrs}
        values["objectClass"] = ["inetOrgPerson", "zimbraAccount", "amavisAccount"]
        if cos:
            values["zimbraCOSId"] = cos
        return {"name": f"{local}@{DEMO_DOMAIN}", "attrs": values}

    room = account("room-1", displayName="Room 1", zimbraCalResType="Location")
    room["attrs"]["objectClass"] = ["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"]
    room["calresource"] = True
    return {
        "domains": [
            {
                "name": DEMO_DOMAIN,
                # The preauth key signs the demo's sign-on links (a fixture's, not a secret).
                "attrs": {"zimbraDomainDefaultCOSId": "mail", "zimbraPreAuthKey": "1e" * 32},
            }
        ],
        "accounts": [
            account("anna", displayName="Anna"),
            account("ben", "sync", displayName="Ben"),
            account("carla", "collaborate", displayName="Carla"),
            account("dan", "mail", displayName="Dan"),
            account("info", displayName="Info", zimbraNotes="mailadmin-shared"),
            room,
        ],
    }


def scenario() -> dict[str, Any]:
    """Upgrade Anna (Mail to Sync) and Ben (Sync to Collaborate) of ``example.org``, then
    cap the domain's seats and Collaborate seats and give it a storage total."""
    config = sample_config()
    instance = {k: v for k, v in config["instances"]["zextras"].items() if k != "endpoint"}
    # The demo validates this into its DemoScenario (the CLI is not a plugin's import).
    return {
        "instance": instance,
        "tenants": {DEMO_DOMAIN: {"domains": [DEMO_DOMAIN]}},
        "upgrades": [(f"anna@{DEMO_DOMAIN}", "sync"), (f"ben@{DEMO_DOMAIN}", "collaborate")],
        "addons": [
            (DEMO_DOMAIN, "mailboxes", 15),
            (DEMO_DOMAIN, "mailboxes:collaborate", 5),
            (DEMO_DOMAIN, "storage_gb", 50),
        ],
        "seed": demo_seed(),
    }
