"""The emulator server: a threaded loopback HTTP/1.1 server for one emulated service.

`EmulatorServer` binds to a loopback address only (its control paths are unauthenticated),
owns what all handler threads share (the router, the auth hook chosen by the emulator, the
fault injector, the request log, the body cache and a free `state` slot for the service's
own data), tracks open connections so stopping also ends idle keep-alive ones, and
dispatches each `Request`: route, authenticate, run the handler, turning `HTTPError`s and
handler bugs into answers so that it never raises.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Callable, Optional

from .bodies import DEFAULT_CACHE_BYTES, BodyCache
from .faults import FaultInjector
from .handler import _Handler
from .requestlog import DEFAULT_LOG_LIMIT, RequestLog
from .responses import HTTPError, Response, text_response
from .routing import Router, host_without_port
from .wire import Request

# The whole kit logs as one "hubfs.emulation" logger, so log lines and any level set on
# it stay as they were before the kit was split into modules.
log = logging.getLogger(__package__)

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")

AuthHook = Callable[[Request], Optional[Response]]


class EmulatorServer(ThreadingHTTPServer):
    """A threaded loopback HTTP/1.1 server for one emulated service.

    *router* maps requests to handlers; *auth* (optional) is called for every non-public
    route and returns None to accept or a Response to refuse with; *not_found* builds the
    answer for unrouted paths. `faults`, `requests` (the log) and `body_cache` are shared by
    all handler threads. `state` is free for the emulator to hang its service state on, so
    tests can read seeded contents without HTTP.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, router: Router, *, host: str = "127.0.0.1", port: int = 0,
                 auth: Optional[AuthHook] = None, name: str = "emulator",
                 not_found: Optional[Callable[[Request], Response]] = None,
                 gzip_level: int = 1, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 log_limit: int = DEFAULT_LOG_LIMIT):
        if host not in LOOPBACK_HOSTS:
            # The control paths are unauthenticated: never expose them beyond this machine.
            raise ValueError(f"emulators listen on loopback only, not {host!r}")
        if host == "::1":
            self.address_family = socket.AF_INET6
        self.router = router
        self.auth = auth
        self.name = name
        self.not_found = not_found or (lambda request: text_response("Not Found\n", 404))
        self.gzip_level = gzip_level
        self.faults = FaultInjector()
        self.requests = RequestLog(log_limit)
        self.body_cache = BodyCache(cache_bytes)
        self.state: Any = None
        self._connections: set = set()
        self._conn_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN of the host, a DNS lookup we never need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host = self.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    # -- connection tracking, so stop() also ends idle keep-alive connections

    def process_request(self, request, client_address):
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # socketserver prints every error to stderr; a client dropping its connection is
        # routine (pools close idle sockets, tests abandon streams), so that goes to debug.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            log.debug("%s: connection from %s dropped: %s", self.name, client_address, exc)
        else:
            log.exception("%s: error serving %s", self.name, client_address)

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- dispatch

    def handle(self, request: Request) -> Response:
        """Route, authenticate and run the handler; never raises."""
        host = host_without_port(request.headers.get("Host"))
        route, match, host_match, allowed = self.router.resolve_host(request.method, request.path, host)
        if route is None:
            if allowed:
                return text_response("Method Not Allowed\n", 405,
                                     headers={"Allow": ", ".join(sorted(allowed))})
            return self.not_found(request)
        request.match = match.groupdict()
        request.host_match = host_match
        try:
            if self.auth is not None and not route.public:
                refused = self.auth(request)
                if refused is not None:
                    return refused
            return route.handler(request)
        except HTTPError as exc:
            return exc.response
        except Exception:  # an emulator bug: answer 500 and make it loud in the test logs
            log.exception("%s: handler %s failed for %s %s", self.name, route.name,
                          request.method, request.path)
            return text_response("Internal Server Error\n", 500)
