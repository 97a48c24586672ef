"""mailadmin.mock: the toolkit every plugin builds its platform's mock server with.

A mock is state, wire and routes (the layout of moto): a :class:`MockState` subclass
holds the platform's data and rules with no HTTP in it; handlers parse the real wire
format, call the state and write the real wire format; :class:`Route` declarations say
which handler answers which address. A :class:`MockPlatform` subclass ties them together
and a :class:`MockServer` runs one, with its own state, behind two front doors:

- in process: ``server.transport()`` (an httpx transport) or ``server.router(base_url)``
  (a respx router whose routes are named after the platform's routes);
- standalone: ``serve(server)`` (loopback, background thread) or ``serve_forever(...)``
  (what ``mailadmin mock serve`` runs), with the control API under ``/_mock/``.

Every request is recorded (:class:`RecordedRequest`); faults (:class:`Fault`) are
injected per operation and per call; asynchronous operations progress immediately, after
N polls or after T seconds (:class:`Progression`, :class:`ManualClock`).
:class:`ModelState` is the state to start from: its data is one pydantic model, so
``snapshot()``, seeds (validated, :class:`SeedError` naming the field) and ``reset()``
come for free.

Wire helpers for a platform's handlers, imported from their modules (loaded on use):

- :mod:`mailadmin.mock.soap`: read a SOAP 1.1 or 1.2 request (``read_soap``,
  ``soap_operation``, ``request_version``) and answer in the request's version
  (``soap_response``, ``soap_fault_response`` with the version's fault shape, HTTP 500);
- :mod:`mailadmin.mock.odata`: page a list the OData way (``page``: ``Prefer:
  odata.maxpagesize``, ``$skiptoken`` and ``@odata.nextLink``);
- :mod:`mailadmin.mock.oauth`: an OAuth2 client-credentials token endpoint
  (``TokenIssuer``, ``token_route``) whose tokens expire on the mock's clock, and the
  bearer check for the platform's own routes (``TokenIssuer.check``).
"""

from __future__ import annotations

from mailadmin.mock.clock import Clock, ManualClock, SystemClock
from mailadmin.mock.faults import Fault, FaultKind, InjectedFault
from mailadmin.mock.lookup import load_platform
from mailadmin.mock.operations import (
    AsyncOperation,
    OperationFailed,
    Operations,
    OperationState,
    Progression,
)
from mailadmin.mock.platform import MockPlatform, Reply
from mailadmin.mock.recording import RecordedRequest
from mailadmin.mock.request import MalformedRequest, MockRequest
from mailadmin.mock.router import MockRouter
from mailadmin.mock.routes import Handler, Route
from mailadmin.mock.serve import serve, serve_forever
from mailadmin.mock.server import MockServer, MockTransport
from mailadmin.mock.state import MockState, ModelState, SeedError, read_seed

__all__ = [
    "AsyncOperation",
    "Clock",
    "Fault",
    "FaultKind",
    "Handler",
    "InjectedFault",
    "MalformedRequest",
    "ManualClock",
    "MockPlatform",
    "MockRequest",
    "MockRouter",
    "MockServer",
    "MockState",
    "MockTransport",
    "ModelState",
    "OperationFailed",
    "OperationState",
    "Operations",
    "Progression",
    "RecordedRequest",
    "Reply",
    "Route",
    "SeedError",
    "SystemClock",
    "load_platform",
    "read_seed",
    "serve",
    "serve_forever",
]
