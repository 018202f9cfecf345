"""The Alibaba Cloud Log Service HTTP API (0.6) as hubfs needs it, and nothing else.

Requests go to `http(s)://<project>.<endpoint>` with `Host: <project>.<endpoint host>`;
for an endpoint given as an IP address (a local emulator, a private endpoint) the
connection goes to the address itself and only the Host header names the project,
which is how the service routes (protocols/aliyun-log.md section 1). Every request is
signed (`signing.py`) and sent through `hubfs.http.HttpClient`, which retries 5xx and
cut bodies of reads. Errors arrive as `{"errorCode", "errorMessage"}` and become neutral
errors carrying the code: 404 `NotFound`, 401/403 `AccessDenied`, 400 `InvalidContent`
or `ServiceError`. Quota refusals (403 `ExceedQPSLimit`, `ReadQuotaExceed`,
`WriteQuotaExceed`, ...) are not about permissions: `classify` makes them a retry
class of the shared loop, so they back off and end as `Transient` (EIO) when they
persist. That loop repeats only idempotent requests; a refused PutLogs stored nothing,
so its quota refusals are repeated here, with the same backoff. This module knows
nothing of FUSE or the tree.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import hubfs
from hubfs import errors
from hubfs.http import DEFAULT_POLICY, HttpClient, Outcome

from .signing import sign

log = logging.getLogger(__name__)

QUOTA_CODES = frozenset(("ExceedQPSLimit", "ReadQuotaExceed", "WriteQuotaExceed",
                         "ShardReadQuotaExceed", "ShardWriteQuotaExceed",
                         "MetaOperationQpsLimitExceeded", "ServerBusy"))
# Statuses whose answer is the service's own error envelope, read here; 5xx stay with
# the shared retry policy.
ANSWERED = (200, 400, 401, 403, 404, 405, 409, 411, 413, 415)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
PULL_COUNT = 100  # LogGroups per PullLogs request (the service allows 1-1000)


class Pull:
    """One PullLogs answer: the body as sent, how to decode it, and the next cursor."""

    __slots__ = ("body", "compress_type", "raw_size", "groups", "next_cursor")

    def __init__(self, body, compress_type, raw_size, groups, next_cursor):
        self.body, self.compress_type, self.raw_size = body, compress_type, raw_size
        self.groups, self.next_cursor = groups, next_cursor


class Client:
    def __init__(self, name, endpoint, key_id, secret, policy=DEFAULT_POLICY, pool_size=16):
        self.name = name
        if "://" not in endpoint:
            endpoint = "http://" + endpoint
        parts = urlsplit(endpoint)
        if not parts.hostname:
            raise errors.ConfigError(f"remote {name!r}: endpoint {endpoint!r} has no host")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.endpoint = f"{self.scheme}://{parts.netloc}"
        self._raw_ip = bool(_IPV4.fullmatch(self.host)) or ":" in self.host
        self._key_id = key_id
        self._secret = secret
        self.policy = policy
        self.http = HttpClient(name, headers={"User-Agent": f"hubfs/{hubfs.__version__}"},
                               policy=policy, pool_size=pool_size, classify=classify)

    def close(self):
        self.http.close()

    def _url(self, project, resource):
        if not project or self._raw_ip:
            return self.endpoint + resource
        netloc = f"{project}.{self.host}" + (f":{self.port}" if self.port else "")
        return f"{self.scheme}://{netloc}{resource}"

    def request(self, method, project, resource, params=None, body=b"", headers=None,
                expect_missing=False):
        """Send one signed request; returns the `requests.Response` (status 200), or None
        for a 404 when *expect_missing*. Quota errors are retried with backoff."""
        where = f"{self.name}: {method} {project or ''}{resource}"
        attempt = 0
        while True:
            attempt += 1
            sent = dict(headers or {})
            sent["Host"] = f"{project}.{self.host}" if project else self.host
            sign(method, resource, params, sent, body, self._key_id, self._secret)
            response = self.http.request(
                method, self._url(project, resource), params=params, data=body or None,
                headers=sent, expect=ANSWERED, idempotent=None if method == "GET" else False)
            if response.status_code == 200:
                return response
            code, message = _envelope(response)
            if response.status_code == 403 and code in QUOTA_CODES:
                # Only a PutLogs gets here (the shared loop retried a read's refusals).
                if attempt < self.policy.attempts:
                    log.debug("%s: %s, retrying", where, code)
                    self.policy.sleep_before(attempt)
                    continue
                raise errors.Transient(f"{where}: {code} after {attempt} attempts: {message}")
            if response.status_code == 404 and expect_missing:
                return None
            raise _error(response.status_code, code, message, where)

    # -- projects, logstores, shards -------------------------------------------------

    def list_projects(self):
        names, offset = [], 0
        while True:
            data = self.request("GET", None, "/", {"offset": str(offset), "size": "500",
                                                    "resourceGroupId": ""}).json()
            page = [p["projectName"] for p in data.get("projects", [])]
            names += page
            offset += len(page)
            if not page or offset >= int(data.get("total", 0)):
                return names

    def get_project(self, project):
        response = self.request("GET", project, "/", expect_missing=True)
        return None if response is None else response.json()

    def list_logstores(self, project):
        names, offset = [], 0
        while True:
            data = self.request("GET", project, "/logstores",
                                {"offset": str(offset), "size": "500"}).json()
            page = list(data.get("logstores", []))
            names += page
            offset += len(page)
            if not page or offset >= int(data.get("total", 0)):
                return names

    def get_logstore(self, project, logstore):
        """The logstore's configuration dict, or None when it does not exist."""
        try:
            response = self.request("GET", project, f"/logstores/{logstore}", expect_missing=True)
        except errors.NotFound:
            return None
        return None if response is None else response.json()

    def list_shards(self, project, logstore):
        return self.request("GET", project, f"/logstores/{logstore}/shards").json()

    # -- cursors and pulls -----------------------------------------------------------

    def cursor(self, project, logstore, shard, start):
        """GetCursor: *start* is "begin", "end" or unix seconds (server receive time)."""
        data = self.request("GET", project, f"/logstores/{logstore}/shards/{shard}",
                            {"type": "cursor", "from": str(start)},
                            headers={"Content-Type": "application/json"}).json()
        return data["cursor"]

    def pull(self, project, logstore, shard, cursor, end_cursor=None, count=PULL_COUNT):
        """One PullLogs request; the body is handed back still compressed."""
        params = {"type": "log", "cursor": cursor, "count": str(count)}
        if end_cursor:
            params["end_cursor"] = end_cursor
        where = f"{self.name}: {project}/{logstore} shard {shard}"
        for attempt in (1, 2):
            try:
                response = self.request("GET", project, f"/logstores/{logstore}/shards/{shard}",
                                        params, headers={"Accept": "application/x-protobuf",
                                                         "Accept-Encoding": "lz4"})
                break
            except errors.ServiceError as exc:
                # A cursor the service calls invalid mid-read is retried once: a real
                # expiry (TTL) fails again and the read fails instead of ending short.
                if "InvalidCursor" not in str(exc) or attempt == 2:
                    raise
                self.policy.sleep_before(attempt)
        headers = response.headers
        try:
            next_cursor = headers["x-log-cursor"]
            groups = int(headers["x-log-count"])
            raw_size = int(headers["x-log-bodyrawsize"])
        except (KeyError, ValueError):
            raise errors.ServiceError(f"{where}: PullLogs answer without x-log-cursor, "
                                      "x-log-count or x-log-bodyrawsize") from None
        return Pull(response.content, headers.get("x-log-compresstype", ""), raw_size, groups,
                    next_cursor)

    # -- writes ----------------------------------------------------------------------

    def put_logs(self, project, logstore, raw_group, compressed, hash_key=None):
        """PutLogs of one serialized LogGroup (*compressed* is its lz4 raw block)."""
        headers = {"Content-Type": "application/x-protobuf",
                   "x-log-bodyrawsize": str(len(raw_group)), "x-log-compresstype": "lz4"}
        if hash_key is None:
            self.request("POST", project, f"/logstores/{logstore}/shards/lb", None,
                         compressed, headers)
        else:
            self.request("POST", project, f"/logstores/{logstore}/shards/route",
                         {"key": hash_key}, compressed, headers)


def classify(response):
    """The retry class of an answer: quota refusals are transient, not "forbidden".
    (A PutLogs' refusal is handed back as an answer instead: `Client.request` repeats it.)"""
    if response.status_code == 403 and response.request.method in ("GET", "HEAD"):
        code, message = _envelope(response)
        if code in QUOTA_CODES:
            return Outcome.retry(f"HTTP 403 {code}" + (f": {message}" if message else ""))
    return None


def _envelope(response):
    try:
        data = json.loads(response.content or b"{}")
    except ValueError:
        data = None
    if isinstance(data, dict) and "errorCode" in data:
        return str(data["errorCode"]), " ".join(str(data.get("errorMessage", "")).split())[:200]
    text = " ".join(response.text.split())[:200] if response.content else ""
    return "", text


def _error(status, code, message, where):
    text = f"{where}: HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if status == 404:
        return errors.NotFound(text)
    if status in (401, 403):
        return errors.AccessDenied(text)
    if status == 413 or code in ("PostBodyInvalid", "PostBodyTooLarge", "InvalidTimestamp"):
        return errors.InvalidContent(text)
    return errors.ServiceError(text)
