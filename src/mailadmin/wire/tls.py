"""A verifying TLS context that loads its trusted certificates on its first TLS connection.

Loading the CA bundle costs about 20-25 ms of CPU. A CLI command against an ``http://``
endpoint (a mock, a platform behind a local proxy) never opens a TLS connection, yet paid
it on every start. The context here verifies exactly as ``httpx.create_ssl_context()``
does (certifi's bundle, or ``$SSL_CERT_FILE`` / ``$SSL_CERT_DIR``; certificates and host
names required) but reads the bundle only when a connection is first wrapped, which both
asyncio (aiohttp) and anyio (httpx) do through :meth:`wrap_bio`. Were the load skipped,
the context would trust nothing and refuse every server: it fails closed.
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Any

__all__ = ["DeferredTrustContext"]


class DeferredTrustContext(ssl.SSLContext):
    """``ssl.SSLContext`` for clients, verifying, its CA bundle loaded on first use."""

    _lock = threading.Lock()
    _trusted: bool

    def __new__(cls) -> DeferredTrustContext:
        context = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        context.verify_mode = ssl.CERT_REQUIRED
        context.check_hostname = True
        context._trusted = False
        return context

    def __init__(self) -> None:
        # ssl.SSLContext takes its protocol in __new__; nothing is left to set here.
        pass

    def trust(self) -> None:
        """Load the CA bundle now (once)."""
        if self._trusted:
            return
        with self._lock:
            if self._trusted:
                return
            if os.environ.get("SSL_CERT_FILE"):
                self.load_verify_locations(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self.load_verify_locations(cafile=certifi.where())
            self._trusted = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.trust()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.trust()
        return super().wrap_socket(*args, **kwargs)
