"""Every address of the mailcow API the mock serves. The first declared route that matches
wins, so the literal ``all`` paths come before the ones taking a name."""

from __future__ import annotations

from mailadmin.mock import Route

from mailadmin_mailcow.mock import handlers as h

__all__ = ["ROUTES"]

_API = "/api/v1"

ROUTES: tuple[Route, ...] = (
    Route("GET", _API + "/get/status/version", h.version, name="version"),
    Route("GET", _API + "/get/domain/all", h.all_domains, name="get_domains"),
    Route("GET", _API + "/get/domain/{name}", h.get_domain, name="get_domain"),
    Route("GET", _API + "/get/mailbox/all", h.all_mailboxes, name="get_mailboxes"),
    Route("GET", _API + "/get/mailbox/all/{domains}", h.mailboxes_of, name="get_mailboxes_of"),
    Route("GET", _API + "/get/mailbox/{username}", h.get_mailbox, name="get_mailbox"),
    Route("POST", _API + "/add/mailbox", h.add_mailbox, name="add_mailbox", write=True),
    Route("POST", _API + "/edit/mailbox", h.edit_mailbox, name="edit_mailbox", write=True),
    Route("POST", _API + "/delete/mailbox", h.delete_mailbox, name="delete_mailbox", write=True),
    Route("POST", _API + "/add/domain", h.add_domain, name="add_domain", write=True),
    Route("POST", _API + "/edit/domain", h.edit_domain, name="edit_domain", write=True),
    Route("GET", _API + "/get/alias/all", h.all_aliases, name="get_aliases"),
    Route("POST", _API + "/add/alias", h.add_alias, name="add_alias", write=True),
    Route("POST", _API + "/delete/alias", h.delete_alias, name="delete_alias", write=True),
    Route("POST", _API + "/delete/domain", h.delete_domain, name="delete_domain", write=True),
)
