"""TEMPORARY stand-ins for SDK blocks not yet on main (SDK-PLAN.md names), in one spot.

Each name here is replaced by the real import from ``mailadmin.sdk`` / ``mailadmin.mock``
as soon as it lands; this module is then deleted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from xml.sax.saxutils import escape, quoteattr

from pydantic import BaseModel
from pydantic import ValidationError as _PydanticError

from mailadmin.contract import errors
from mailadmin.mock.state import MockState, SeedError
from mailadmin.wire.safexml import parse_xml

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from mailadmin.mock import MockRequest


class SoapVersion(enum.Enum):
    SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
    SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

    @property
    def namespace(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Node:
    ns: str
    name: str
    text: str | None = None
    children: tuple[Node, ...] = ()
    nil: bool = False
    attrs: tuple[tuple[str, str], ...] = ()


def _namespaces(root: Node) -> Iterable[str]:
    if root.ns:
        yield root.ns
    for kid in root.children:
        yield from _namespaces(kid)


def _write(item: Node, names: Mapping[str, str], out: list[str], decls: str = "") -> None:
    tag = f"{names[item.ns]}:{item.name}" if item.ns else item.name
    attrs = "".join(f" {k}={quoteattr(v)}" for k, v in item.attrs)
    out.append(f"<{tag}{decls}{attrs}>")
    if item.text is not None:
        out.append(escape(item.text))
    for kid in item.children:
        _write(kid, names, out)
    out.append(f"</{tag}>")


def envelope(
    body: Node | Sequence[Node] | None,
    *,
    header: Node | Sequence[Node] | None = None,
    version: SoapVersion = SoapVersion.SOAP11,
    env_prefix: str = "soapenv",
) -> bytes:
    bodies = (body,) if isinstance(body, Node) else tuple(body or ())
    headers = (header,) if isinstance(header, Node) else tuple(header or ())
    used = list(dict.fromkeys(ns for item in (*headers, *bodies) for ns in _namespaces(item)))
    names = {ns: f"ns{i + 1}" for i, ns in enumerate(used)}
    decls = [f"xmlns:{env_prefix}={quoteattr(version.namespace)}"]
    decls += [f"xmlns:{names[ns]}={quoteattr(ns)}" for ns in used]
    out = [f"<{env_prefix}:Envelope {' '.join(decls)}>"]
    if header is not None:
        out.append(f"<{env_prefix}:Header>")
        for item in headers:
            _write(item, names, out)
        out.append(f"</{env_prefix}:Header>")
    out.append(f"<{env_prefix}:Body>")
    for item in bodies:
        _write(item, names, out)
    out.append(f"</{env_prefix}:Body></{env_prefix}:Envelope>")
    return "".join(out).encode()


def fault_envelope(
    version: SoapVersion, code: str, message: str, *, detail: Node | None = None
) -> bytes:
    p = "soap"
    detail_xml: list[str] = []
    if detail is not None:
        used = list(dict.fromkeys(_namespaces(detail)))
        names = {ns: f"ns{i + 1}" for i, ns in enumerate(used)}
        _write(
            detail, names, detail_xml, "".join(f" xmlns:{names[n]}={quoteattr(n)}" for n in used)
        )
    if version is SoapVersion.SOAP11:
        code = {"Sender": "Client", "Receiver": "Server"}.get(code, code)
        parts = [f"<faultcode>{p}:{code}</faultcode><faultstring>{escape(message)}</faultstring>"]
        if detail is not None:
            parts.append(f"<detail>{''.join(detail_xml)}</detail>")
    else:
        parts = [
            f"<{p}:Code><{p}:Value>{p}:{code}</{p}:Value></{p}:Code>"
            f'<{p}:Reason><{p}:Text xml:lang="en">{escape(message)}</{p}:Text></{p}:Reason>'
        ]
        if detail is not None:
            parts.append(f"<{p}:Detail>{''.join(detail_xml)}</{p}:Detail>")
    return (
        f"<{p}:Envelope xmlns:{p}={quoteattr(version.namespace)}><{p}:Body><{p}:Fault>"
        f"{''.join(parts)}</{p}:Fault></{p}:Body></{p}:Envelope>"
    ).encode()


class EnvelopeError(errors.ProtocolError):
    pass


@dataclass(frozen=True, slots=True)
class SoapMessage:
    version: SoapVersion
    header: Element | None
    body: Element | None


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def read_soap(request: MockRequest) -> SoapMessage:
    try:
        root = parse_xml(request.body, source="the client")
    except errors.ProtocolError as exc:
        raise EnvelopeError(exc.message) from None
    if local_name(root.tag) != "Envelope":
        raise EnvelopeError("not a SOAP envelope")
    ns = namespace_of(root.tag)
    version = next((v for v in SoapVersion if v.namespace == ns), None)
    if version is None:
        raise EnvelopeError("unsupported SOAP version")
    header = body = None
    for item in root:
        if item.tag == f"{{{ns}}}Header":
            header = item
        elif item.tag == f"{{{ns}}}Body":
            body = item
    if body is None:
        raise EnvelopeError("no body")
    return SoapMessage(version, header, next(iter(body), None))


M = TypeVar("M", bound=BaseModel)


class ModelState(MockState, Generic[M]):
    model: ClassVar[type[BaseModel]]
    data: M

    def defaults(self) -> M:
        return self.model()  # type: ignore[return-value]

    def reset(self) -> None:
        super().reset()
        self.data = self.defaults()

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), **self.data.model_dump(mode="json")}

    def load_seed(self, data: Mapping[str, Any]) -> None:
        data = {k: v for k, v in data.items() if k != "operations"}
        try:
            merged = {**self.data.model_dump(), **data}
            self.data = self.model.model_validate(merged)  # type: ignore[assignment]
        except _PydanticError as exc:
            raise SeedError(str(exc)) from None


# -- wire.auth (sdk-auth): landed -------------------------------------------------------

from collections.abc import Awaitable, Callable  # noqa: E402

import httpx  # noqa: E402

from mailadmin.contract.models import ChangeResult, Outcome  # noqa: E402
from mailadmin.wire.dryrun import dry_run_active  # noqa: E402
from mailadmin.wire.responses import raise_for_status  # noqa: E402

# -- wire.jsonapi (sdk-contract) ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ErrorRule:
    error: type[errors.MailadminError]
    message: str
    status: int | None = None
    code: str | None = None


class ErrorTable:
    def __init__(
        self, rules: Iterable[ErrorRule] = (), *, code: Callable[[Any], str | None]
    ) -> None:
        self.rules = tuple(rules)
        self.read_code = code

    def raise_for(
        self, response: httpx.Response, *, provider: str, subject: str, redactor: Any
    ) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        code = self.read_code(body)
        matching = [
            r
            for r in self.rules
            if (r.status is None or r.status == response.status_code)
            and (r.code is None or r.code == code)
        ]
        best = [r for r in matching if r.code is not None] or matching
        if not best:
            raise_for_status(response, provider=provider, redactor=redactor)
            return
        debug = {
            "code": code,
            "status": response.status_code,
            "body": redactor.redact(response.text[:2000]),
        }
        raise best[0].error(
            best[0].message.format(provider=provider, subject=subject or "the request"), debug=debug
        )


class JsonClient:
    def __init__(self, transport: Any, *, name: str, errors: ErrorTable, auth: Any = None) -> None:
        self.transport = transport
        self.name = name
        self.errors = errors
        self.auth = auth

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = None,
        operation: str = "",
        subject: str = "",
    ) -> Any:
        response = await self.transport.request(
            "POST",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            operation=operation,
            auth=self.auth,
        )
        if response.status_code >= 400:
            self.errors.raise_for(
                response, provider=self.name, subject=subject, redactor=self.transport
            )
        try:
            return response.json()
        except ValueError:
            raise errors.ProtocolError(
                f"{self.name} sent an answer that could not be read"
            ) from None


# -- contract.change (sdk-contract) ------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Change(Generic[T]):
    subject: str
    before: T | None
    after: T | None
    apply: Callable[[], Awaitable[Any]]
    note: str = ""
    same: bool | None = None


async def apply_change(operation: str, change: Change[T]) -> ChangeResult[T]:
    dry = dry_run_active()
    same = change.same if change.same is not None else change.before == change.after
    if same:
        outcome = Outcome.UNCHANGED
    elif dry:
        outcome = Outcome.CHANGED
    else:
        await change.apply()
        outcome = Outcome.CHANGED
    return ChangeResult(
        operation=operation,
        subject=change.subject,
        outcome=outcome,
        before=change.before,
        after=change.after,
        dry_run=dry,
    )
