"""Outgoing side of the emulator kit: what a handler returns and the helpers that build it.

`Response` carries a status, headers and a body that is either bytes (sent with
Content-Length) or an iterable of chunks (sent chunked); `HTTPError` lets code deep inside a
handler answer early. The helpers encode the bodies services send: one JSON value, JSON
lines, concatenated msgpack values, plain text, nothing, or an arbitrary stream, with lazy
iterables regrouped into frames of about `STREAM_FRAME_BYTES` by `coalesce`. Whether a body
is actually gzipped is decided later by the server, from the request's Accept-Encoding.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

# Streamed bodies are written in frames of about this size: big enough that a 200 MB body
# costs a few thousand send() calls, small enough that the first bytes leave early.
STREAM_FRAME_BYTES = 256 * 1024

JSON_CT = "application/json"
JSONLINES_CT = "application/x-jsonlines; charset=UTF-8"
MSGPACK_CT = "application/x-msgpack; charset=UTF-8"
TEXT_CT = "text/plain; charset=UTF-8"


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
