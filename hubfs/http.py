"""The one HTTP layer every backend client uses: pooling, timeouts, the retry policy, and
status-to-error mapping.

Retries are urllib3's `Retry` (jittered exponential backoff, `Retry-After` honoured but
capped, so a hostile or confused server cannot park a syscall for an hour), applied to
idempotent requests only: a POST is retried only when the caller says it is safe. Bodies
that are cut mid-transfer are retried here for requests read whole; streamed reads are
resumed by the backend, which knows where the stream can restart. Every request is logged
at DEBUG as one line without credentials, and final failures become the neutral errors of
`hubfs.errors` with the URL path in their message.
"""

import logging
import random
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hubfs import errors

log = logging.getLogger(__name__)

RETRY_STATUSES = (408, 429, 500, 502, 503, 504)
BODY_ERRORS = (
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)


class RetryPolicy:
    """The shared retry settings (one place, so every backend behaves alike)."""

    def __init__(self, attempts=6, backoff=0.25, backoff_max=8.0, retry_after_max=30,
                 connect_timeout=10.0, read_timeout=60.0):
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.timeout = (connect_timeout, read_timeout)

    def urllib3_retry(self, any_method):
        """Build the urllib3 `Retry` for a session; *any_method* also retries POST/PATCH."""
        return Retry(
            total=self.attempts - 1,
            connect=self.attempts - 1,
            read=self.attempts - 1,
            status=self.attempts - 1,
            other=0,
            allowed_methods=None if any_method else Retry.DEFAULT_ALLOWED_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff,
            respect_retry_after_header=True,
            retry_after_max=self.retry_after_max,
            # Hand back the last response instead of raising, so the caller can turn the
            # service's own error body into a message.
            raise_on_status=False,
        )

    def sleep_before(self, attempt):
        """Sleep before retry number *attempt* (1-based) of a cut body or stream."""
        delay = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        time.sleep(delay + random.random() * self.backoff)


DEFAULT_POLICY = RetryPolicy()


class HttpClient:
    """A pooled HTTP client for one remote; thread-safe (requests sessions are, for use
    from worker threads with distinct requests)."""

    def __init__(self, name, auth=None, headers=None, policy=DEFAULT_POLICY, pool_size=16):
        self.name = name
        self.policy = policy
        self._sessions = {}
        for any_method in (False, True):
            session = requests.Session()
            session.auth = auth
            session.headers.update(headers or {})
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size,
                                  max_retries=policy.urllib3_retry(any_method))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._sessions[any_method] = session
        self._count_lock = threading.Lock()
        self.request_count = 0

    def close(self):
        for session in self._sessions.values():
            session.close()

    def request(self, method, url, *, idempotent=None, stream=False, expect=(200,), **kwargs):
        """Send one request and return the `requests.Response`.

        *idempotent* defaults to True for GET/HEAD/PUT/DELETE; pass True for a POST that
        may be repeated safely. A status outside *expect* raises the mapped neutral error;
        a status listed in *expect* (say 404 where "missing" is an answer) is returned.
        With *stream* False a body cut mid-transfer is fetched again (idempotent only).
        """
        if idempotent is None:
            idempotent = method in Retry.DEFAULT_ALLOWED_METHODS
        session = self._sessions[bool(idempotent and method not in Retry.DEFAULT_ALLOWED_METHODS)]
        kwargs.setdefault("timeout", self.policy.timeout)
        where = f"{self.name}: {method} {urlsplit(url).path}"
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                # Always stream at first: requests would otherwise read the body inside
                # send(), where a cut body cannot be told from a refused connection.
                response = session.request(method, url, stream=True, **kwargs)
            except requests.exceptions.RetryError as exc:
                raise errors.Transient(f"{where}: gave up after {self.policy.attempts} attempts") from exc
            except BODY_ERRORS as exc:  # urllib3 has already retried connecting
                raise errors.Transient(f"{where}: {describe(exc)}") from exc
            if not stream:
                try:
                    response.content  # read now, so a cut body is seen (and retried) here
                except BODY_ERRORS as exc:
                    if idempotent and attempt < self.policy.attempts:
                        log.debug("%s: %s; retrying", where, describe(exc))
                        self.policy.sleep_before(attempt)
                        continue
                    raise errors.Transient(f"{where}: {describe(exc)} "
                                           f"(after {attempt} attempts)") from exc
            with self._count_lock:
                self.request_count += 1
            log.debug("%s -> %s in %.3fs", where, response.status_code, time.monotonic() - started)
            if response.status_code in expect:
                return response
            detail = error_detail(response)
            response.close()
            if idempotent and response.status_code in RETRY_STATUSES:
                detail = f"after {self.policy.attempts} attempts" + (f": {detail}" if detail else "")
            raise errors.from_status(response.status_code, where, detail)


def error_detail(response):
    """A short, single-line excerpt of an error body (services put the reason there)."""
    try:
        text = response.text  # error bodies are small, even on a streamed request
    except Exception:  # the body is only a hint; a broken one must not mask the status
        return ""
    return " ".join(text.split())[:200]


def describe(exc):
    """A one-line reason for a transport failure, without URLs full of parameters."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection cut mid-body"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed"
    return type(exc).__name__
