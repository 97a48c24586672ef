"""Parse XML from a platform without trusting it.

Every XML answer (SOAP envelopes, faults, licence files) goes through :func:`parse_xml`,
which refuses document type declarations, entity definitions ("billion laughs") and
external references (XXE), and turns malformed input into a user-safe
:class:`~mailadmin.contract.errors.ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mailadmin.contract import errors
from mailadmin.wire.redaction import redact_fields

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

__all__ = ["parse_xml"]

_EXCERPT = 500


def parse_xml(
    content: bytes | str,
    *,
    source: str = "the platform",
    redact: Callable[[str], str] = redact_fields,
) -> Element:
    """Parse ``content`` into an element tree, refusing hostile or malformed XML.

    ``source`` names the sender in the error message (an instance name such as
    ``"zextras-eu"``); ``redact`` cleans the excerpt kept in the error's debug detail.
    Raises :class:`~mailadmin.contract.errors.ProtocolError`.
    """
    from importlib import import_module
    from xml.etree.ElementTree import Element, ParseError

    # Imported by name: defusedxml ships no type information, and this stays correct
    # whether or not stubs for it are installed.
    defusedxml = import_module("defusedxml")
    safe_tree = import_module("defusedxml.ElementTree")

    try:
        root = safe_tree.fromstring(
            content, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden as exc:
        reason, detail = "a document type declaration", exc
    except defusedxml.EntitiesForbidden as exc:
        reason, detail = "an entity declaration", exc
    except defusedxml.ExternalReferenceForbidden as exc:
        reason, detail = "an external reference", exc
    except defusedxml.DefusedXmlException as exc:
        reason, detail = "a forbidden construct", exc
    except ParseError as exc:
        raise errors.ProtocolError(
            f"{source} sent an answer that is not well-formed XML",
            debug={"reason": str(exc), "excerpt": _excerpt(content, redact)},
        ) from None
    else:
        if not isinstance(root, Element):  # pragma: no cover - defusedxml returns Elements
            raise TypeError("defusedxml returned an unexpected object")
        return root
    raise errors.ProtocolError(
        f"{source} sent XML containing {reason}, which is refused for safety",
        debug={"reason": str(detail), "excerpt": _excerpt(content, redact)},
    ) from None


def _excerpt(content: bytes | str, redact: Callable[[str], str]) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    # Redact the whole text, then cut: a secret cut in half is no longer recognised.
    return redact(text)[:_EXCERPT]
