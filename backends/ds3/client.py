"""The S3 requests both dialects share, through `hubfs.http.HttpClient`.

Buckets, listings (one page per call, with prefix, delimiter and marker), HEAD, ranged
GET, PUT, copy and DELETE. `dialect` is "ds3" or "s3": it picks the signature (V2 or
V4), the spelling of query names (DS3 SDKs send `max_keys`, AWS clients `max-keys`) and
what a DELETE of a missing object means (DS3 answers 404, S3 204). The DS3 answers the
shared HTTP layer cannot know are classified here (`classify`): 307 means "busy, send
the same request again" (not a redirect: there is no Location), a retry; a
chunks-ready answer without chunks is "not ready yet", a wait of Retry-After seconds that
is not a failure and holds no request slot. 503 and the other retryable statuses are
retried by the shared layer, which honours Retry-After. Object bodies are checked
against the length asked for: a short body is an error, never a short read.
"""

import email.utils
from urllib.parse import quote, urlsplit

from hubfs import errors
from hubfs.http import HttpClient, Outcome

from . import xmlwire
from .signing import SigV2Auth, SigV4Auth


CHUNKS_READY = "/_rest_/job_chunk"
MIN_WAIT = 0.05       # seconds: never poll faster than this, whatever Retry-After says


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
        self.http = HttpClient(name, auth=auth, pool_size=pool_size, classify=self.classify, **kwargs)
        self.busy_resends = 0   # 307 answers sent again (tests read these two counters)
        self.chunk_waits = 0    # chunks-ready answers without chunks, waited out

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

    def classify(self, response):
        """DS3's retry classes (see the module docstring); None: the default rules."""
        if self.dialect != "ds3":
            return None
        if response.status_code == 307:
            self.busy_resends += 1
            return Outcome.retry("busy (307), sending the same request again")
        if (response.status_code == 200 and urlsplit(response.url).path == CHUNKS_READY
                and b"<Objects" not in response.content):
            self.chunk_waits += 1
            return Outcome.wait("no chunk of the job is ready yet (cache or tape)", retry_after(response))
        return None

    def send(self, method, path, *, params=None, expect=(200,), **kwargs):
        """One request through the shared HTTP layer; returns the response.

        The query is encoded here, strictly (`%20` for a space, never `+`), because a V4
        signature covers it as sent and a `+` means a space to some servers and a plus
        to others."""
        url = self.endpoint + path
        if params:
            url += "?" + "&".join(f"{quote(str(k), safe='-_.~')}={quote(str(v), safe='-_.~')}"
                                  for k, v in params.items())
        return self.http.request(method, url, expect=tuple(expect), allow_redirects=False, **kwargs)

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
        try:
            mtime = email.utils.parsedate_to_datetime(response.headers.get("Last-Modified", "")).timestamp()
        except (TypeError, ValueError):
            mtime = 0.0
        return int(response.headers.get("Content-Length", "0")), mtime, response.headers.get("ETag", "").strip('"')

    def get_range(self, bucket, key, offset, length, params=None, version=None):
        """Exactly *length* bytes at *offset* (`Range` with absolute offsets); with
        *version* (an ETag) `Conflict` when the object no longer has it."""
        if length <= 0:
            return b""
        path = object_path(bucket, key)
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        if version:
            headers["If-Match"] = f'"{version}"'
        # The body lands in one buffer straight from the socket (the core's reader keeps
        # blocks as views of it): big sequential reads spend no CPU on copies.
        response = self.send("GET", path, params=params, headers=headers, expect=(200, 206),
                             into=bytearray(length))
        data = response.content
        if response.status_code == 200 and len(data) > length:
            data = data[offset:offset + length]  # a server that ignored Range sent everything
        if len(data) != length:
            raise errors.Transient(f"{self.name}: GET {path}: {len(data)} bytes at {offset} instead of "
                                   f"{length}")
        return data

    def put(self, bucket, key, data, params=None):
        """PUT *data* (bytes) as the object or as one blob / part; returns the ETag."""
        path = object_path(bucket, key)
        response = self.send("PUT", path, params=params, data=data,
                             headers={"Content-Length": str(len(data))})
        return response.headers.get("ETag", "").strip('"')

    def copy(self, src_bucket, src_key, bucket, key):
        """Server-side copy (S3 `x-amz-copy-source`); returns the new ETag."""
        path = object_path(bucket, key)
        response = self.send("PUT", path, data=b"",
                             headers={"x-amz-copy-source": object_path(src_bucket, src_key)})
        root = xmlwire.parse(response.content, f"{self.name}: PUT {path} (copy)")
        if root.tag.rsplit("}", 1)[-1] == "Error":
            raise errors.Transient(f"{self.name}: PUT {path} (copy): {xmlwire.text(root, 'Code')}")
        return xmlwire.text(root, "ETag").strip('"')

    def delete(self, bucket, key):
        """Remove an object; `NotFound` when it was not there (DS3 says so, S3 does not)."""
        self.send("DELETE", object_path(bucket, key), expect=(204, 200))


def retry_after(response):
    """Seconds of a Retry-After header (at least MIN_WAIT; 1 s when absent or odd)."""
    try:
        return max(float(response.headers.get("Retry-After", "1")), MIN_WAIT)
    except ValueError:
        return 1.0
