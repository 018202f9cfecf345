"""Bounded log of the requests an emulator served, with secrets kept out of it.

`RequestLog` keeps the last N requests as method, path, query and status, so tests can
assert what a client actually sent (how many pages, which retries) through `server.requests`
or the control paths. `redact_query` replaces the values of secret-looking query parameters
(`REDACTED_PARAMS`) with `***` before a query reaches this log or the debug log.
"""

from __future__ import annotations

import collections
import threading
from urllib.parse import unquote

DEFAULT_LOG_LIMIT = 100_000
# Query parameters whose values never reach the debug log or the HTTP request log.
REDACTED_PARAMS = frozenset({
    "apikey", "api_key", "access_token", "token", "password", "secret",
    "signature", "x-amz-signature", "x-amz-credential", "awsaccesskeyid",
})


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
