"""Tests of the shared emulator kit (hubfs.emulation) over real loopback HTTP.

A toy service built from the kit's pieces is driven with `requests` and `http.client`:
routing, query multi-dicts, auth hook, request body decoding, gzip and streamed bodies
(including cached pre-deflated blocks), every fault type from Python and over the HTTP
control paths, the request log, keep-alive, and shutdown.
"""

import gzip
import http.client
import json
import os
import socket
import time
import zlib

import pytest
import requests

from hubfs import emulation as em


def _toy_router() -> em.Router:
    router = em.Router()

    @router.route("GET", r"/echo/(?P<name>[^/]+)")
    def echo(request):
        return em.json_response({
            "name": request.match["name"], "query": request.query.to_dict(),
            "first_state": request.query.get("state"), "auth": request.auth,
            "path": request.path,
        })

    @router.route("POST", r"/echo/(?P<name>[^/]+)")
    def echo_body(request):
        return em.json_response({"lines": request.jsonlines(), "size": len(request.body)})

    @router.route("GET", r"/lines", public=True)
    def lines(request):
        count = int(request.query.get("count", "10"))
        return em.jsonlines_response(({"n": i, "text": "Café ☕"} for i in range(count)), compress=True)

    @router.route("GET", r"/blocks", public=True)
    def blocks(request):
        cache = request.server.body_cache

        def chunks():
            yield b"head\n"
            for n in range(5):
                yield cache.block(("toy", n), lambda n=n: (b"block %d " % n) * 4000 + b"\n")
            yield b"tail\n"
        return em.stream_response(chunks(), content_type="text/plain", compress=True)

    @router.route("GET", r"/big", public=True)
    def big(request):
        return em.text_response("0123456789" * 10_000, compress=True)

    @router.route("GET", r"/boom", public=True)
    def boom(request):
        raise RuntimeError("deliberate handler bug")

    @router.route("GET", r"/teapot", public=True)
    def teapot(request):
        raise em.HTTPError(em.text_response("short and stout\n", 418))

    return router


def _auth(request):
    if request.auth and request.auth[0] == "good-key":
        return None
    return em.json_response({"error": "no"}, 401)


@pytest.fixture()
def toy():
    server = em.EmulatorServer(_toy_router(), auth=_auth, name="toy")
    with em.start_in_thread(server) as handle:
        yield handle


def get(handle, path, **kw):
    kw.setdefault("auth", ("good-key", ""))
    return requests.get(handle.url + path.lstrip("/"), timeout=10, **kw)


# ----------------------------------------------------------------------------- routing & requests

def test_routing_named_groups_and_repeated_query_params(toy):
    r = get(toy, "/echo/caf%C3%A9?state=a&state=b&x=1&empty=")
    assert r.status_code == 200
    data = r.json()
    assert data["name"] == "café"
    assert data["query"] == {"state": ["a", "b"], "x": ["1"], "empty": [""]}
    assert data["first_state"] == "a"
    assert data["auth"] == ["good-key", ""]


def test_unknown_path_404_and_wrong_method_405(toy):
    assert get(toy, "/nowhere").status_code == 404
    r = requests.delete(toy.url + "echo/x", auth=("good-key", ""), timeout=10)
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_auth_hook_refuses_and_public_routes_skip_it(toy):
    assert get(toy, "/echo/x", auth=("bad", "")).status_code == 401
    assert get(toy, "/echo/x", auth=None).status_code == 401
    assert get(toy, "/lines", auth=None).status_code == 200


def test_handler_errors(toy):
    r = get(toy, "/teapot")
    assert (r.status_code, r.text) == (418, "short and stout\n")
    assert get(toy, "/boom").status_code == 500


def test_request_body_decoded_per_content_encoding(toy):
    body = b'{"a": 1}\n{"b": "\xc3\xa9"}\n'
    for encoding, data in (("gzip", gzip.compress(body)), ("identity", body)):
        r = requests.post(toy.url + "echo/x", data=data, auth=("good-key", ""), timeout=10,
                          headers={"content-encoding": encoding})
        assert r.json() == {"lines": [{"a": 1}, {"b": "é"}], "size": len(body)}
    r = requests.post(toy.url + "echo/x", data=b"not gzip", auth=("good-key", ""), timeout=10,
                      headers={"content-encoding": "gzip"})
    assert r.status_code == 400


def test_parse_helpers():
    assert em.parse_basic_auth("Basic Zm9vOg==") == ("foo", "")
    assert em.parse_basic_auth("Basic Zm9vOmI6YXI=") == ("foo", "b:ar")
    assert em.parse_basic_auth("Bearer x") is None
    assert em.parse_basic_auth("Basic ***") is None
    assert em.accepts_gzip("gzip, deflate")
    assert em.accepts_gzip("br;q=1, *;q=0.5")
    assert not em.accepts_gzip("gzip;q=0")
    assert not em.accepts_gzip("identity")
    assert not em.accepts_gzip(None)
    assert em.redact_query("apikey=secret&state=a") == "apikey=***&state=a"


# ----------------------------------------------------------------------------- responses

def test_gzip_only_when_accepted(toy):
    r = get(toy, "/big", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert int(r.headers["Content-Length"]) < 10_000
    assert r.text == "0123456789" * 10_000
    r = get(toy, "/big", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in r.headers
    assert r.headers["Content-Length"] == "100000"


def test_jsonlines_stream_is_chunked_compact_and_has_no_blank_lines(toy):
    for encoding in ("gzip", "identity"):
        r = get(toy, "/lines?count=5000", headers={"Accept-Encoding": encoding})
        assert r.headers["Transfer-Encoding"] == "chunked"
        assert r.headers["Content-Type"] == em.JSONLINES_CT
        lines = r.content.split(b"\n")
        assert lines[-1] == b"" and all(lines[:-1])
        assert len(lines) == 5001
        assert lines[1] == '{"n":1,"text":"Café ☕"}'.encode()


def test_cached_blocks_splice_into_gzip_and_plain_bodies(toy):
    expected = b"head\n" + b"".join((b"block %d " % n) * 4000 + b"\n" for n in range(5)) + b"tail\n"
    first = get(toy, "/blocks", headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.content == expected
    cache = toy.server.body_cache
    hits = cache.hits
    # raw=True bypasses urllib3's decoder so the member is checked by the stdlib as well.
    raw = get(toy, "/blocks", headers={"Accept-Encoding": "gzip"}, stream=True).raw.read()
    assert gzip.decompress(raw) == expected
    assert cache.hits >= hits + 5
    assert get(toy, "/blocks", headers={"Accept-Encoding": "identity"}).content == expected


def test_msgpack_response_is_concatenated_values():
    import msgpack

    response = em.msgpack_response([{"a": 1}, [1, 2], "x"])
    unpacker = msgpack.Unpacker()
    unpacker.feed(response.body)
    assert list(unpacker) == [{"a": 1}, [1, 2], "x"]
    assert response.header("content-type") == em.MSGPACK_CT


def test_crc32_combine_matches_zlib():
    for a, b in ((b"hello ", b"world"), (os.urandom(999), os.urandom(70_001)), (b"", b"x"), (b"x", b"")):
        assert em.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_body_cache_is_byte_bounded_lru():
    cache = em.BodyCache(max_bytes=100)
    cache.put("a", b"x", 60)
    cache.put("b", b"y", 30)
    assert cache.get("a") == b"x"  # "a" becomes most recent
    cache.put("c", b"z", 30)        # evicts "b", the least recent
    assert cache.get("b") is None and cache.get("a") == b"x" and cache.get("c") == b"z"
    assert cache.size == 90
    cache.put("huge", b"!", 1000)   # larger than the budget: not kept
    assert cache.get("huge") is None


def test_keep_alive_reuses_one_connection(toy):
    conn = http.client.HTTPConnection("127.0.0.1", toy.server.port, timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/lines?count=3")
            response = conn.getresponse()
            assert response.status == 200
            assert response.read().count(b"\n") == 3
        assert len(toy.server._connections) == 1
    finally:
        conn.close()


# ----------------------------------------------------------------------------- faults

def test_status_fault_with_retry_after_skip_and_times(toy):
    toy.server.faults.add(path=r"^/echo/", method="GET", skip=1, times=2, status=429,
                          body="slow down", headers={"Retry-After": "1"})
    statuses = [get(toy, "/echo/x") for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 429, 200]
    assert statuses[1].headers["Retry-After"] == "1"
    assert statuses[1].text == "slow down"
    rule = toy.server.faults.snapshot()[0]
    assert (rule["seen"], rule["applied"]) == (3, 2)


def test_fault_matching_by_query_and_forever(toy):
    toy.server.faults.add(path="/echo/", query=r"(^|&)state=bad", status=503, times=-1)
    assert get(toy, "/echo/x?state=bad").status_code == 503
    assert get(toy, "/echo/x?state=bad").status_code == 503
    assert get(toy, "/echo/x?state=good").status_code == 200
    assert toy.server.faults.clear() == 1
    assert get(toy, "/echo/x?state=bad").status_code == 200


def test_delay_fault(toy):
    rule = toy.server.faults.add(path="/lines", delay=0.3)
    started = time.monotonic()
    assert get(toy, "/lines?count=1").status_code == 200
    assert time.monotonic() - started >= 0.3
    get(toy, "/lines?count=1")
    assert rule.applied == 1  # the second request was not delayed (times=1)


def test_cut_after_on_a_sized_body_gives_a_short_read(toy):
    toy.server.faults.add(path="/big", cut_after=1000)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(toy, "/big", headers={"Accept-Encoding": "identity"})
    conn = http.client.HTTPConnection("127.0.0.1", toy.server.port, timeout=10)
    toy.server.faults.add(path="/big", cut_after=10)
    conn.request("GET", "/big")
    response = conn.getresponse()
    assert response.getheader("Content-Length") == "100000"  # the full length is announced
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert len(info.value.partial) == 10
    conn.close()
    assert get(toy, "/big").status_code == 200  # the rule was used up; the server lives on


def test_cut_after_on_a_gzip_stream_cuts_compressed_bytes(toy):
    toy.server.faults.add(path="/lines", cut_after=2000)
    response = get(toy, "/lines?count=100000", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert response.headers["Content-Encoding"] == "gzip"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in response.iter_lines():
            pass


def test_fault_rule_validation():
    with pytest.raises(ValueError):
        em.FaultRule(path="/x")  # no effect
    with pytest.raises(ValueError):
        em.FaultRule.from_dict({"path": "/x", "status": 503, "bogus": 1})
    with pytest.raises(ValueError):
        em.FaultRule(path="/x", status=99)


# ----------------------------------------------------------------------------- control paths & log

def test_http_control_paths_drive_faults_and_the_request_log(toy):
    base = toy.url + "__emulator__/"
    rules = {"rules": [{"path": "^/echo/", "status": 503, "times": 1},
                       {"path": "^/lines", "delay": 0.01, "times": -1}]}
    r = requests.post(base + "faults", data=json.dumps(rules), timeout=10)  # no auth needed
    assert r.json() == {"added": 2}
    assert get(toy, "/echo/x?apikey=hunter2&a=1").status_code == 503
    assert get(toy, "/echo/x").status_code == 200
    listed = requests.get(base + "faults", timeout=10).json()["rules"]
    assert [(x["path"], x["applied"]) for x in listed] == [("^/echo/", 1), ("^/lines", 0)]
    log = requests.get(base + "requests", timeout=10).json()
    assert log == [
        {"method": "GET", "path": "/echo/x", "query": "apikey=***&a=1", "status": 503},
        {"method": "GET", "path": "/echo/x", "query": "", "status": 200},
    ]
    assert requests.delete(base + "faults", timeout=10).json() == {"cleared": 2}
    assert requests.delete(base + "requests", timeout=10).status_code == 200
    assert requests.get(base + "requests", timeout=10).json() == []
    bad = requests.post(base + "faults", data='{"rules": [{"path": "x"}]}', timeout=10)
    assert bad.status_code == 400 and "effect" in bad.json()["error"]
    assert requests.get(base + "nope", timeout=10).status_code == 404


def test_request_log_is_bounded():
    log = em.RequestLog(limit=3)
    for n in range(5):
        log.append("GET", f"/{n}", "", 200)
    assert [e["path"] for e in log.entries()] == ["/2", "/3", "/4"]


# ----------------------------------------------------------------------------- lifecycle

def test_stop_closes_idle_keep_alive_connections():
    server = em.EmulatorServer(_toy_router(), name="toy")
    handle = em.start_in_thread(server)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/lines?count=1")
    conn.getresponse().read()
    handle.stop()
    assert not handle.thread.is_alive()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/lines?count=1")
        conn.getresponse().read()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_only_loopback_hosts_are_allowed():
    with pytest.raises(ValueError):
        em.EmulatorServer(em.Router(), host="0.0.0.0")


# ----------------------------------------------------------------------------- routing by Host

def test_routes_by_host_header_with_named_groups():
    router = em.Router()

    @router.route("GET", r"/where", host=r"(?P<project>[a-z0-9-]+)\.svc\.test", public=True)
    def project_scoped(request):
        return em.json_response({"project": request.host_match["project"],
                                 "host": request.host_match.group(0)})

    @router.route("GET", r"/where", host=r"svc\.test", public=True)
    def bare(request):
        return em.json_response({"project": None, "host_match": request.host_match.group(0)})

    @router.route("GET", r"/any", public=True)
    def anywhere(request):
        return em.json_response({"host_match": request.host_match})

    with em.start_in_thread(em.EmulatorServer(router, name="hosts")) as handle:
        def where(path, host):
            return requests.get(handle.url + path, headers={"Host": host}, timeout=10)

        # The port is not part of what the pattern sees; named groups reach the handler.
        assert where("where", "logs-1.svc.test:8080").json() == {"project": "logs-1",
                                                                 "host": "logs-1.svc.test"}
        assert where("where", "svc.test").json() == {"project": None, "host_match": "svc.test"}
        # No route for this host: 404, not the other host's handler.
        assert where("where", "Elsewhere.example").status_code == 404
        # Routes without a host match any host and see no host match.
        assert where("any", "whatever.example:1").json() == {"host_match": None}
        assert where("any", "[::1]:9").json() == {"host_match": None}


def test_host_without_port():
    assert em.host_without_port("a.b:8080") == "a.b"
    assert em.host_without_port("a.b") == "a.b"
    assert em.host_without_port("[::1]:80") == "::1"
    assert em.host_without_port("::1") == "::1"
    assert em.host_without_port(None) is None
    router = em.Router()
    router.add("GET", "/x", lambda r: None, host=r"h\.example")
    assert router.resolve("GET", "/x")[0] is None  # a missing Host matches no host route
    assert router.resolve("GET", "/x", "h.example")[0] is not None
