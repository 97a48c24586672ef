"""Parse XML from a platform without trusting it.

Every XML answer (SOAP envelopes, faults, licence files) goes through :func:`parse_xml`,
which refuses document type declarations, entity definitions ("billion laughs"),
external references (XXE) and nesting deeper than ``max_depth``, and turns malformed
input into a user-safe :class:`~mailadmin.contract.errors.ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from mailadmin.contract import errors
from mailadmin.wire.limits import MAX_XML_DEPTH
from mailadmin.wire.redaction import redact_fields

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element, TreeBuilder

__all__ = ["parse_xml"]

_EXCERPT = 500


def parse_xml(
    content: bytes | str,
    *,
    source: str = "the platform",
    redact: Callable[[str], str] = redact_fields,
    max_depth: int = MAX_XML_DEPTH,
) -> Element:
    """Parse ``content`` into an element tree, refusing hostile or malformed XML.

    ``source`` names the sender in the error message (an instance name such as
    ``"zextras-eu"``); ``redact`` cleans the excerpt kept in the error's debug detail;
    ``max_depth``: the deepest element nesting accepted (parsing stops there).
    Raises :class:`~mailadmin.contract.errors.ProtocolError`.
    """
    from importlib import import_module
    from xml.etree.ElementTree import Element, ParseError

    # Imported by name: defusedxml ships no type information, and this stays correct
    # whether or not stubs for it are installed.
    defusedxml = import_module("defusedxml")
    safe_tree = import_module("defusedxml.ElementTree")

    try:
        parser = safe_tree.DefusedXMLParser(
            target=_depth_limited(max_depth),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        parser.feed(content)
        root = parser.close()
    except _TooDeep:
        raise errors.ProtocolError(
            f"{source} sent XML nested deeper than {max_depth} levels, which is refused",
            debug={"reason": f"nesting deeper than {max_depth}", "max_depth": max_depth},
        ) from None
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


class _TooDeep(Exception):
    """Raised from inside the parser to stop it at the depth limit."""


@cache
def _depth_limited_builder() -> type[TreeBuilder]:
    from xml.etree.ElementTree import TreeBuilder

    class DepthLimited(TreeBuilder):
        # Counting in the target stops expat at the first element too deep, so a
        # million-deep document costs max_depth elements, not a million.
        def __init__(self, max_depth: int) -> None:
            super().__init__()
            self._depth = 0
            self._max = max_depth

        def start(self, tag: str, attrs: dict[str, str]) -> Element:
            self._depth += 1
            if self._depth > self._max:
                raise _TooDeep
            return super().start(tag, attrs)

        def end(self, tag: str) -> Element:
            self._depth -= 1
            return super().end(tag)

    return DepthLimited


def _depth_limited(max_depth: int) -> TreeBuilder:
    builder: Any = _depth_limited_builder()  # typeshed knows only TreeBuilder's signature
    return cast("TreeBuilder", builder(max_depth))


def _excerpt(content: bytes | str, redact: Callable[[str], str]) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    # Redact the whole text, then cut: a secret cut in half is no longer recognised.
    return redact(text)[:_EXCERPT]
