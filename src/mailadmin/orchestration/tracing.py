"""OpenTelemetry traces, off unless configured (``[telemetry] traces``).

One trace follows a request: the HTTP API's span, the run it started (in the API process
or, its context carried in each job, on a worker) and each platform request. With tracing
off, :func:`span` is a no-op and nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

    from mailadmin.orchestration.config import TelemetryConfig

__all__ = ["carrier", "configure", "enabled", "install", "span", "uninstall"]

_TRACER: Tracer | None = None
_OBSERVER: Any = None


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _TRACER is not None


def configure(settings: TelemetryConfig) -> TracerProvider | None:
    """Set tracing up as ``settings`` say (nothing when ``traces = "off"``)."""
    if settings.traces == "off":
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    except ImportError:
        from mailadmin.contract import errors

        raise errors.ConfigurationError(
            "Tracing needs OpenTelemetry: pip install 'mailadmin[tracing]'"
        ) from None
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    exporter: SpanExporter
    if settings.traces == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter()
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
                OTLPSpanExporter,
            )
        except ImportError:
            from mailadmin.contract import errors

            raise errors.ConfigurationError(
                'traces = "otlp" needs the exporter: '
                "pip install opentelemetry-exporter-otlp-proto-http"
            ) from None
        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    return provider


def install(provider: TracerProvider) -> None:
    """Record spans with ``provider`` (tests pass one with an in-memory exporter), the
    platform requests of every transport included."""
    global _TRACER, _OBSERVER
    from mailadmin.wire.observe import add_observer

    uninstall()
    _TRACER = provider.get_tracer("mailadmin")
    _OBSERVER = _PlatformSpans(_TRACER)
    add_observer(_OBSERVER)


def uninstall() -> None:
    """Stop recording spans."""
    global _TRACER, _OBSERVER
    from mailadmin.wire.observe import remove_observer

    if _OBSERVER is not None:
        remove_observer(_OBSERVER)
    _TRACER = _OBSERVER = None


def span(
    name: str,
    attributes: Mapping[str, Any] | None = None,
    *,
    parent: Mapping[str, str] | None = None,
    kind: str = "internal",
) -> AbstractContextManager[Any]:
    """A span around a block, current inside it (a no-op while tracing is off).
    ``attributes``: str, int, float or bool values (others as text); ``parent``: a
    carrier (:func:`carrier`) from another process."""
    if _TRACER is None:
        return nullcontext()
    return _span(_TRACER, name, parent, kind, dict(attributes or {}))


@contextmanager
def _span(
    tracer: Tracer,
    name: str,
    parent: Mapping[str, str] | None,
    kind: str,
    attributes: dict[str, Any],
) -> Iterator[Any]:
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    context = extract(dict(parent)) if parent else None
    span_kind = {"server": trace.SpanKind.SERVER, "client": trace.SpanKind.CLIENT}.get(
        kind, trace.SpanKind.INTERNAL
    )
    with tracer.start_as_current_span(
        name, context=context, kind=span_kind, attributes=_plain(attributes)
    ) as current:
        yield current


def carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (``traceparent``), to carry into a job;
    ``None`` while tracing is off."""
    if _TRACER is None:
        return None
    from opentelemetry.propagate import inject

    found: dict[str, str] = {}
    inject(found)
    return found or None


def _plain(attributes: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool) else str(v) for k, v in attributes.items()
    }


class _PlatformSpans:
    """A client span per platform call, a child of whatever span is current."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def started(self, instance: str, operation: str, method: str) -> object:
        from opentelemetry import trace

        return self._tracer.start_span(
            f"platform {operation or method}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                "mailadmin.instance": instance,
                "mailadmin.operation": operation,
                "http.request.method": method,
            },
        )

    def attempted(self, instance: str, operation: str, status: int | None) -> None:
        return None

    def ended(
        self,
        token: object,
        instance: str,
        operation: str,
        outcome: str,
        status: int | None,
        seconds: float,
        attempts: int,
    ) -> None:
        from opentelemetry.trace import Span, StatusCode

        assert isinstance(token, Span)
        if status is not None:
            token.set_attribute("http.response.status_code", status)
        token.set_attribute("mailadmin.attempts", attempts)
        token.set_attribute("mailadmin.outcome", outcome)
        if outcome in ("server_error", "unavailable"):
            token.set_status(StatusCode.ERROR)
        token.end()
