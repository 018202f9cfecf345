"""Route table of the emulator kit: which handler answers which method and path.

A `Router` holds `Route`s, each a set of methods, a regex full-matched against the decoded
path, a handler, and a *public* flag that exempts it from the server's auth hook. The first
route whose pattern and method match wins; when only the pattern matches, the router
reports the allowed methods so the server can answer 405 with an Allow header. HEAD is
served by any GET route. A route may also name a *host*: a regex full-matched against the
request's Host header without its port (services such as SLS put the project in the host
name); its named groups reach the handler as `request.host_match`. Routes without a host
match any host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from .responses import Response
from .wire import Request


@dataclass
class Route:
    methods: frozenset
    pattern: re.Pattern
    handler: Callable[[Request], Response]
    public: bool = False
    name: str = ""
    host: Optional[re.Pattern] = None


class Router:
    """Method + regex path table. Patterns are full-matched against the decoded path;
    named groups land in `request.match`. The first matching route wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str | Iterable[str], pattern: str, handler: Callable[[Request], Response],
            *, host: Optional[str] = None, public: bool = False, name: str = "") -> None:
        if isinstance(methods, str):
            methods = [methods]
        self.routes.append(Route(frozenset(m.upper() for m in methods), re.compile(pattern),
                                 handler, public, name or getattr(handler, "__name__", ""),
                                 re.compile(host) if host is not None else None))

    def route(self, methods: str | Iterable[str], pattern: str, **kw):
        """Decorator form of `add`."""
        def register(handler):
            self.add(methods, pattern, handler, **kw)
            return handler
        return register

    def resolve(self, method: str, path: str, host: Optional[str] = None
                ) -> tuple[Optional[Route], Optional[re.Match], set]:
        """(route, match, allowed methods); route is None when nothing matched the method.

        *host* is the Host header without its port; routes with a host pattern match only
        when it full-matches (a missing Host matches none of them). Use `resolve_host` to
        also get that host match.
        """
        route, match, _host_match, allowed = self.resolve_host(method, path, host)
        return route, match, allowed

    def resolve_host(self, method: str, path: str, host: Optional[str] = None
                     ) -> tuple[Optional[Route], Optional[re.Match], Optional[re.Match], set]:
        """(route, path match, host match, allowed methods), as `resolve`."""
        allowed: set = set()
        for route in self.routes:
            host_match = None
            if route.host is not None:
                host_match = route.host.fullmatch(host) if host is not None else None
                if host_match is None:
                    continue
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            if method in route.methods or (method == "HEAD" and "GET" in route.methods):
                return route, m, host_match, allowed
            allowed |= route.methods
        return None, None, None, allowed


def host_without_port(header: Optional[str]) -> Optional[str]:
    """The host name of a Host header value: `[::1]:80` gives `::1`, `a.b:8080` gives
    `a.b`; None when there is no header."""
    if header is None:
        return None
    value = header.strip()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end != -1 else value
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value
