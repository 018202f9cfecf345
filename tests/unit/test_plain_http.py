"""Plain-http lean calls on kept-alive `http.client` connections (`hubfs.plain_http`),
against a loopback server whose every answer is scripted byte for byte: connections are
kept and reused, one the server closed while idle is replaced, a body cut short or an
answer that never comes is a transport failure the one retry loop retries, repeated
headers are joined and gzip bodies decoded, as they were through urllib3."""

import gzip
import socket
import threading

import pytest
import requests
import urllib3

from hubfs import errors
from hubfs.http import HttpClient, RetryPolicy
from tests.support import wait_until

FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.02, deadline=10,
                   connect_timeout=2, read_timeout=1)


class Scripted:
    """Answers each request with the next scripted answer: (head bytes, body bytes,
    then "keep", "close" after answering, or "cut" after part of the body). Records
    each request's first line and body, and how many connections were accepted."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.script = []
        self.seen = []
        self.connections = 0
        self.closed = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        reader = conn.makefile("rb")
        with conn:
            while True:
                line = reader.readline()
                if not line:
                    return
                length = 0
                while True:
                    header = reader.readline()
                    if header in (b"\r\n", b""):
                        break
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                self.seen.append((line.decode().strip(), reader.read(length)))
                status, headers, body, after = self.script.pop(0)
                head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                if after == "silent":
                    reader.read()  # never answer; wait for the client to give up
                    return
                sent = body[:len(body) // 2] if after == "cut" else body
                conn.sendall(head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + sent)
                if after != "keep":
                    conn.shutdown(socket.SHUT_RDWR)
                    self.closed += 1
                    return

    def close(self):
        self.listener.close()


@pytest.fixture
def server():
    scripted = Scripted()
    yield scripted
    scripted.close()


def ok(body=b"fine", headers=(), after="keep"):
    return (200, list(headers), body, after)


def test_connections_are_kept_and_reused(server):
    server.script = [ok(b"one"), ok(b"two"), ok(b"three")]
    client = HttpClient("t", policy=FAST)
    assert [client.request("GET", server.url + f"/{n}").content for n in range(3)] == \
        [b"one", b"two", b"three"]
    assert server.connections == 1
    client.close()


def test_a_connection_the_server_closed_while_idle_is_replaced(server):
    server.script = [ok(b"one", after="close"), ok(b"two")]
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/a").content == b"one"
    wait_until(lambda: server.closed == 1)
    assert client.request("GET", server.url + "/b").content == b"two"
    assert server.connections == 2
    assert client.counters["retries"] == 0  # seen closed before sending, not retried
    client.close()


def test_a_body_cut_short_is_retried(server):
    server.script = [ok(b"0123456789" * 10, after="cut"), ok(b"0123456789" * 10)]
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/cut").content == b"0123456789" * 10
    assert client.counters["retries"] == 1
    client.close()


def test_a_body_cut_every_time_fails_as_transient(server):
    server.script = [ok(b"x" * 100, after="cut")] * 3
    client = HttpClient("t", policy=FAST)
    with pytest.raises(errors.Transient, match="cut mid-body"):
        client.request("GET", server.url + "/cut")
    client.close()


def test_an_answer_that_never_comes_is_a_read_timeout(server):
    server.script = [ok(after="silent"), ok(b"late but fine")]
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/slow").content == b"late but fine"
    assert client.counters["retries"] == 1
    client.close()


def test_a_refused_connection_names_the_host():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    client = HttpClient("t", policy=FAST)
    with pytest.raises(errors.Transient, match=f"connection to 127.0.0.1:{port} failed"):
        client.request("GET", f"http://127.0.0.1:{port}/x")
    client.close()


def test_bodies_headers_and_encodings_arrive_as_through_urllib3(server):
    packed = gzip.compress(b"unpacked text")
    server.script = [ok(b"", headers=[("X-Many", "a"), ("X-Many", "b")]),
                     ok(packed, headers=[("Content-Encoding", "gzip")]),
                     ok(b"after gzip")]
    client = HttpClient("t", policy=FAST)
    response = client.request("PUT", server.url + "/put", data="grüße")
    assert response.headers["x-many"] == "a, b"
    assert server.seen[0] == ("PUT /put HTTP/1.1", "grüße".encode("utf-8"))
    assert client.request("GET", server.url + "/gz").content == b"unpacked text"
    assert client.request("GET", server.url + "/next").content == b"after gzip"
    client.close()


def test_a_streamed_call_still_goes_through_urllib3(server):
    server.script = [ok(b"streamed")]
    client = HttpClient("t", policy=FAST)
    response = client.request("GET", server.url + "/s", stream=True)
    assert isinstance(response.raw, urllib3.response.HTTPResponse)
    assert response.content == b"streamed"
    assert isinstance(response, requests.Response)
    client.close()


def test_gzip_bodies_are_inflated_on_a_kept_connection(server):
    """The Scrapinghub storage API gzips every page: its connection must stay kept."""
    text = b"records\n" * 5000
    two_members = gzip.compress(b"first member, ") + gzip.compress(b"second member")
    server.script = [ok(gzip.compress(text), headers=[("Content-Encoding", "gzip")]),
                     ok(two_members, headers=[("Content-Encoding", "GZIP")]),
                     ok(gzip.compress(b""), headers=[("Content-Encoding", "gzip")]),
                     ok(b"plain")]
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/big").content == text
    assert client.request("GET", server.url + "/two").content == b"first member, second member"
    assert client.request("GET", server.url + "/empty").content == b""
    assert client.request("GET", server.url + "/plain").content == b"plain"
    assert server.connections == 1
    client.close()


def test_a_gzip_stream_that_ends_early_is_a_cut_body(server):
    """A complete HTTP body whose gzip member is not: retried, never a short answer."""
    whole = gzip.compress(b"0123456789" * 1000)
    server.script = [ok(whole[:len(whole) // 2], headers=[("Content-Encoding", "gzip")]),
                     ok(whole, headers=[("Content-Encoding", "gzip")])]
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/half").content == b"0123456789" * 1000
    assert client.counters["retries"] == 1
    client.close()


def test_an_empty_gzip_answer_is_an_empty_body_and_a_corrupt_one_an_error(server):
    """No byte at all under `Content-Encoding: gzip` (a HEAD, a 204) is an empty body, and
    bytes after a whole member that are not another one are ignored, both as through
    urllib3; bytes that are not gzip fail as a decoding error, retried and then
    `Transient`, never an unexpected exception."""
    gzipped = [("Content-Encoding", "gzip")]
    server.script = [ok(b"", headers=gzipped),
                     ok(gzip.compress(b"x") + b"trailing junk", headers=gzipped)] + \
                    [ok(b"not gzip at all", headers=gzipped)] * 3
    client = HttpClient("t", policy=FAST)
    assert client.request("GET", server.url + "/empty").content == b""
    assert client.request("GET", server.url + "/trailing").content == b"x"
    with pytest.raises(errors.Transient, match="ContentDecodingError"):
        client.request("GET", server.url + "/corrupt")
    client.close()
