"""The S3 requests both dialects share, through `hubfs.http.HttpClient`.

Buckets, listings (one page per call, with prefix, delimiter and marker), HEAD, ranged
GET, PUT, copy and DELETE. `dialect` is "ds3" or "s3": it picks the signature (V2 or
V4), the spelling of query names (DS3 SDKs send `max_keys`, AWS clients `max-keys`) and
what a DELETE of a missing object means (DS3 answers 404, S3 204). DS3 answers 307 to
mean "busy, send the same request again" (not a redirect: there is no Location), so
`send()` repeats those itself with a short backoff; 503 and the other retryable statuses
are retried by the shared HTTP layer, which honours Retry-After. Object bodies are
checked against the length asked for: a short body is an error, never a short read.
"""

import logging
import random
import time
from urllib.parse import quote

from hubfs import errors
from hubfs.http import HttpClient

from . import xmlwire
from .signing import SigV2Auth, SigV4Auth

log = logging.getLogger(__name__)

BUSY_RESENDS = 8      # 307 "busy" answers resent before giving up (the SDKs use 5)
BUSY_PAUSE = 0.2      # seconds before the first resend, doubled each time (capped at 5 s)


def object_path(bucket, key=""):
    """`/bucket/key` percent-encoded as the SDKs send it (`/` kept, everything else quoted)."""
    path = "/" + quote(bucket, safe="")
    if key:
        path += "/" + quote(key, safe="/~")
    return path


class ObjectClient:
    def __init__(self, name, endpoint, access_key, secret_key, dialect="ds3", region="us-east-1",
                 policy=None, pool_size=16):
        self.name = name
        self.dialect = dialect
        self.endpoint = endpoint.rstrip("/")
        auth = SigV2Auth(access_key, secret_key) if dialect == "ds3" else SigV4Auth(access_key, secret_key, region)
        kwargs = {} if policy is None else {"policy": policy}
        self.http = HttpClient(name, auth=auth, pool_size=pool_size, **kwargs)
        self.busy_resends = 0   # how many 307s were answered (tests and logs read it)

    def close(self):
        self.http.close()

    @property
    def request_count(self):
        return self.http.request_count

    def q(self, name):
        """A query parameter name in this dialect's spelling (`max_keys` / `max-keys`)."""
        if self.dialect == "ds3":
            return name
        return {"upload_id": "uploadId", "part_number": "partNumber"}.get(name, name.replace("_", "-"))

    def send(self, method, path, *, params=None, expect=(200,), **kwargs):
        """One request; 307 "busy" answers are sent again (bounded); returns the response."""
        url = self.endpoint + path
        pause = BUSY_PAUSE
        for attempt in range(BUSY_RESENDS + 1):
            response = self.http.request(method, url, params=params, expect=tuple(expect) + (307,),
                                         allow_redirects=False, **kwargs)
            if response.status_code != 307 or 307 in expect:
                return response
            response.close()
            self.busy_resends += 1
            if attempt < BUSY_RESENDS:
                log.debug("%s: %s %s: busy (307), sending again", self.name, method, path)
                time.sleep(pause * (1 + random.random()))
                pause = min(pause * 2, 5.0)
        raise errors.Transient(f"{self.name}: {method} {path}: still busy (307) after "
                               f"{BUSY_RESENDS + 1} attempts")

    # -- buckets

    def list_buckets(self):
        response = self.send("GET", "/")
        return xmlwire.buckets(response.content, f"{self.name}: GET /")

    def bucket_exists(self, bucket):
        response = self.send("HEAD", object_path(bucket), expect=(200, 404))
        return response.status_code == 200

    def create_bucket(self, bucket):
        response = self.send("PUT", object_path(bucket), expect=(200, 409), data=b"")
        if response.status_code == 409:
            raise errors.Exists(f"{self.name}: bucket {bucket!r} exists")

    def delete_bucket(self, bucket):
        response = self.send("DELETE", object_path(bucket), expect=(204, 200, 409))
        if response.status_code == 409:
            raise errors.NotEmpty(f"{self.name}: bucket {bucket!r} is not empty")

    def list_page(self, bucket, prefix="", delimiter="/", marker="", max_keys=1000):
        params = {"prefix": prefix, self.q("max_keys"): str(max_keys)}
        if delimiter:
            params["delimiter"] = delimiter
        if marker:
            params["marker"] = marker
        path = object_path(bucket)
        response = self.send("GET", path, params=params)
        return xmlwire.listing(response.content, f"{self.name}: GET {path}")

    # -- objects

    def head(self, bucket, key):
        """(size, mtime, etag) of an object; `NotFound` when it is missing."""
        path = object_path(bucket, key)
        response = self.send("HEAD", path)
        import email.utils
        try:
            mtime = email.utils.parsedate_to_datetime(response.headers.get("Last-Modified", "")).timestamp()
        except (TypeError, ValueError):
            mtime = 0.0
        return int(response.headers.get("Content-Length", "0")), mtime, response.headers.get("ETag", "").strip('"')

    def get_range(self, bucket, key, offset, length, params=None, deadline_note=""):
        """Exactly *length* bytes at *offset* (`Range` with absolute offsets)."""
        if length <= 0:
            return b""
        path = object_path(bucket, key)
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        response = self.send("GET", path, params=params, headers=headers, expect=(200, 206))
        data = response.content
        if response.status_code == 200 and len(data) > length:
            data = data[offset:offset + length]  # a server that ignored Range sent everything
        if len(data) != length:
            raise errors.Transient(f"{self.name}: GET {path}: {len(data)} bytes at {offset} instead of "
                                   f"{length}{deadline_note}")
        return data

    def put(self, bucket, key, data, params=None):
        """PUT *data* (bytes) as the object or as one blob / part; returns the ETag."""
        path = object_path(bucket, key)
        response = self.send("PUT", path, params=params, data=data,
                             headers={"Content-Length": str(len(data))})
        return response.headers.get("ETag", "").strip('"')

    def copy(self, src_bucket, src_key, bucket, key):
        path = object_path(bucket, key)
        self.send("PUT", path, data=b"", headers={"x-amz-copy-source": object_path(src_bucket, src_key)})

    def delete(self, bucket, key):
        """Remove an object; `NotFound` when it was not there (DS3 says so, S3 does not)."""
        self.send("DELETE", object_path(bucket, key), expect=(204, 200))
