"""Parse XML from a platform without trusting it.

Every XML answer (SOAP envelopes, faults, licence files) goes through :func:`parse_xml`,
which refuses document type declarations, entity definitions ("billion laughs"),
external references (XXE) and nesting deeper than ``max_depth``, and turns malformed
input into a user-safe :class:`~mailadmin.errors.ProtocolError`.
:class:`XmlStream` does the same for a document fed a piece at a time as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from mailadmin import errors
from mailadmin.wire.limits import MAX_XML_DEPTH
from mailadmin.wire.redaction import redact_fields

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element, TreeBuilder

__all__ = ["XmlStream", "parse_xml"]

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
    Raises :class:`~mailadmin.errors.ProtocolError`.
    """
    stream = XmlStream(source=source, redact=redact, max_depth=max_depth)
    stream.feed(content)
    return stream.close()


class XmlStream:
    """An XML document parsed a piece at a time as it arrives, with :func:`parse_xml`'s
    refusals (no DTD, no entity declarations, no external references, ``max_depth``) and
    the same user-safe errors, raised from the :meth:`feed` that meets the problem.

    ``detach(element, parents)`` is called as each element ends, ``parents`` being its
    open ancestors (root first); when it returns true the element is removed from its
    parent, so a long list can be consumed an item at a time (hand the element on from
    ``detach``) without the tree ever holding more than one item.
    """

    def __init__(
        self,
        *,
        source: str = "the platform",
        redact: Callable[[str], str] = redact_fields,
        max_depth: int = MAX_XML_DEPTH,
        detach: Callable[[Element, list[Element]], bool] | None = None,
    ) -> None:
        self.source = source
        self.max_depth = max_depth
        self._redact = redact
        self._parser = _safe_parser(_depth_limited(max_depth, detach))
        self._last: bytes | str = b""  # the piece an error's excerpt shows

    def feed(self, data: bytes | str) -> None:
        """Parse the next piece of the document."""
        self._last = data
        with self._refusing():
            self._parser.feed(data)

    def close(self) -> Element:
        """End the document and return its root (without the detached elements)."""
        from xml.etree.ElementTree import Element

        with self._refusing():
            root = self._parser.close()
        if not isinstance(root, Element):  # pragma: no cover - defusedxml returns Elements
            raise TypeError("defusedxml returned an unexpected object")
        return root

    @contextmanager
    def _refusing(self) -> Iterator[None]:
        """Turn what the parser refuses into the user-safe error (others pass)."""
        try:
            yield
        except Exception as exc:
            refusal = _refusal(exc, self.source, self.max_depth, self._last, self._redact)
            if refusal is None:
                raise
            raise refusal from None


def _safe_parser(target: TreeBuilder) -> Any:
    """defusedxml's parser with every refusal on, building into ``target``."""
    from importlib import import_module

    # Imported by name: defusedxml ships no type information, and this stays correct
    # whether or not stubs for it are installed.
    safe_tree = import_module("defusedxml.ElementTree")
    return safe_tree.DefusedXMLParser(
        target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )


def _refusal(
    exc: Exception,
    source: str,
    max_depth: int,
    content: bytes | str,
    redact: Callable[[str], str],
) -> errors.ProtocolError | None:
    """The user-safe error for what the parser refused (``None``: not a refusal);
    ``content`` is what was being parsed, for the excerpt in the debug detail."""
    from importlib import import_module
    from xml.etree.ElementTree import ParseError

    defusedxml = import_module("defusedxml")
    if isinstance(exc, _TooDeep):
        return errors.ProtocolError(
            f"{source} sent XML nested deeper than {max_depth} levels, which is refused",
            debug={"reason": f"nesting deeper than {max_depth}", "max_depth": max_depth},
        )
    if isinstance(exc, ParseError):
        return errors.ProtocolError(
            f"{source} sent an answer that is not well-formed XML",
            debug={"reason": str(exc), "excerpt": _excerpt(content, redact)},
        )
    if isinstance(exc, defusedxml.DTDForbidden):
        reason = "a document type declaration"
    elif isinstance(exc, defusedxml.EntitiesForbidden):
        reason = "an entity declaration"
    elif isinstance(exc, defusedxml.ExternalReferenceForbidden):
        reason = "an external reference"
    elif isinstance(exc, defusedxml.DefusedXmlException):
        reason = "a forbidden construct"
    else:
        return None
    return errors.ProtocolError(
        f"{source} sent XML containing {reason}, which is refused for safety",
        debug={"reason": str(exc), "excerpt": _excerpt(content, redact)},
    )


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


@cache
def _detaching_builder() -> type[TreeBuilder]:
    from xml.etree.ElementTree import TreeBuilder

    class Detaching(TreeBuilder):
        # Keeps the open elements (the depth is their number) for the detach callback.
        def __init__(
            self, max_depth: int, detach: Callable[[Element, list[Element]], bool]
        ) -> None:
            super().__init__()
            self._open: list[Element] = []
            self._max = max_depth
            self._detach = detach

        def start(self, tag: str, attrs: dict[str, str]) -> Element:
            if len(self._open) >= self._max:
                raise _TooDeep
            element = super().start(tag, attrs)
            self._open.append(element)
            return element

        def end(self, tag: str) -> Element:
            element = super().end(tag)
            opened = self._open
            opened.pop()
            if opened and self._detach(element, opened):
                parent = opened[-1]
                if len(parent) and parent[-1] is element:
                    del parent[-1]
            return element

    return Detaching


def _depth_limited(
    max_depth: int, detach: Callable[[Element, list[Element]], bool] | None = None
) -> TreeBuilder:
    builder: Any  # typeshed knows only TreeBuilder's signature
    if detach is None:
        builder = _depth_limited_builder()
        return cast("TreeBuilder", builder(max_depth))
    builder = _detaching_builder()
    return cast("TreeBuilder", builder(max_depth, detach))


def _excerpt(content: bytes | str, redact: Callable[[str], str]) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    # Redact the whole text, then cut: a secret cut in half is no longer recognised.
    return redact(text)[:_EXCERPT]
