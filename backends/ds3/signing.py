"""Request signing for both dialects, as `requests` auth objects.

DS3 takes AWS signature V2 only: HMAC-SHA1 over `VERB, checksum slot, Content-Type, Date,
x-amz-* headers, resource`, where the resource is the path as sent plus the sub-resources
the Spectra SDKs sign (`?delete`, `?versioning=`, `?versions=`, `?uploads`) and never the
rest of the query (`operation`, `job`, `offset`...). It is small and fixed, so it is
written here, checked in the tests against the Spectra SDK's published test vector and
the canonical strings the SDK builds. Plain S3 takes V4, also written here (it was
botocore's `S3SigV4Auth`, whose request copies and key derivation on every request cost
a tenth of a small PUT's CPU), checked against AWS's published S3 example and in use
against this emulator's S3 mode and moto; the body's SHA-256 is signed, since endpoints
may be plain http.
"""

import base64
import email.utils
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlsplit

import requests

_SUBRESOURCES = ("delete", "versioning", "versions", "uploads")
_CHECKSUMS = ("Content-MD5", "Content-CRC32", "Content-CRC32C", "Content-SHA256", "Content-SHA512")


def v2_string_to_sign(method, path, query, headers):
    """The V2 string to sign for a request (*headers*: a case-insensitive mapping)."""
    present = dict(parse_qsl(query, keep_blank_values=True))
    resource = path
    for name in _SUBRESOURCES:
        if name in present:
            value = present[name]
            if name == "delete" or (name == "uploads" and not value):
                resource += f"?{name}"
            else:
                resource += f"?{name}={value}"
    slot = next((headers[name] for name in _CHECKSUMS if headers.get(name)), "")
    amz = sorted((key.lower(), str(value).strip()) for key, value in headers.items()
                 if key.lower().startswith("x-amz-"))
    amz_text = "".join(f"{key}:{value}\n" for key, value in amz)
    return f"{method}\n{slot}\n{headers.get('Content-Type', '')}\n{headers.get('Date', '')}\n{amz_text}{resource}"


def v2_signature(secret_key, string_to_sign):
    digest = hmac.new(secret_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class SigV2Auth(requests.auth.AuthBase):
    """Signs each request with DS3's AWS signature V2 (sets `Date` and `Authorization`)."""

    def __init__(self, access_key, secret_key):
        self.access_key = access_key.strip()
        self._secret_key = secret_key.strip()

    def __repr__(self):  # never show the secret in a traceback
        return f"SigV2Auth({self.access_key!r})"

    def __call__(self, request):
        request.headers["Date"] = email.utils.formatdate(usegmt=True)
        if request.body is not None and "Content-Type" not in request.headers:
            request.headers["Content-Type"] = "application/octet-stream"
        split = urlsplit(request.url)
        text = v2_string_to_sign(request.method, split.path or "/", split.query, request.headers)
        request.headers["Authorization"] = f"AWS {self.access_key}:{v2_signature(self._secret_key, text)}"
        return request


class SigV4Auth(requests.auth.AuthBase):
    """Signs each request with AWS signature V4 for S3 (sets `X-Amz-Date`,
    `X-Amz-Content-SHA256` and `Authorization`).

    S3's rules: the path is signed as sent (already percent-encoded once, never
    normalized: `//` and `.` in keys stay), the query as its sorted `name=value` pairs
    (the client encodes them strictly), the body's SHA-256 (endpoints may be plain http).
    Signed headers: `host` and every `x-amz-*`, `content-type`, `content-md5` and `range`
    header present; not the transport's own (`accept-encoding`, `content-length`), which
    a proxy may change. The signing key is derived once per day, not per request.
    """

    def __init__(self, access_key, secret_key, region, clock=time.gmtime):
        self.access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self._clock = clock
        self._keys = {}  # date -> signing key (one entry)

    def __repr__(self):  # never show the secret in a traceback
        return f"SigV4Auth({self.access_key!r})"

    def _signing_key(self, date):
        key = self._keys.get(date)
        if key is None:
            key = ("AWS4" + self._secret_key).encode("utf-8")
            for part in (date, self.region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
            self._keys = {date: key}
        return key

    def __call__(self, request):
        body = request.body
        if hasattr(body, "read"):
            raise TypeError("SigV4Auth signs bytes bodies only")
        if isinstance(body, str):
            body = body.encode("utf-8")
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", self._clock())
        date = amz_date[:8]
        payload = hashlib.sha256(body or b"").hexdigest()
        request.headers["X-Amz-Date"] = amz_date
        request.headers["X-Amz-Content-SHA256"] = payload
        split = urlsplit(request.url)
        signed = {"host": _host(split)}
        for name, value in request.headers.items():
            lower = name.lower()
            if lower.startswith("x-amz-") or lower in _V4_SIGNED:
                signed[lower] = " ".join(str(value).split())
        names = sorted(signed)
        signed_headers = ";".join(names)
        query = "&".join(sorted(pair if "=" in pair else pair + "="
                                for pair in split.query.split("&") if pair))
        canonical = "\n".join([request.method.upper(), split.path or "/", query,
                               "".join(f"{name}:{signed[name]}\n" for name in names),
                               signed_headers, payload])
        scope = f"{date}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
        signature = hmac.new(self._signing_key(date), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        request.headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                            f"SignedHeaders={signed_headers}, Signature={signature}")
        return request


_V4_SIGNED = ("content-type", "content-md5", "range")


def _host(split):
    """The Host header http.client sends for the URL (no default port)."""
    host = split.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(split.scheme)
    if split.port is not None and split.port != default:
        host += f":{split.port}"
    return host
