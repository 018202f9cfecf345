"""The one HTTP layer every backend client uses: pooling, timeouts, the retry policy with
its retry classes, per-remote request slots, deadlines, and status-to-error mapping.

Every response first meets the backend's *classify* hook, which may call it transient
(`Outcome.retry`: backoff and try again, counted as an attempt), not ready yet
(`Outcome.wait`: the service asked us to come back later, a DS3 chunk still on tape; the
wait is not a failure and holds no request slot) or final (`Outcome.fail`); without a
verdict the status decides (429/5xx/408 transient, the rest mapped by the one table in
`hubfs.errors`). Connection failures, timeouts and bodies cut mid-transfer are transient
too. Retrying is done here, in one loop, so that one deadline bounds the whole call: no
request waits past it, whatever the service does (a server that accepts and then says
nothing costs the deadline, not six read timeouts). Backoff, its jitter and the parsing of
`Retry-After` are urllib3's `Retry`; a `Retry-After` is honoured up to a cap. Only
idempotent requests are repeated (a POST only when the caller says so). Each remote has
its own bounded number of requests in flight (`max_requests`), so a stalled service fills
its own slots, never another remote's. Every request is logged at DEBUG without
credentials; retries show at INFO once they pile up, and waits at INFO with the time
left, so a user sees why `cat` is slow; final failures become neutral errors with the URL
path in their message.
"""

import dataclasses
import http.client
import logging
import os
import threading
import time
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import RequestHistory, Retry

from hubfs import errors, stats
from hubfs.plain_http import PlainConnections

log = logging.getLogger(__name__)

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
BODY_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
IDEMPOTENT_METHODS = frozenset(("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"))
BODY_CHUNK = 1024 * 1024
WAIT_LOG_EVERY = 30.0
# Retries of one call logged at DEBUG before they are worth an INFO line.
QUIET_RETRIES = 2
# Request arguments a call may have and still be sent without the session (`_send`).
# (`verify` is there because a CA bundle named in the environment, as Debian's
# REQUESTS_CA_BUNDLE often is, comes with every https call: `_with_environment`.)
LEAN_KWARGS = frozenset(("params", "headers", "data", "allow_redirects", "verify"))
# Bodies a lean call to a plain-http URL sends through `hubfs.plain_http` (files and
# iterators go through the transport adapter, which streams them).
PLAIN_BODIES = (bytes, bytearray, memoryview, str, type(None))


class _Adapter(HTTPAdapter):
    """requests' transport adapter with less work per request (its subclass hooks).

    The pool of a (scheme, host, port, TLS settings) is looked up once and kept (the
    adapter's own lookup parses the URL and builds the pool key on every request; a kept
    pool the pool manager has since closed is looked up again), and responses skip the
    cookie jar each one builds (the HTTP client moves a `Set-Cookie` into the session's
    jar itself). Sending, and the mapping of urllib3's errors to requests' exceptions, are
    requests' own.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._pools = {}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        split = urlsplit(request.url)
        key = (split.scheme, split.netloc, verify if isinstance(verify, str) else bool(verify),
               cert if not isinstance(cert, list) else tuple(cert))
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # none yet, or closed by the pool manager
            pool = self._pools[key] = super().get_connection_with_tls_context(
                request, verify, proxies, cert)
        return pool

    def build_response(self, req, resp):
        response = requests.Response()
        response.status_code = resp.status
        response.headers = requests.structures.CaseInsensitiveDict(resp.headers)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode("utf-8") if isinstance(req.url, bytes) else req.url
        response.request = req
        response.connection = self
        return response


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A backend's verdict on a response (see the module docstring)."""

    kind: str  # "retry", "wait" or "fail"
    reason: str = ""
    seconds: float | None = None
    error: Exception | None = None

    @classmethod
    def retry(cls, reason, after=None):
        return cls("retry", reason, after)

    @classmethod
    def wait(cls, reason, seconds):
        return cls("wait", reason, float(seconds))

    @classmethod
    def fail(cls, error):
        return cls("fail", str(error), error=error)


class RetryPolicy:
    """The shared retry settings (one place, so every backend behaves alike).

    *deadline* bounds one call including its retries and waits; *wait_max* bounds the
    not-ready waits a service may ask for within it (they may be long: tape).
    """

    def __init__(self, attempts=6, backoff=0.25, backoff_max=8.0, retry_after_max=30,
                 connect_timeout=10.0, read_timeout=60.0, deadline=30.0, wait_max=900.0):
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.timeout = (connect_timeout, read_timeout)
        self.deadline = deadline
        self.wait_max = wait_max

    def urllib3_retry(self):
        """urllib3's `Retry` as our backoff calculator (jitter, cap, Retry-After parsing);
        the loop in `HttpClient.request` decides when to use it."""
        return Retry(total=self.attempts - 1, backoff_factor=self.backoff,
                     backoff_max=self.backoff_max, backoff_jitter=self.backoff,
                     respect_retry_after_header=True, retry_after_max=self.retry_after_max,
                     raise_on_status=False)

    @staticmethod
    def step(retry):
        """*retry* after one more failed attempt (what its backoff is computed from)."""
        return retry.new(history=retry.history + (RequestHistory(None, None, None, None, None),))

    def backoff_after(self, retry):
        return min(self.backoff_max, retry.get_backoff_time() or self.backoff)

    def sleep_before(self, attempt):
        """Sleep before retry number *attempt* (1-based) of a cut stream a backend resumes."""
        retry = self.urllib3_retry()
        for _ in range(attempt):
            retry = self.step(retry)
        time.sleep(self.backoff_after(retry))


DEFAULT_POLICY = RetryPolicy()


class _Attempts:
    """The state of one call's retry loop: attempts left, the deadline, and log lines."""

    def __init__(self, client, where, deadline):
        self.client = client
        self.policy = client.policy
        self.where = where
        self.started = time.monotonic()
        self.deadline = self.started + (deadline if deadline is not None else self.policy.deadline)
        self.retry = self.policy.urllib3_retry()
        self.failures = 0
        self.waited = 0.0
        self.last_wait_log = None

    def left(self):
        return self.deadline - time.monotonic()

    def timeout(self, requested):
        """The (connect, read) timeout of the next attempt, never past the deadline."""
        connect, read = requested if isinstance(requested, tuple) else (requested, requested)
        left = max(0.5, self.left())
        return (min(connect, left), min(read, left))

    def again(self, reason, after=None):
        """Sleep before the next attempt, or raise `Transient` when none is left."""
        self.failures += 1
        spent = time.monotonic() - self.started
        if self.failures >= self.policy.attempts:
            raise errors.Transient(f"{self.where}: {reason} (gave up after {self.failures} "
                                   f"attempts in {spent:.1f}s)")
        self.retry = self.policy.step(self.retry)
        delay = self.policy.backoff_after(self.retry)
        if after is not None:
            delay = max(delay, min(float(after), self.policy.retry_after_max))
        if delay >= self.left():
            raise errors.Transient(f"{self.where}: {reason} (gave up after {self.failures} "
                                   f"attempts in {spent:.1f}s: the deadline of "
                                   f"{self.deadline - self.started:.0f}s would pass)")
        level = logging.INFO if self.failures > QUIET_RETRIES else logging.DEBUG
        log.log(level, "%s: %s; retry %d of %d in %.1fs", self.where, reason, self.failures,
                self.policy.attempts - 1, delay)
        self.client.count("retries")
        time.sleep(delay)

    def wait(self, reason, seconds):
        """Wait as the service asked (not a failure), within the deadline and `wait_max`."""
        seconds = max(0.0, seconds)
        if self.waited + seconds > self.policy.wait_max or seconds >= self.left():
            raise errors.Transient(f"{self.where}: {reason}; still not ready after waiting "
                                   f"{self.waited:.0f}s (limit {min(self.policy.wait_max, self.deadline - self.started):.0f}s)")
        # One INFO line when a wait starts and then every WAIT_LOG_EVERY seconds: a tape
        # recall polled every few seconds must not fill the log.
        now = time.monotonic()
        level = logging.DEBUG
        if self.last_wait_log is None or now - self.last_wait_log >= WAIT_LOG_EVERY:
            level, self.last_wait_log = logging.INFO, now
        log.log(level, "%s: %s; waiting %.0fs as the service asks (%.0fs waited, %.0fs left)",
                self.where, reason, seconds, self.waited, self.left())
        self.client.count("waits")
        time.sleep(seconds)
        self.waited += seconds


class HttpClient:
    """A pooled HTTP client for one remote; thread-safe (requests sessions are, for use
    from worker threads with distinct requests).

    *classify(response)* is the backend's retry-class hook (see the module docstring);
    *max_requests* bounds this remote's requests in flight.
    """

    def __init__(self, name, auth=None, headers=None, policy=DEFAULT_POLICY, pool_size=16,
                 classify=None, max_requests=None):
        self.name = name
        self.policy = policy
        self.classify = classify
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update(headers or {})
        # No retries inside urllib3: the loop here retries, under one deadline.
        adapter = _Adapter(pool_connections=4, pool_maxsize=pool_size,
                              max_retries=Retry(total=0, connect=0, read=0, status=0,
                                                other=0, redirect=0, raise_on_status=False))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._adapter = adapter
        self._plain = PlainConnections(pool_size)
        self._slots = threading.BoundedSemaphore(max_requests or pool_size)
        self._count_lock = threading.Lock()
        self.counters = {"requests": 0, "retries": 0, "waits": 0}
        # requests reads the proxy, CA bundle and netrc settings of the environment again
        # for every request it sends (a walk over os.environ, 0.1-0.2 ms: a sixth of the
        # CPU of a small PUT). They are read once per scheme and host instead, with the
        # same rules, and passed with each request.
        self.session.trust_env = False
        self._environments = {}

    def _environment(self, url):
        """What requests would take from the environment for *url* (cached per host)."""
        split = urlsplit(url)
        key = (split.scheme, split.netloc)
        found = self._environments.get(key)
        if found is None:
            # A CA bundle only matters to TLS; for plain http it is left out, since
            # requests stats the bundle's path on every request it is given.
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            found = {"proxies": requests.utils.get_environ_proxies(url),  # honours no_proxy
                     "verify": bundle if split.scheme == "https" else None,
                     "auth": requests.utils.get_netrc_auth(url)}
            self._environments[key] = found
        return found

    def _with_environment(self, url, kwargs):
        environment = self._environment(url)
        if environment["proxies"]:
            kwargs["proxies"] = {**environment["proxies"], **(kwargs.get("proxies") or {})}
        if environment["verify"] and kwargs.get("verify") in (None, True):
            kwargs["verify"] = environment["verify"]
        if environment["auth"] and self.session.auth is None and kwargs.get("auth") is None:
            kwargs["auth"] = environment["auth"]

    @property
    def request_count(self):
        return self.counters["requests"]

    def count(self, what):
        with self._count_lock:
            self.counters[what] = self.counters.get(what, 0) + 1
        stats.count(self.name, what)  # the live figures `hubfs status` shows

    def close(self):
        self.session.close()
        self._plain.close()

    def request(self, *args, **kwargs):
        """`_request()`, counting its final failure by class for `hubfs status`."""
        try:
            return self._request(*args, **kwargs)
        except errors.HubfsError as exc:
            stats.error(self.name, exc)
            raise

    def _send(self, method, url, timeout, kwargs, stream=False):
        """One attempt, its body not read yet. Plain calls (URL, query, headers, a body)
        go straight to the transport adapter: the session's per-request work (cookie
        jars, merged settings, hooks, the environment) is a third of the CPU a small
        request costs, and none of it applies while the session has no cookies, no
        proxies and does not read the environment per request. To a plain-http URL such
        a call (body read here, not streamed) goes out on a kept-alive `http.client`
        connection (`hubfs.plain_http`: urllib3's pool and response wrapper were a
        quarter of a small PUT's CPU); to https through the adapter. A cookie the service
        sets goes into the session's jar (and later calls through the session), a
        redirect is followed through the session as before; anything else always goes
        through it."""
        session = self.session
        if (session.trust_env or session.proxies or session.cookies
                or not LEAN_KWARGS.issuperset(kwargs)):
            return session.request(method, url, stream=True, timeout=timeout, **kwargs)
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, kwargs.get("params"))
        headers = dict(session.headers)
        headers.update(kwargs.get("headers") or {})
        prepared.prepare_headers({k: v for k, v in headers.items() if v is not None})
        prepared.prepare_body(kwargs.get("data"), None)
        prepared.prepare_auth(session.auth, url)
        prepared.prepare_hooks({})
        split = urlsplit(prepared.url)
        if split.scheme == "http" and not stream and isinstance(prepared.body, PLAIN_BODIES):
            response = self._plain.send(prepared, split, timeout)
        else:
            response = self._adapter.send(prepared, stream=True, timeout=timeout,
                                          verify=kwargs.get("verify", session.verify),
                                          cert=session.cert)
        if "Set-Cookie" in response.headers:  # from now on the session sends it
            requests.cookies.extract_cookies_to_jar(session.cookies, prepared, response.raw)
        if response.is_redirect and kwargs.get("allow_redirects", True):
            response.close()
            return session.request(method, url, stream=True, timeout=timeout, **kwargs)
        return response

    def _request(self, method, url, *, idempotent=None, stream=False, expect=(200,),
                 deadline=None, into=None, **kwargs):
        """Send one request and return the `requests.Response`.

        *idempotent* defaults to True for GET/HEAD/PUT/DELETE; pass True for a POST that
        may be repeated safely. A status outside *expect* raises the mapped neutral error
        (after the retries its class allows); a status listed in *expect* (say 404 where
        "missing" is an answer) is returned. With *stream* False the body is read here,
        and one cut mid-transfer is fetched again. *deadline* (seconds) bounds the whole
        call, retries and waits included; default the policy's. *into* (a writable buffer)
        takes a success body of exactly its length straight from the socket, and the
        response's `content` is then a memoryview of it: no copies of big bodies on the
        way (a body of another length is read as usual).
        """
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        requested_timeout = kwargs.pop("timeout", self.policy.timeout)
        self._with_environment(url, kwargs)
        where = f"{self.name}: {method} {urlsplit(url).path}"
        attempts = _Attempts(self, where, deadline)
        while True:
            started = time.monotonic()
            try:
                with self._slots:
                    # Always stream at first: requests would otherwise read the body inside
                    # send(), where a cut body cannot be told from a refused connection.
                    response = self._send(method, url, attempts.timeout(requested_timeout),
                                          kwargs, stream)
                    if not stream:
                        # Read now, so a cut body is seen (and retried) here; in large chunks
                        # (requests' own `.content` reads 10 KiB at a time, a quarter slower
                        # on 1 MiB bodies). `_content` is where requests keeps a read body.
                        if into is not None and _fills(response, into):
                            response._content = _read_into(response, into)
                        else:
                            response._content = b"".join(response.iter_content(BODY_CHUNK))
            except BODY_ERRORS as exc:
                reason = describe(exc, url, attempts.timeout(requested_timeout))
                if not idempotent:
                    raise errors.Transient(f"{where}: {reason} (not repeated: the "
                                           "request may have reached the service)") from exc
                attempts.again(reason)
                continue
            self.count("requests")
            if not stream:
                stats.count(self.name, "bytes_fetched", len(response.content))
            log.debug("%s -> %s in %.3fs", where, response.status_code, time.monotonic() - started)
            outcome = self.classify(response) if self.classify is not None else None
            if outcome is None:
                if response.status_code in expect:
                    return response
                if response.status_code in RETRY_STATUSES:
                    outcome = Outcome.retry(f"HTTP {response.status_code}",
                                            after=_retry_after(response))
            if outcome is None:
                detail = error_detail(response)
                response.close()
                raise errors.from_status(response.status_code, where, detail)
            response.close()
            if outcome.kind == "fail":
                raise outcome.error
            if outcome.kind == "wait":
                attempts.wait(outcome.reason, outcome.seconds)
                continue
            if not idempotent:
                detail = error_detail(response)
                raise errors.from_status(response.status_code, where,
                                         outcome.reason + (f": {detail}" if detail else ""))
            try:
                attempts.again(outcome.reason, after=outcome.seconds)
            except errors.Transient as exc:
                detail = error_detail(response)
                raise errors.Transient(f"{exc}" + (f": {detail}" if detail else "")) from None


def _fills(response, into):
    """True when *response* is a success whose plain body has exactly `len(into)` bytes
    (and urllib3 gives access to the `http.client` response under it)."""
    return (200 <= response.status_code < 300 and "Content-Encoding" not in response.headers
            and response.headers.get("Content-Length") == str(memoryview(into).nbytes)
            and getattr(response.raw, "_fp", None) is not None)


def _read_into(response, into):
    """Fill *into* with the body of *response* by `readinto` on the `http.client`
    response under urllib3's (urllib3's own `read` goes through a buffer queue: two more
    copies of every byte); a cut is `ChunkedEncodingError`, retried as any other."""
    view = memoryview(into).cast("B")
    source = response.raw._fp
    got = 0
    try:
        while got < len(view):
            n = source.readinto(view[got:])
            if not n:
                break
            got += n
    except (http.client.HTTPException, OSError) as exc:
        response.close()
        raise requests.exceptions.ChunkedEncodingError(f"body cut after {got} bytes ({exc})") from None
    if got < len(view):
        response.close()
        raise requests.exceptions.ChunkedEncodingError(f"body cut after {got} of {len(view)} bytes")
    response.raw.release_conn()
    return view


def _retry_after(response):
    """Seconds a `Retry-After` header asks for (delta or HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except Exception:  # a malformed header is only a hint
        return None


def error_detail(response):
    """A short, single-line excerpt of an error body (services put the reason there)."""
    try:
        text = response.text  # error bodies are small, even on a streamed request
    except Exception:  # the body is only a hint; a broken one must not mask the status
        return ""
    return " ".join(text.split())[:200]


def describe(exc, url=None, timeout=None):
    """A one-line reason for a transport failure, without URLs full of parameters (the
    host is named where the connection itself failed: which service is down matters)."""
    host = urlsplit(url).netloc if url else ""
    # With urllib3's own retries off, requests reports a read timeout as a ConnectionError
    # around urllib3's MaxRetryError; the reason inside tells what really happened.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        exc = requests.exceptions.ReadTimeout()
    elif isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and \
            not isinstance(reason, urllib3.exceptions.NewConnectionError):
        exc = requests.exceptions.ConnectTimeout()
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect to {host} in time" if host else "connect timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        waited = f" within {timeout[1]:.0f}s" if isinstance(timeout, tuple) else ""
        return f"the service did not answer{waited}"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection cut mid-body"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"connection to {host} failed" if host else "connection failed"
    return type(exc).__name__
