"""Request signatures the emulator checks: AWS signature V2 (DS3) and V4 (plain S3).

V2 is what every DS3 SDK sends: `Authorization: AWS <id>:<base64 HMAC-SHA1>` over
`VERB\\n<checksum slot>\\n<Content-Type>\\n<Date>\\n<x-amz-* headers><resource>`, where the
resource is the path exactly as sent plus the few sub-resources the SDKs sign (`?delete`,
`?versioning=`, `?versions=`, `?uploads`); the query string is not signed. The Python 3
SDK puts whichever checksum header it sends (Content-MD5, Content-CRC32, ..., and even
`Range`) into the MD5 slot, and the Java and Go SDKs do the same with their checksum
headers, so every one of those present is tried. V4 follows the AWS rules: canonical
request (path as sent, sorted and strictly encoded query, the signed headers, the payload
hash the client declared, checked against the body when it is a real hash), string to
sign over the credential scope, the derived signing key. Checked separately from the
client's signer: the emulator never imports hubfs's backend code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Optional
from urllib.parse import quote, unquote

from hubfs.emulation import Request

_V2_SUBRESOURCES = ("delete", "versioning", "versions", "uploads")
_AWS_SUBRESOURCES = ("acl", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
                     "policy", "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId",
                     "versioning", "versions", "website")
_CHECKSUM_HEADERS = ("Content-MD5", "Content-CRC32", "Content-CRC32C", "Content-SHA256", "Content-SHA512",
                     "Range")
_V4_RE = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)")


class Refusal(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _query_pairs(raw_query: str) -> list[tuple[str, Optional[str]]]:
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        name, sep, value = part.partition("=")
        pairs.append((unquote(name), unquote(value) if sep else None))
    return pairs


def v2_resources(request: Request) -> list[str]:
    """The canonical resources a V2 signer may have used for *request*."""
    pairs = _query_pairs(request.raw_query)
    present = dict(pairs)
    sdk = request.raw_path
    for name in _V2_SUBRESOURCES:
        if name in present:
            value = present[name]
            sdk += f"?{name}" if name == "delete" or (name == "uploads" and value in (None, "")) \
                else f"?{name}={value}"
    aws_parts = sorted((n, v) for n, v in pairs if n in _AWS_SUBRESOURCES)
    aws = request.raw_path
    if aws_parts:
        aws += "?" + "&".join(n if v in (None, "") else f"{n}={v}" for n, v in aws_parts)
    return [sdk] if sdk == aws else [sdk, aws]


def v2_string(request: Request, slot: str, resource: str, date: str) -> str:
    amz = sorted((key.lower(), " ".join(str(value).split())) for key, value in request.headers.items()
                 if key.lower().startswith("x-amz-"))
    merged: dict = {}
    for key, value in amz:
        merged.setdefault(key, []).append(value)
    amz_text = "".join(f"{key}:{','.join(values)}\n" for key, values in merged.items())
    return (f"{request.method}\n{slot}\n{request.header('Content-Type', '')}\n{date}\n"
            f"{amz_text}{resource}")


def sign_v2(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def check_v2(request: Request, header: str, secrets: dict) -> str:
    """Verify a V2 signature; returns the access id or raises `Refusal`."""
    try:
        access_id, signature = header[4:].strip().rsplit(":", 1)
    except ValueError:
        raise Refusal("InvalidSecurity", "malformed Authorization header") from None
    secret = secrets.get(access_id.strip())
    if secret is None:
        raise Refusal("InvalidAccessKeyId", "the access id is not known to this appliance")
    date = request.header("Date", "") or ""
    dates = [date, ""] if request.header("x-amz-date") else [date]
    slots = [""] + [request.header(name) for name in _CHECKSUM_HEADERS if request.header(name)]
    for resource in v2_resources(request):
        for slot in slots:
            for when in dates:
                expected = sign_v2(secret, v2_string(request, slot, resource, when))
                if hmac.compare_digest(expected, signature.strip()):
                    return access_id
    raise Refusal("SignatureDoesNotMatch",
                  "the request signature we calculated does not match the signature you provided")


def _v4_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _v4_quote(text: str) -> str:
    return quote(text, safe="-_.~")


def check_v4(request: Request, header: str, secrets: dict) -> str:
    """Verify a V4 signature; returns the access id or raises `Refusal`."""
    match = _V4_RE.match(header.strip())
    if not match:
        raise Refusal("AuthorizationHeaderMalformed", "the authorization header is malformed")
    credential, signed_headers, signature = match.groups()
    try:
        access_id, date, region, service, terminal = credential.split("/")
    except ValueError:
        raise Refusal("AuthorizationHeaderMalformed", "the credential scope is malformed") from None
    secret = secrets.get(access_id)
    if secret is None:
        raise Refusal("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    amz_date = request.header("x-amz-date") or ""
    payload = request.header("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    if re.fullmatch(r"[0-9a-f]{64}", payload) and payload != hashlib.sha256(request.body).hexdigest():
        raise Refusal("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not "
                      "match what was computed.")
    query = sorted((_v4_quote(name), _v4_quote(value or "")) for name, value in _query_pairs(request.raw_query))
    names = signed_headers.split(";")
    canonical_headers = "".join(f"{name}:{' '.join((request.header(name) or '').split())}\n" for name in names)
    canonical = "\n".join([request.method, request.raw_path, "&".join(f"{k}={v}" for k, v in query),
                           canonical_headers, signed_headers, payload])
    scope = f"{date}/{region}/{service}/{terminal}"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    expected = hmac.new(_v4_key(secret, date, region, service), to_sign.encode("utf-8"),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refusal("SignatureDoesNotMatch",
                      "The request signature we calculated does not match the signature you provided.")
    return access_id


def authenticate(request: Request, secrets: dict, allow_v4: bool) -> str:
    """The access id of a correctly signed *request*; raises `Refusal` otherwise."""
    header = request.header("Authorization") or ""
    if header.startswith("AWS "):
        return check_v2(request, header, secrets)
    if header.startswith("AWS4-HMAC-SHA256"):
        if not allow_v4:
            raise Refusal("InvalidSecurity", "this appliance accepts AWS signature version 2 only")
        return check_v4(request, header, secrets)
    raise Refusal("AccessDenied", "the request carries no Authorization header")
