"""Signing SLS requests: the V1 (HMAC-SHA1) `Authorization` header and its companions.

protocols/aliyun-log.md section 3.1: the signature covers the verb, the upper-case hex
MD5 of the body, its Content-Type, the Date, every `x-log-*`/`x-acs-*` header but
`x-log-date` (sorted by name) and the resource: the path, then the query parameters
sorted by key with raw (not URL-encoded) values. `x-log-date` repeats the Date for
proxies that drop it and is added after signing, as the service's own SDK does.
"""

import base64
import hashlib
import hmac
from email.utils import formatdate

API_VERSION = "0.6.0"


def sign(method, resource, params, headers, body, key_id, secret, now=None):
    """Add the auth headers to *headers* (a dict, changed in place) for one request."""
    headers["x-log-apiversion"] = API_VERSION
    headers["x-log-signaturemethod"] = "hmac-sha1"
    if body:
        headers["Content-MD5"] = hashlib.md5(body).hexdigest().upper()
    else:
        headers["x-log-bodyrawsize"] = "0"
    date = formatdate(now, usegmt=True)
    headers["Date"] = date
    signed = sorted((name.lower(), str(value)) for name, value in headers.items()
                    if name.lower().startswith(("x-log-", "x-acs-"))
                    and not name.lower().startswith("x-log-meta-"))
    canonical = resource
    if params:
        canonical += "?" + "&".join(f"{k}={params[k]}" for k in sorted(params))
    text = (f"{method}\n{headers.get('Content-MD5', '')}\n{headers.get('Content-Type', '')}\n"
            f"{date}\n" + "".join(f"{k}:{v}\n" for k, v in signed) + canonical)
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    headers["Authorization"] = f"LOG {key_id}:{base64.b64encode(digest).decode()}"
    headers["x-log-date"] = date
    return headers
