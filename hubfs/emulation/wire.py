"""Incoming side of the emulator kit: what a handler learns about one HTTP request.

Holds the ordered multi-valued `MultiDict` used for query strings and forms, the small
parsers every emulator needs (query strings, `Authorization: Basic` credentials, whether an
Accept-Encoding header allows gzip) and the `Request` dataclass handed to route handlers.
Nothing here touches sockets; the server's handler builds a `Request` from the wire and
passes it on. (Named `wire` rather than `requests` or `http` so it never shadows those
well-known imports.)
"""

from __future__ import annotations

import json
import re
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional
from urllib.parse import parse_qsl


class MultiDict:
    """Ordered multi-valued mapping (query strings, forms): `get` gives the first value,
    `getlist` every value in order; repeated keys are never collapsed."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        self._pairs = list(pairs)

    def get(self, name: str, default: Any = None) -> Any:
        for key, value in self._pairs:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def __getitem__(self, name: str) -> str:
        for key, value in self._pairs:
            if key == name:
                return value
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self._pairs)

    def __iter__(self) -> Iterator[str]:
        seen = set()
        for key, _ in self._pairs:
            if key not in seen:
                seen.add(key)
                yield key

    def __len__(self) -> int:
        return len(set(key for key, _ in self._pairs))

    def items(self, multi: bool = False) -> list[tuple[str, str]]:
        if multi:
            return list(self._pairs)
        return [(key, self[key]) for key in self]

    def to_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self._pairs:
            out.setdefault(key, []).append(value)
        return out

    def __repr__(self) -> str:
        return f"MultiDict({self._pairs!r})"


def parse_query(raw: str) -> MultiDict:
    """Parse a query string or form body, keeping blank values and repeated keys."""
    return MultiDict(parse_qsl(raw, keep_blank_values=True))


def parse_basic_auth(header: Optional[str]) -> Optional[tuple[str, str]]:
    """Return (user, password) from an `Authorization: Basic` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def accepts_gzip(header: Optional[str]) -> bool:
    """True when an Accept-Encoding header value allows gzip (a q=0 refuses it)."""
    if not header:
        return False
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        token = token.strip().lower()
        if token not in ("gzip", "x-gzip", "*"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


@dataclass
class Request:
    """One parsed HTTP request as handlers see it.

    *path* is percent-decoded (routes match against it), *raw_path* is as sent; *query* is a
    `MultiDict`; *headers* is case-insensitive; *body* is already decoded according to the
    request's `content-encoding` (gzip, deflate or identity); *auth* holds Basic credentials;
    *match* holds the named groups of the route pattern; *host_match* is the `re.Match` of
    the route's host pattern against the Host header (None for routes without one);
    *server* is the serving `EmulatorServer`.
    """

    method: str
    path: str
    raw_path: str
    raw_query: str
    query: MultiDict
    headers: Any
    body: bytes = b""
    auth: Optional[tuple[str, str]] = None
    match: dict[str, str] = field(default_factory=dict)
    host_match: Optional[re.Match] = None
    client: tuple = ()
    server: Any = None  # the EmulatorServer, for handlers that need its body cache

    @property
    def accepts_gzip(self) -> bool:
        return accepts_gzip(self.headers.get("Accept-Encoding"))

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name, default)

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body as one JSON value; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))

    def jsonlines(self) -> list[Any]:
        """The body as JSON lines (blank lines ignored); raises ValueError on a bad line."""
        return [json.loads(line) for line in self.body.decode("utf-8").splitlines() if line.strip()]

    def form(self) -> MultiDict:
        """The body as an application/x-www-form-urlencoded multi-dict."""
        return parse_query(self.body.decode("utf-8"))
