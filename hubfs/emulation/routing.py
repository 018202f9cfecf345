"""Route table of the emulator kit: which handler answers which method and path.

A `Router` holds `Route`s, each a set of methods, a regex full-matched against the decoded
path, a handler, and a *public* flag that exempts it from the server's auth hook. The first
route whose pattern and method match wins; when only the pattern matches, the router
reports the allowed methods so the server can answer 405 with an Allow header. HEAD is
served by any GET route.
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


class Router:
    """Method + regex path table. Patterns are full-matched against the decoded path;
    named groups land in `request.match`. The first matching route wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str | Iterable[str], pattern: str, handler: Callable[[Request], Response],
            *, public: bool = False, name: str = "") -> None:
        if isinstance(methods, str):
            methods = [methods]
        self.routes.append(Route(frozenset(m.upper() for m in methods), re.compile(pattern),
                                 handler, public, name or getattr(handler, "__name__", "")))

    def route(self, methods: str | Iterable[str], pattern: str, **kw):
        """Decorator form of `add`."""
        def register(handler):
            self.add(methods, pattern, handler, **kw)
            return handler
        return register

    def resolve(self, method: str, path: str) -> tuple[Optional[Route], Optional[re.Match], set]:
        """(route, match, allowed methods); route is None when nothing matched the method."""
        allowed: set = set()
        for route in self.routes:
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            if method in route.methods or (method == "HEAD" and "GET" in route.methods):
                return route, m, allowed
            allowed |= route.methods
        return None, None, allowed
