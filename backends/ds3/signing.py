"""Request signing for both dialects, as `requests` auth objects.

DS3 takes AWS signature V2 only: HMAC-SHA1 over `VERB, checksum slot, Content-Type, Date,
x-amz-* headers, resource`, where the resource is the path as sent plus the sub-resources
the Spectra SDKs sign (`?delete`, `?versioning=`, `?versions=`, `?uploads`) and never the
rest of the query (`operation`, `job`, `offset`...). It is small and fixed, so it is
written here, checked in the tests against the Spectra SDK's published test vector and
the canonical strings the SDK builds. Plain S3 takes V4, signed by botocore's
`S3SigV4Auth` (a maintained signer that treats S3 paths as S3 does, without collapsing
`//` or `.` in keys); the body's SHA-256 is signed, since endpoints may be plain http.
"""

import base64
import email.utils
import hashlib
import hmac
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
    """Signs each request with AWS signature V4 through botocore's S3 signer."""

    def __init__(self, access_key, secret_key, region):
        from botocore.auth import S3SigV4Auth
        from botocore.credentials import Credentials

        self.access_key = access_key
        self._signer = S3SigV4Auth(Credentials(access_key, secret_key), "s3", region)

    def __repr__(self):
        return f"SigV4Auth({self.access_key!r})"

    def __call__(self, request):
        from botocore.awsrequest import AWSRequest

        body = request.body
        if hasattr(body, "read"):
            raise TypeError("SigV4Auth signs bytes bodies only")
        headers = {key: value for key, value in request.headers.items()
                   if key.lower() not in ("authorization", "x-amz-date", "x-amz-content-sha256")}
        signed = AWSRequest(method=request.method, url=request.url, headers=headers, data=body or b"")
        signed.context = {}
        self._signer.add_auth(signed)
        for key in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            if key in signed.headers:
                request.headers[key] = signed.headers[key]
        return request
