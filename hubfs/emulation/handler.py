"""The kit's HTTP/1.1 connection handler: from bytes on a socket to a `Request` and back.

One `_Handler` serves one keep-alive connection for an `EmulatorServer`: it reads the body
(Content-Length or chunked) and undoes its content-encoding, diverts the control paths,
consults the server's fault injector (delay, error answer, or a body cut after N bytes),
hands the `Request` to the server's dispatch, records it in the request log, and writes the
`Response` back, gzipped when the service would and the client allows, sized or chunked,
with cached `Block`s spliced in already compressed.
"""

from __future__ import annotations

import logging
import socket
import time
import zlib
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional
from urllib.parse import unquote, urlsplit

from .bodies import Block, GzipWriter, gzip_bytes
from .control import CONTROL_PREFIX, control_response
from .requestlog import redact_query
from .responses import TEXT_CT, Response, coalesce, text_response
from .wire import Request, parse_basic_auth, parse_query

if TYPE_CHECKING:  # only for the annotation: server.py imports this module
    from .server import EmulatorServer

# The whole kit logs as one "hubfs.emulation" logger, so log lines and any level set on
# it stay as they were before the kit was split into modules.
log = logging.getLogger(__package__)


class _CutConnection(Exception):
    """Raised inside the body writer once a cut_after fault has sent its bytes."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hubfs-emulator"
    sys_version = ""
    server: "EmulatorServer"
    # Headers and body go out in separate writes; with Nagle's algorithm on, a keep-alive
    # client's delayed ACK stalls every response ~40 ms, which no real service does.
    disable_nagle_algorithm = True

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

    def __getattr__(self, name: str) -> Any:
        # Services with methods of their own (flowthings' MGET and MPUT) are routed like
        # any other: every method token goes to the router, which answers 405 for the
        # ones no route takes.
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self.do_GET
        raise AttributeError(name)

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
            self._send(method, control_response(server, method, path, raw_body), False)
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
                writer = GzipWriter(level)
                yield GzipWriter.HEADER
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
