"""One attempt of a plain-http request on a kept-alive `http.client` connection.

The HTTP layer (`hubfs.http`) sends its lean calls here when the URL is plain http: a
request prepared by requests (URL, headers, body and signature exactly as the session
would send them) goes out on an idle connection to its host, and the answer comes back
as a `requests.Response` whose body is read from the `http.client` response under it.
Between requests and `http.client`, urllib3's pool and response wrapper cost as much CPU
as `http.client` itself does for a small request (a quarter of a 10 KiB PUT); nothing of
them is needed for one plain-http exchange. What this module does not do is left to the
caller, as with urllib3 under requests: no retries, no redirects, no proxies, no TLS (an
https URL never comes here). Failures are raised as the requests exceptions requests
would raise for them (`ConnectTimeout`, `ReadTimeout`, `ConnectionError`, and
`ChunkedEncodingError` for a body cut short), so the one retry loop and its reasons are
the same for both ways of sending. A gzip body is inflated here and its connection kept;
one in another coding is decoded by urllib3's response class, as requests would, and its
connection is then not kept.
"""

import http.client
import select
import threading
import zlib

import requests
import urllib3

IDLE_MAX = 16  # idle connections kept per host
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's window bits for a gzip header and trailer


class PlainConnections:
    """Idle keep-alive connections per (host, port); thread-safe."""

    def __init__(self, idle_max=IDLE_MAX):
        self.idle_max = idle_max
        self._idle = {}
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _take(self, host, port, connect_timeout):
        with self._lock:
            connections = self._idle.get((host, port))
            while connections:
                connection = connections.pop()
                if not _dropped(connection):
                    return connection
                connection.close()  # the server closed it while it was idle
        connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise requests.exceptions.ConnectTimeout(exc) from None
        except OSError as exc:
            connection.close()
            raise requests.exceptions.ConnectionError(exc) from None
        return connection

    def give_back(self, connection):
        """*connection* answered in full and may carry the next request."""
        key = (connection.host, connection.port)
        with self._lock:
            connections = self._idle.setdefault(key, [])
            if len(connections) < self.idle_max:
                connections.append(connection)
                return
        connection.close()

    def send(self, prepared, split, timeout):
        """Send *prepared* (a `requests.PreparedRequest` to the plain-http URL whose
        `urlsplit` is *split*) and return the `requests.Response`, its body unread."""
        connect_timeout, read_timeout = timeout
        connection = self._take(split.hostname, split.port or 80, connect_timeout)
        try:
            connection.sock.settimeout(read_timeout)
            body = prepared.body
            if isinstance(body, str):
                body = body.encode("utf-8")  # as urllib3 sends it (http.client: Latin-1)
            try:
                connection.request(prepared.method, prepared.path_url, body=body,
                                   headers=prepared.headers)
            except BrokenPipeError:
                pass  # the server may have answered before taking the whole body: read that
            answer = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise requests.exceptions.ReadTimeout(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise requests.exceptions.ConnectionError(exc) from None
        return self._response(prepared, connection, answer)

    def _response(self, prepared, connection, answer):
        headers = requests.structures.CaseInsensitiveDict()
        for name, value in answer.headers.items():
            # Repeated headers are joined, as urllib3 does (a dict would keep the first).
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        response = requests.Response()
        response.status_code = answer.status
        response.headers = headers
        response.encoding = requests.utils.get_encoding_from_headers(headers)
        response.reason = answer.reason
        response.url = prepared.url
        response.request = prepared
        encoding = headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("identity", "gzip", "x-gzip"):
            response.raw = _Body(self, connection, answer, gzipped=encoding != "identity")
        else:
            # Another coding (deflate, br): decoding is urllib3's, and the connection is
            # not kept: it is dropped here and its socket closes once the answer is
            # (closing the connection now would close the unread answer with it).
            response.raw = urllib3.response.HTTPResponse(
                body=answer, headers=urllib3.HTTPHeaderDict(answer.headers.items()),
                status=answer.status, reason=answer.reason, preload_content=False,
                decode_content=True, original_response=answer, request_method=prepared.method)
        return response


class _Body:
    """The body of one answer, read from its `http.client` response (the part of urllib3's
    response requests and the HTTP layer use: `stream`, `read`, `release_conn`, `close`,
    `_fp` for reads into a caller's buffer, `_original_response` for cookies).

    A gzip body is inflated here with zlib, which works without the interpreter lock
    (urllib3's decoder adds a copy of every chunk into a growing bytearray, under the
    lock), and its connection is kept like any other: the Scrapinghub storage API gzips
    every page. Members that follow one another are all inflated (as urllib3 does); a
    body that ends inside a member is a cut body."""

    def __init__(self, pool, connection, answer, gzipped=False):
        self._pool = pool
        self._connection = connection
        self._fp = self._original_response = answer
        self._inflate = zlib.decompressobj(GZIP_WBITS) if gzipped else None
        self._compressed = 0  # bytes of a gzip body received so far
        self._after_members = False  # True once trailing bytes that are not gzip came

    def read(self, amt=None, decode_content=True):
        if self._inflate is None or not decode_content:
            return self._read(amt)
        while True:
            data = self._read(amt)
            if not data:
                # No byte at all is an empty body (a HEAD, a 204), as urllib3 takes it.
                if self._compressed and not (self._inflate.eof or self._after_members):
                    self.close()
                    raise requests.exceptions.ChunkedEncodingError(
                        "gzip body cut inside its compressed stream")
                return b""
            self._compressed += len(data)
            if self._after_members:
                continue  # bytes after the last member that are not one: ignored
            out = self._inflate_more(data)
            if out:
                return out

    def _inflate_more(self, data):
        """The bytes *data* inflate to, through members that follow one another. Bytes
        after a whole member that do not start another are ignored, as urllib3 ignores
        them; bytes that are not gzip before that are `ContentDecodingError`."""
        try:
            out = self._inflate.decompress(data)
        except zlib.error as exc:
            self.close()
            raise requests.exceptions.ContentDecodingError(
                f"gzip body not decodable: {exc}") from None
        while self._inflate.eof and self._inflate.unused_data:  # another member?
            rest = self._inflate.unused_data
            self._inflate = zlib.decompressobj(GZIP_WBITS)
            try:
                out += self._inflate.decompress(rest)
            except zlib.error:
                self._after_members = True
                break
        return out

    def _read(self, amt):
        try:
            data = self._fp.read(amt)
        except TimeoutError as exc:
            self.close()
            raise requests.exceptions.ConnectionError(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise requests.exceptions.ChunkedEncodingError(exc) from None
        if not data and amt and self._fp.length:
            # `http.client` ends a read of *amt* bytes quietly at a connection closed
            # before Content-Length was reached (urllib3 checks that): a cut body.
            left = self._fp.length
            self.close()
            raise requests.exceptions.ChunkedEncodingError(
                f"body cut with {left} bytes of its Content-Length missing")
        return data

    def stream(self, amt, decode_content=True):
        while True:
            data = self.read(amt)
            if not data:
                break
            yield data
        self.release_conn()

    def release_conn(self):
        """Keep the connection when its answer was read to the end; else close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._fp.isclosed() and not self._fp.will_close:
            self._pool.give_back(connection)
        else:
            connection.close()

    def close(self):
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
        self._fp.close()


def _dropped(connection):
    """True when an idle connection cannot carry a request: closed, or readable (an idle
    keep-alive connection has nothing to read unless the server closed it)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True
