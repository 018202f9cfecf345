"""The HTTP layer takes proxies from the environment as requests does (read once per
host, not on every request): `HTTP_PROXY` is used, `NO_PROXY` bypasses it."""

import http.server
import threading

import pytest

from hubfs.http import HttpClient


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        _Recorder.seen.append(self.path)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _clear(monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                 "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_a_proxy_from_the_environment_is_used(recorder, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", recorder)
    client = HttpClient("t")
    for _ in range(2):
        assert client.request("GET", "http://upstream.invalid/thing").content == b"ok"
    assert _Recorder.seen == ["http://upstream.invalid/thing"] * 2  # the proxy got both


def test_no_proxy_sends_directly(recorder, monkeypatch):
    _clear(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient("t")
    assert client.request("GET", recorder + "/direct").content == b"ok"
    assert _Recorder.seen == ["/direct"]


def test_without_proxies_requests_go_straight(recorder, monkeypatch):
    _clear(monkeypatch)
    client = HttpClient("t")
    assert client.request("GET", recorder + "/plain").content == b"ok"
    assert _Recorder.seen == ["/plain"]
