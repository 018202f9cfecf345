"""Checking the SLS request signature (V1, HMAC-SHA1) the way the service does.

Written from the rules in protocols/aliyun-log.md section 3.1, independently of hubfs's
own signer: the string to sign is the verb, `Content-MD5`, `Content-Type`, `Date` (or
`x-log-date` when `Date` is missing), the `x-log-*`/`x-acs-*` headers (lowercased,
trimmed, sorted; never `x-log-date` or `x-log-meta-*`) and the resource (the decoded
path, then `?` and the decoded query pairs sorted by key, raw values, `k=v` joined with
`&`). Refusals use the service's error codes: a missing header is 400, an unknown key
401 `Unauthorized`, a wrong signature 401 `SignatureNotMatch`, a Date more than 15
minutes away from the server clock 400 `RequestTimeExpired`.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from typing import Callable, Optional
from urllib.parse import parse_qsl

MAX_SKEW = 15 * 60


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def string_to_sign(method: str, headers, path: str, raw_query: str) -> str:
    signed = []
    for name in headers.keys():
        lname = name.strip().lower()
        if (lname.startswith("x-log-") or lname.startswith("x-acs-")) \
                and lname != "x-log-date" and not lname.startswith("x-log-meta-"):
            signed.append((lname, headers.get(name).strip()))
    signed.sort()
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    resource = path + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")
    date = headers.get("Date") or headers.get("x-log-date") or ""
    return "\n".join((method, headers.get("Content-MD5") or "", headers.get("Content-Type") or "",
                      date, "")) + "".join(f"{k}:{v}\n" for k, v in signed) + resource


def verify(method: str, headers, path: str, raw_query: str, body: bytes,
           secret_of: Callable[[str], Optional[str]], now: int) -> str:
    """Return the AccessKeyId of a correctly signed request, else raise `Refusal`."""
    auth = headers.get("Authorization")
    if not auth:
        raise Refusal(401, "Unauthorized", "no Authorization header")
    scheme, _, credential = auth.strip().partition(" ")
    key_id, sep, signature = credential.strip().rpartition(":")
    if scheme != "LOG" or not sep or not key_id:
        raise Refusal(400, "MissAccessKeyId", "the Authorization header is not LOG <AccessKeyId>:<signature>")
    if not headers.get("x-log-apiversion"):
        raise Refusal(400, "MissingAPIVersion", "the x-log-apiversion header is required")
    if headers.get("x-log-apiversion") != "0.6.0":
        raise Refusal(400, "InvalidAPIVersion", f"API version {headers.get('x-log-apiversion')} is not supported")
    method_name = headers.get("x-log-signaturemethod")
    if not method_name:
        raise Refusal(400, "MissingSignatureMethod", "the x-log-signaturemethod header is required")
    if method_name != "hmac-sha1":
        raise Refusal(400, "InvalidSignatureMethod", f"signature method {method_name} is not supported")
    date = headers.get("Date") or headers.get("x-log-date")
    if not date:
        raise Refusal(400, "MissingDate", "the Date header is required")
    try:
        sent = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        raise Refusal(400, "InvalidDateFormat", f"Date {date!r} is not an RFC 1123 date") from None
    if abs(sent - now) > MAX_SKEW:
        raise Refusal(400, "RequestTimeExpired", "request time is more than 15 minutes away "
                      "from the server time")
    secret = secret_of(key_id)
    if secret is None:
        raise Refusal(401, "Unauthorized", f"AccessKeyId {key_id} is not found or disabled")
    expected = base64.b64encode(hmac.new(secret.encode("utf-8"),
                                         string_to_sign(method, headers, path, raw_query).encode("utf-8"),
                                         hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        raise Refusal(401, "SignatureNotMatch", f"Signature {signature} not matched.")
    md5 = headers.get("Content-MD5")
    if body and md5 and md5.upper() != hashlib.md5(body).hexdigest().upper():
        raise Refusal(400, "InvalidContentMD5", "Content-MD5 does not match the body")
    return key_id
