"""Shared kit for the service emulators: a loopback HTTP/1.1 server with routing and fault injection.

Every backend ships a local stand-in of its service (see DESIGN.md, "Emulators"); this module
holds everything those stand-ins have in common and nothing service-specific: a threaded
HTTP/1.1 server bound to a loopback address (keep-alive, Content-Length or chunked bodies),
a method + regex route table, a `Request` with a multi-dict query, decoded body and parsed
Basic credentials, response helpers (JSON, JSON lines, msgpack, text, streamed chunks, gzip
when the client accepts it, cached pre-compressed body blocks for large read paths), an auth
hook chosen by each emulator, a bounded request log, and fault injection (error statuses with
headers such as Retry-After, delays, bodies cut mid-stream) driven either from Python
(`server.faults`) or over HTTP through the unauthenticated `/__emulator__/` control paths,
which exist because the server only ever listens on loopback and is a test tool. Run a server
with `start_in_thread()` (tests) or `serve_forever()` (CLI).
"""

from __future__ import annotations

import collections
import json
import logging
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import zlib
from base64 import b64decode
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/__emulator__/"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
DEFAULT_LOG_LIMIT = 100_000
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
DEFAULT_BLOCK_LEVEL = 1  # zlib level of cached blocks: speed over ratio
# Streamed bodies are written in frames of about this size: big enough that a 200 MB body
# costs a few thousand send() calls, small enough that the first bytes leave early.
STREAM_FRAME_BYTES = 256 * 1024
# Query parameters whose values never reach the debug log or the HTTP request log.
REDACTED_PARAMS = frozenset({
    "apikey", "api_key", "access_token", "token", "password", "secret",
    "signature", "x-amz-signature", "x-amz-credential", "awsaccesskeyid",
})

JSON_CT = "application/json"
JSONLINES_CT = "application/x-jsonlines; charset=UTF-8"
MSGPACK_CT = "application/x-msgpack; charset=UTF-8"
TEXT_CT = "text/plain; charset=UTF-8"


# ----------------------------------------------------------------------------- requests

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
    *match* holds the named groups of the route pattern; *server* is the serving
    `EmulatorServer`.
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


# ----------------------------------------------------------------------------- responses

@dataclass
class Response:
    """What a handler returns.

    *body* is bytes, or an iterable of chunks (bytes or `Block`) for a streamed body sent
    with chunked transfer encoding. *compress* says the service would gzip this response;
    the server does so only when the request's Accept-Encoding allows gzip.
    """

    status: int = 200
    body: Any = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    compress: bool = False

    def header(self, name: str) -> Optional[str]:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


class HTTPError(Exception):
    """Raise from a handler (or anything it calls) to answer with *response*."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def _with_type(headers: Optional[dict | list], content_type: Optional[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if content_type:
        out.append(("Content-Type", content_type))
    if headers:
        pairs = headers.items() if isinstance(headers, dict) else headers
        out.extend((str(k), str(v)) for k, v in pairs)
    return out


# One shared encoder: json.dumps() with options builds a new encoder on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps_compact(value: Any) -> bytes:
    """One compact JSON value as UTF-8 bytes (no spaces, non-ASCII kept as UTF-8)."""
    return _COMPACT(value).encode("utf-8")


def json_response(value: Any, status: int = 200, *, headers=None, compress: bool = False,
                  content_type: str = JSON_CT) -> Response:
    """A single compact JSON value followed by a newline."""
    return Response(status, dumps_compact(value) + b"\n", _with_type(headers, content_type), compress)


def coalesce(chunks: Iterable[bytes], size: int = STREAM_FRAME_BYTES) -> Iterator[bytes]:
    """Regroup many small byte strings into chunks of about *size* bytes."""
    buf: list[bytes] = []
    held = 0
    for chunk in chunks:
        if not chunk:
            continue
        buf.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(buf)
            buf, held = [], 0
    if buf:
        yield b"".join(buf)


def jsonlines_response(values: Iterable[Any], status: int = 200, *, headers=None,
                       compress: bool = False, content_type: str = JSONLINES_CT) -> Response:
    """JSON lines: one compact value per line, each ending in a newline, never a blank line.

    A list or tuple is encoded at once (Content-Length); any other iterable is streamed.
    """
    if isinstance(values, (list, tuple)):
        body: Any = b"".join(dumps_compact(v) + b"\n" for v in values)
    else:
        body = coalesce(dumps_compact(v) + b"\n" for v in values)
    return Response(status, body, _with_type(headers, content_type), compress)


def msgpack_response(values: Iterable[Any], status: int = 200, *, headers=None,
                     compress: bool = False, content_type: str = MSGPACK_CT) -> Response:
    """Concatenated msgpack values (no wrapping array); streamed unless a list or tuple."""
    import msgpack  # imported here: only emulators that speak msgpack need the package

    packb = msgpack.packb
    if isinstance(values, (list, tuple)):
        body: Any = b"".join(packb(v) for v in values)
    else:
        body = coalesce(packb(v) for v in values)
    return Response(status, body, _with_type(headers, content_type), compress)


def text_response(text: str | bytes, status: int = 200, *, headers=None, compress: bool = False,
                  content_type: Optional[str] = TEXT_CT) -> Response:
    """A plain text body (pass content_type=None to send no Content-Type at all)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return Response(status, data, _with_type(headers, content_type), compress)


def empty_response(status: int = 200, *, headers=None, content_type: Optional[str] = TEXT_CT) -> Response:
    """An empty body (Content-Length: 0)."""
    return Response(status, b"", _with_type(headers, content_type), False)


def stream_response(chunks: Iterable[Any], status: int = 200, *, headers=None,
                    compress: bool = False, content_type: Optional[str] = None) -> Response:
    """A body streamed from *chunks* (bytes or `Block`), sent with chunked transfer encoding."""
    return Response(status, iter(chunks), _with_type(headers, content_type), compress)


# ----------------------------------------------------------------------------- cached blocks

_CRC_POLY = 0xEDB88320  # CRC-32 (gzip) polynomial, bit-reversed


def _gf2_mul(a: int, b: int) -> int:
    """Multiply two polynomials modulo the CRC-32 polynomial (bit-reversed form, x^0 = 1<<31)."""
    mask = 1 << 31
    product = 0
    while a:
        if a & mask:
            product ^= b
            a ^= mask
        mask >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1
    return product


# _X_POW2N[k] = x^(2^k) mod P, so x^n is a product of table entries picked by n's bits.
_X_POW2N = [1 << 30]
for _ in range(63):
    _X_POW2N.append(_gf2_mul(_X_POW2N[-1], _X_POW2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B), without touching the data.

    Needed because cached blocks are stored compressed: a gzip trailer over several blocks
    must be computed from per-block CRCs (the stdlib `zlib` module does not expose zlib's
    own crc32_combine).
    """
    if len2 <= 0:
        return crc1
    # Appending len2 bytes multiplies crc1 by x^(8*len2); the pre/post conditioning of
    # CRC-32 cancels out between the two terms, so a plain XOR finishes the job.
    factor = 1 << 31
    bits, k = len2, 3
    while bits:
        if bits & 1:
            factor = _gf2_mul(_X_POW2N[k], factor)
        bits >>= 1
        k += 1
    return _gf2_mul(factor, crc1) ^ crc2


class BodyCache:
    """Byte-budgeted LRU of encoded body blocks, shared by every response of one server.

    Large read paths (a job of a million records) are cut into blocks; each block is encoded
    once and kept here as an independently deflated segment (sync-flushed, no
    back-references outside the block) with its CRC and length, which the gzip writer
    splices into a response without compressing again.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: "collections.OrderedDict[Any, tuple[Any, int]]" = collections.OrderedDict()
        self.size = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Any, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._entries[key] = (value, nbytes)
            self.size += nbytes
            while self.size > self.max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0

    def block(self, key: Any, produce: Callable[[], bytes]) -> "Block":
        """A body block whose bytes come from *produce()* once, then from the cache."""
        return Block(self, key, produce)


class Block:
    """A piece of a streamed body that knows its raw and its deflated form (see BodyCache).

    Only the deflated form is cached: it is 5-10 times smaller than the raw bytes, and
    inflating it again for a client that refuses gzip costs less than encoding the records
    anew. Two threads may encode the same block at once; the work is duplicated but the
    result is identical, which is cheaper than holding a lock while encoding.
    """

    __slots__ = ("cache", "key", "produce")

    def __init__(self, cache: BodyCache, key: Any, produce: Callable[[], bytes]):
        self.cache, self.key, self.produce = cache, key, produce

    def data(self) -> bytes:
        seg = self.cache.get((self.key, "deflate"))
        if seg is None:
            seg = self._deflate(self.produce(), DEFAULT_BLOCK_LEVEL)
        # A decompressor object, because a sync-flushed segment has no final block and
        # zlib.decompress() would call it truncated.
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(seg[0])

    def deflated(self, level: int) -> tuple[bytes, int, int]:
        """(raw deflate segment ending in a sync flush, crc32, uncompressed length)."""
        seg = self.cache.get((self.key, "deflate"))
        if seg is None:
            seg = self._deflate(self.produce(), level)
        return seg

    def _deflate(self, data: bytes, level: int) -> tuple[bytes, int, int]:
        comp = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        raw = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
        seg = (raw, zlib.crc32(data), len(data))
        self.cache.put((self.key, "deflate"), seg, len(raw))
        return seg


class _GzipWriter:
    """Produces one gzip member from a mix of raw chunks and pre-deflated blocks."""

    HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, mtime 0, OS unknown
    FINAL_BLOCK = b"\x03\x00"  # empty final fixed-Huffman block, valid after a sync flush

    def __init__(self, level: int):
        self.level = level
        self.crc = 0
        self.size = 0
        self._comp = None

    def feed(self, chunk: Any) -> bytes:
        if isinstance(chunk, Block):
            out = self._end_run()
            raw, crc, length = chunk.deflated(self.level)
            self.crc = crc32_combine(self.crc, crc, length)
            self.size += length
            return out + raw
        if not chunk:
            return b""
        if self._comp is None:
            # A fresh compressor per run of raw chunks: a block spliced in before it must
            # not be referenced by its back-references (the decoder's window differs).
            self._comp = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        return self._comp.compress(chunk)

    def _end_run(self) -> bytes:
        if self._comp is None:
            return b""
        out = self._comp.flush(zlib.Z_SYNC_FLUSH)
        self._comp = None
        return out

    def finish(self) -> bytes:
        return self._end_run() + self.FINAL_BLOCK + struct.pack("<II", self.crc, self.size & 0xFFFFFFFF)


def gzip_bytes(data: bytes, level: int = 1) -> bytes:
    """Gzip *data* in one go (used for bodies sent with Content-Length)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


# ----------------------------------------------------------------------------- routing

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


# ----------------------------------------------------------------------------- faults

_RULE_FIELDS = ("method", "path", "query", "skip", "times", "status", "body", "headers",
                "delay", "cut_after")


@dataclass
class FaultRule:
    """One injected fault. Matching: *method* (optional, exact), *path* (regex searched in the
    decoded path), *query* (optional regex searched in the raw query). The first *skip*
    matching requests pass untouched, the next *times* ones (-1 = forever) get the effect:
    *delay* seconds of sleep, then either an answer with *status* (+ *body*, *headers*)
    instead of the handler, or the handler's real answer with only the first *cut_after*
    body bytes sent before the connection is closed. A sized body announces its full
    Content-Length; a streamed one announces a full chunk and delivers part of it; with
    gzip the count is of compressed bytes. Either way the client sees a short read.
    """

    path: str = ""
    method: Optional[str] = None
    query: Optional[str] = None
    skip: int = 0
    times: int = 1
    status: Optional[int] = None
    body: Optional[str] = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    cut_after: Optional[int] = None
    seen: int = 0      # matching requests so far
    applied: int = 0   # requests that got the effect

    def __post_init__(self) -> None:
        self._path_re = re.compile(self.path or "")
        self._query_re = re.compile(self.query) if self.query is not None else None
        if self.method:
            self.method = self.method.upper()
        if self.status is None and self.cut_after is None and not self.delay:
            raise ValueError("fault rule needs an effect: status, delay or cut_after")
        if self.status is not None and not 100 <= int(self.status) <= 599:
            raise ValueError(f"bad fault status {self.status!r}")
        if self.times < -1 or self.skip < 0 or (self.cut_after is not None and self.cut_after < 0):
            raise ValueError("skip, times and cut_after must not be negative (times may be -1)")

    @classmethod
    def from_dict(cls, data: dict) -> "FaultRule":
        if not isinstance(data, dict):
            raise ValueError("a fault rule is a JSON object")
        unknown = set(data) - set(_RULE_FIELDS)
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict:
        out = {name: getattr(self, name) for name in _RULE_FIELDS}
        out.update(seen=self.seen, applied=self.applied)
        return out

    def matches(self, method: str, path: str, raw_query: str) -> bool:
        if self.method and self.method != method:
            return False
        if not self._path_re.search(path):
            return False
        return self._query_re is None or bool(self._query_re.search(raw_query))

    @property
    def exhausted(self) -> bool:
        return self.times != -1 and self.applied >= self.times

    def error_response(self) -> Response:
        body = self.body if self.body is not None else ""
        headers = dict(self.headers or {})
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = TEXT_CT
        return Response(int(self.status), body.encode("utf-8") if isinstance(body, str) else body,
                        list(headers.items()))


class FaultInjector:
    """Ordered, thread-safe list of `FaultRule`s. The first rule that matches a request and
    is neither skipping nor exhausted applies; rules that only count a skip let later rules
    be considered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule | dict | None = None, **fields) -> FaultRule:
        """Append a rule, given as a FaultRule, a dict or keyword fields; raises ValueError."""
        if rule is None:
            rule = FaultRule.from_dict(fields)
        elif isinstance(rule, dict):
            rule = FaultRule.from_dict(rule)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> int:
        with self._lock:
            count = len(self.rules)
            self.rules.clear()
        return count

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [rule.to_dict() for rule in self.rules]

    def match(self, method: str, path: str, raw_query: str) -> Optional[FaultRule]:
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(method, path, raw_query):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.applied += 1
                return rule
        return None


# ----------------------------------------------------------------------------- request log

def redact_query(raw_query: str) -> str:
    """The raw query with the values of secret-looking parameters replaced by `***`."""
    if not raw_query:
        return raw_query
    parts = []
    for part in raw_query.split("&"):
        name, sep, value = part.partition("=")
        if sep and unquote(name).lower() in REDACTED_PARAMS:
            value = "***"
        parts.append(name + sep + value)
    return "&".join(parts)


class RequestLog:
    """The last *limit* served requests as `{"method","path","query","status"}` dicts."""

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT):
        self._lock = threading.Lock()
        self._entries: collections.deque = collections.deque(maxlen=limit)

    def append(self, method: str, path: str, query: str, status: int) -> None:
        entry = {"method": method, "path": path, "query": redact_query(query), "status": status}
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# ----------------------------------------------------------------------------- server

class _CutConnection(Exception):
    """Raised inside the body writer once a cut_after fault has sent its bytes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubfs-emulator"
    sys_version = ""
    server: "EmulatorServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        # The stdlib writes to stderr; its remaining messages (protocol errors) go to debug.
        log.debug("%s: %s", self.server.name, format % args)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # _dispatch logs one richer line per request

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    # -- request side

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers are not used by any client we emulate for
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _decode_body(body: bytes, encoding: Optional[str]) -> bytes:
        encoding = (encoding or "identity").strip().lower()
        if encoding in ("identity", "") or not body:
            return body
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        raise ValueError(f"unsupported content-encoding {encoding!r}")

    def _dispatch(self) -> None:
        started = time.monotonic()
        server = self.server
        method = self.command.upper()
        split = urlsplit(self.path)
        raw_path = split.path or "/"
        path = unquote(raw_path)
        raw_query = split.query
        try:
            raw_body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(method, Response(400, b"Bad Request\n", [("Content-Type", TEXT_CT)]), False)
            return

        if path.startswith(CONTROL_PREFIX):
            # Control paths bypass auth, faults and the request log: they drive the tests.
            self._send(method, server._control(method, path, raw_body), False)
            return

        request = Request(method, path, raw_path, raw_query, parse_query(raw_query), self.headers,
                          auth=parse_basic_auth(self.headers.get("Authorization")),
                          client=self.client_address, server=server)
        rule = server.faults.match(method, path, raw_query)
        if rule is not None and rule.delay:
            time.sleep(float(rule.delay))
        if rule is not None and rule.status is not None:
            response = rule.error_response()
        else:
            try:
                request.body = self._decode_body(raw_body, self.headers.get("Content-Encoding"))
            except (ValueError, zlib.error) as exc:
                response = text_response(f"Bad request body: {exc}\n", 400)
            else:
                response = server.handle(request)
        cut_after = rule.cut_after if rule is not None else None

        server.requests.append(method, path, raw_query, response.status)
        sent = self._send(method, response, request.accepts_gzip, cut_after)
        log.debug("%s: %s %s%s -> %d, %d body bytes in %.1f ms%s", server.name, method, path,
                  "?" + redact_query(raw_query) if raw_query else "", response.status, sent,
                  (time.monotonic() - started) * 1000, " (cut)" if cut_after is not None else "")

    # -- response side

    def _send(self, method: str, response: Response, client_gzip: bool,
              cut_after: Optional[int] = None) -> int:
        """Write *response*; returns the number of body bytes sent."""
        server = self.server
        gzip = response.compress and client_gzip and server.gzip_level > 0
        headers = [(k, v) for k, v in response.headers
                   if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
        body = response.body
        try:
            if isinstance(body, (bytes, bytearray, memoryview)):
                data = bytes(body)
                if gzip and data:
                    data = gzip_bytes(data, server.gzip_level)
                    headers.append(("Content-Encoding", "gzip"))
                headers.append(("Content-Length", str(len(data))))
                self._write_head(response.status, headers, gzip)
                if method == "HEAD":
                    return 0
                if cut_after is not None and cut_after < len(data):
                    self.wfile.write(data[:cut_after])
                    raise _CutConnection()
                self.wfile.write(data)
                return len(data)
            if gzip:
                headers.append(("Content-Encoding", "gzip"))
            headers.append(("Transfer-Encoding", "chunked"))
            self._write_head(response.status, headers, gzip)
            if method == "HEAD":
                return 0
            return self._write_stream(body, gzip, cut_after)
        except _CutConnection:
            self._abort()
            return cut_after or 0
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
            log.debug("%s: client went away while sending: %s", server.name, exc)
            self.close_connection = True
            return 0
        except Exception:
            # A streamed body failed after its headers left: all we can do is hang up, which
            # the client sees as a broken stream rather than a silently short body.
            log.exception("%s: body generator failed", server.name)
            self._abort()
            return 0

    def _write_head(self, status: int, headers: list, gzip: bool) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        if gzip:
            self.send_header("Vary", "Accept-Encoding")
        self.end_headers()

    def _write_stream(self, chunks: Iterable[Any], gzip: bool, cut_after: Optional[int]) -> int:
        level = self.server.gzip_level

        def encoded() -> Iterator[bytes]:
            if gzip:
                writer = _GzipWriter(level)
                yield _GzipWriter.HEADER
                for chunk in chunks:
                    out = writer.feed(chunk)
                    if out:
                        yield out
                yield writer.finish()
            else:
                for chunk in chunks:
                    yield chunk.data() if isinstance(chunk, Block) else chunk

        sent = 0
        write = self.wfile.write
        for frame in coalesce(encoded()):
            if cut_after is not None and sent + len(frame) > cut_after:
                # Announce the whole frame, deliver only part of it, then hang up: the
                # client must see a short read, never a clean end of stream.
                part = frame[:cut_after - sent]
                write(b"%x\r\n" % len(frame) + part)
                raise _CutConnection()
            write(b"%x\r\n" % len(frame) + frame + b"\r\n")
            sent += len(frame)
        write(b"0\r\n\r\n")
        return sent

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass


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
        route, match, allowed = self.router.resolve(request.method, request.path)
        if route is None:
            if allowed:
                return text_response("Method Not Allowed\n", 405,
                                     headers={"Allow": ", ".join(sorted(allowed))})
            return self.not_found(request)
        request.match = match.groupdict()
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

    def _control(self, method: str, path: str, body: bytes) -> Response:
        what = path[len(CONTROL_PREFIX):].strip("/")
        if what == "faults":
            if method == "GET":
                return json_response({"rules": self.faults.snapshot()})
            if method == "DELETE":
                return json_response({"cleared": self.faults.clear()})
            if method == "POST":
                try:
                    payload = json.loads(body.decode("utf-8") or "{}")
                    rules = payload["rules"] if isinstance(payload, dict) else None
                    if not isinstance(rules, list):
                        raise ValueError('expected {"rules": [...]}')
                    parsed = [FaultRule.from_dict(r) for r in rules]
                except (ValueError, KeyError, TypeError, re.error) as exc:
                    return json_response({"error": str(exc)}, 400)
                for rule in parsed:
                    self.faults.add(rule)
                return json_response({"added": len(parsed)})
        elif what == "requests":
            if method == "GET":
                return json_response(self.requests.entries())
            if method == "DELETE":
                self.requests.clear()
                return json_response({"cleared": True})
        elif what == "health" and method == "GET":
            return json_response({"name": self.name, "ok": True})
        else:
            return text_response("Not Found\n", 404)
        return text_response("Method Not Allowed\n", 405)


# ----------------------------------------------------------------------------- runners

class ServerHandle:
    """A server running in a background thread; `.url`, `.stop()`, usable with `with`."""

    def __init__(self, server: EmulatorServer, thread: threading.Thread):
        self.server = server
        self.thread = thread
        self.url = server.url

    @property
    def state(self) -> Any:
        return self.server.state

    def stop(self, timeout: float = 5.0) -> None:
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_in_thread(server: EmulatorServer, *, poll_interval: float = 0.1) -> ServerHandle:
    """Serve *server* from a daemon thread; returns once it accepts requests."""
    ready = threading.Event()

    def run() -> None:
        ready.set()
        server.serve_forever(poll_interval=poll_interval)

    thread = threading.Thread(target=run, name=f"{server.name}-server", daemon=True)
    thread.start()
    # The socket already listens (bound in the constructor), so connections made from here
    # on queue until serve_forever picks them up; the event only guards the thread start.
    if not ready.wait(10):
        raise RuntimeError(f"{server.name} did not start")
    log.debug("%s: serving on %s", server.name, server.url)
    return ServerHandle(server, thread)


def serve_forever(server: EmulatorServer) -> None:
    """Serve in the foreground until interrupted (Ctrl-C), then close every connection."""
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.close_connections()
        server.server_close()
