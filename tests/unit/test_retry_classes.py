"""The HTTP layer's retry classes and deadline, against a toy loopback server.

A backend's `classify` hook turns a service's own "slow down" (a 403 with a quota code)
into a retry, "not ready yet" into a wait that is not a failure, and anything into a
final error; without a verdict the status decides. One deadline bounds the whole call.
"""

import logging
import time

import pytest

from hubfs import errors
from hubfs.emulation import EmulatorServer, Router, json_response, start_in_thread
from hubfs.http import HttpClient, Outcome, RetryPolicy

FAST = RetryPolicy(attempts=4, backoff=0.01, backoff_max=0.05, retry_after_max=1, deadline=10)


@pytest.fixture(scope="module")
def toy():
    router = Router()
    state = {"calls": 0, "ready_after": 0}

    def quota(request):
        state["calls"] += 1
        if state["calls"] % 3:
            return json_response({"errorCode": "ExceedQPSLimit"}, 403)
        return json_response({"ok": True})

    def chunk(request):
        state["calls"] += 1
        if state["calls"] < state["ready_after"]:
            return json_response({"ready": False}, 200)
        return json_response({"ready": True})

    router.add("GET", "/quota", quota)
    router.add("GET", "/chunk", chunk)
    router.add("GET", "/denied", lambda request: json_response({"errorCode": "Unauthorized"}, 403))
    server = EmulatorServer(router)
    server.state = state
    with start_in_thread(server) as handle:
        yield handle


def sls_like(response):
    if response.status_code == 403 and b"ExceedQPSLimit" in response.content:
        return Outcome.retry("quota exceeded (ExceedQPSLimit)")
    return None


def test_a_403_the_backend_calls_transient_is_retried_not_eacces(toy):
    toy.state["calls"] = 0
    client = HttpClient("t", policy=FAST, classify=sls_like)
    assert client.request("GET", toy.url + "quota").json() == {"ok": True}
    assert client.counters["retries"] == 2
    with pytest.raises(errors.AccessDenied):
        client.request("GET", toy.url + "denied")  # no verdict: the status decides


def test_not_ready_is_waited_for_without_counting_as_a_failure(toy, caplog):
    toy.state.update(calls=0, ready_after=6)  # more rounds than `attempts` allows failures

    def chunks(response):
        if response.status_code == 200 and response.json() == {"ready": False}:
            return Outcome.wait("chunk not ready yet", 0.01)
        return None

    client = HttpClient("t", policy=FAST, classify=chunks)
    with caplog.at_level(logging.INFO, logger="hubfs.http"):
        assert client.request("GET", toy.url + "chunk").json() == {"ready": True}
    assert client.counters["waits"] == 5 and client.counters["retries"] == 0
    assert "waiting" in caplog.text and "left" in caplog.text


def test_a_final_verdict_raises_the_backends_error(toy):
    client = HttpClient("t", policy=FAST,
                        classify=lambda response: Outcome.fail(errors.Conflict("t: gone")))
    with pytest.raises(errors.Conflict):
        client.request("GET", toy.url + "chunk")


def test_the_deadline_bounds_waits_and_retries(toy):
    toy.state.update(calls=0, ready_after=10**9)
    policy = RetryPolicy(attempts=4, backoff=0.01, backoff_max=0.05, deadline=0.5)
    client = HttpClient("t", policy=policy,
                        classify=lambda r: Outcome.wait("not ready", 0.2) if r.json() == {"ready": False} else None)
    started = time.monotonic()
    with pytest.raises(errors.Transient) as raised:
        client.request("GET", toy.url + "chunk")
    assert "still not ready" in str(raised.value)
    assert time.monotonic() - started < 5  # a hang detector; the deadline is 0.5 s


def test_retries_that_pile_up_show_at_info(toy, caplog):
    toy.state["calls"] = 0
    client = HttpClient("t", policy=RetryPolicy(attempts=6, backoff=0.01, backoff_max=0.02),
                        classify=lambda r: Outcome.retry("quota") if toy.state["calls"] < 4 else None)
    with caplog.at_level(logging.INFO, logger="hubfs.http"):
        client.request("GET", toy.url + "chunk")
    infos = [r for r in caplog.records if r.levelno == logging.INFO and "retry" in r.getMessage()]
    assert len(infos) == 1  # the third retry, once two have piled up quietly


@pytest.fixture(scope="module")
def echo():
    router = Router()

    def show(request):
        return json_response({"method": request.method, "query": request.raw_query,
                              "auth": list(request.auth or ()), "body": request.body.decode(),
                              "agent": request.header("User-Agent"),
                              "extra": request.header("X-Extra"),
                              "cookie": request.header("Cookie")})

    router.add("GET", "/echo", show)
    router.add("POST", "/echo", show)
    router.add("GET", "/moved", lambda request: json_response(
        {}, 302, headers=[("Location", "/echo?from=moved")]))
    router.add("GET", "/cookie", lambda request: json_response(
        {}, headers=[("Set-Cookie", "sticky=1; Path=/")]))
    with start_in_thread(EmulatorServer(router)) as handle:
        yield handle


def test_plain_calls_sent_without_the_session_are_the_same_requests(echo):
    """With no cookies, proxies or environment lookups, calls skip the session's
    per-request work: the query, headers, credentials and body that arrive are the same,
    a redirect is still followed, and a cookie the service sets is sent from then on."""
    client = HttpClient("echo", auth=("key", ""), headers={"User-Agent": "hubfs/test"},
                        policy=FAST)
    for lean in (False, True):
        client.session.trust_env = not lean
        got = client.request("GET", echo.url + "echo", params=[("a", "1"), ("a", "x y")],
                             headers={"X-Extra": "yes"}).json()
        assert got == {"method": "GET", "query": "a=1&a=x+y", "auth": ["key", ""], "body": "",
                       "agent": "hubfs/test", "extra": "yes", "cookie": None}
        posted = client.request("POST", echo.url + "echo", data={"f": "v"}).json()
        assert (posted["method"], posted["body"]) == ("POST", "f=v")
        assert client.request("GET", echo.url + "moved").json()["query"] == "from=moved"
    client.request("GET", echo.url + "cookie")
    assert client.request("GET", echo.url + "echo").json()["cookie"] == "sticky=1"
    client.close()


def test_a_ca_bundle_in_the_environment_keeps_plain_calls_off_the_session(echo, monkeypatch):
    """REQUESTS_CA_BUNDLE (set on many Debian machines) comes with every call as `verify`;
    that alone must not send plain calls through the session's per-request work."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = HttpClient("echo", auth=("key", ""), policy=FAST)

    def refused(*args, **kwargs):
        raise AssertionError("a plain call went through the session")

    monkeypatch.setattr(client.session, "request", refused)
    got = client.request("GET", echo.url + "echo", params={"a": "1"}).json()
    assert (got["query"], got["auth"]) == ("a=1", ["key", ""])
    client.close()
