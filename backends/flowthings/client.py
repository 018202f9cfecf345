"""The flowthings.io platform API as hubfs needs it: flows by path, drops by page, new drops.

URLs are `<url>/v<version>/<account>/<service>` with the token in `X-Auth-Token` (and the
account in `X-Auth-Account`, as the Python client sent it); bodies are JSON in the
`{"head": ..., "body": ...}` envelope, whose `head.status` decides success
(protocols/flowthings.md sections 1-3). Flows are found with the filter language
(`path == '...'`, `path =~ /^...\\//`), drops are paged oldest first with `limit`/`skip`.
A page shorter than asked is the end only when nothing follows it, so a service that
caps `limit` silently costs requests, never drops. Pages of a flow's drops are
fetched several at a time and handed back in order. The v0.1 API typed each element as
`{"type": T, "value": V}`: we ask for plain values (`hints=0`) and unwrap any typed value
that still comes back, so drops read the same whichever version the server speaks.
Every request goes through `hubfs.http.HttpClient` (retries, timeouts, status mapping);
a 429 is waited out and sent again even for a drop's POST (the service did nothing),
while any other failure of a POST is not repeated here, since the drop may have been
stored. This module knows nothing of FUSE or of the node tree.
"""

import json
import re
from urllib.parse import urlsplit

import hubfs
from hubfs import errors
from hubfs.http import DEFAULT_POLICY, HttpClient, Outcome
from hubfs.parallel import ordered_map

VERSIONS = ("0.1", "4.0")
# Drops per page. The service's cap on `limit` is not documented (a smaller cap only
# costs more requests, see above).
DROP_PAGE = 1000
FLOW_PAGE = 500
PAGES_IN_FLIGHT = 4
# The element types of the v0.1 API (protocols/flowthings.md section 7).
ELEM_TYPES = frozenset((
    "string", "integer", "float", "boolean", "date", "list", "set", "sortedSet", "map",
    "sortedMap", "location", "length", "duration", "media", "text", "url", "email", "id",
    "dropRef", "flowRef"))
_SPECIAL = re.compile(r"([\\/^$.|?*+()\[\]{}-])")


def quote_string(value):
    """A filter-language string literal (single quotes, as the Python client wrote them)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def regex_prefix(path):
    """A filter regex matching every path below *path* (`/` written `\\/`)."""
    return "/^" + _SPECIAL.sub(r"\\\1", path + "/") + "/"


def plain_elems(elems):
    """*elems* with v0.1 typed wrappers replaced by their values."""
    if not isinstance(elems, dict):
        return elems
    out = {}
    for key, value in elems.items():
        if (isinstance(value, dict) and len(value) == 2 and "type" in value and "value" in value
                and value["type"] in ELEM_TYPES):
            value = value["value"]
        out[key] = value
    return out


def classify(response):
    """A 429 is the service asking us to come back later, before it did anything: wait as
    it says (Retry-After, else a second) and send again, a drop's POST included."""
    if response.status_code == 429:
        return Outcome.wait("HTTP 429 (too many requests)", _retry_after(response))
    return None


def _retry_after(response):
    value = (response.headers.get("Retry-After") or "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


class Client:
    def __init__(self, name, url, account, token, version="4.0", policy=DEFAULT_POLICY,
                 drop_page=DROP_PAGE, pages_in_flight=PAGES_IN_FLIGHT):
        if version not in VERSIONS:
            raise errors.ConfigError(f"remote {name!r}: version must be one of {', '.join(VERSIONS)}")
        self.name = name
        self.account = account
        self.version = version
        self.base = f"{url.rstrip('/')}/v{version}/{account}"
        self.drop_page = drop_page
        self.pages_in_flight = pages_in_flight
        self.http = HttpClient(name, headers={
            "X-Auth-Token": token, "X-Auth-Account": account, "Accept": "application/json",
            "User-Agent": f"hubfs/{hubfs.__version__}"}, policy=policy,
            pool_size=max(16, 2 * pages_in_flight), classify=classify)

    def close(self):
        self.http.close()

    # -- the envelope --------------------------------------------------------------------

    def call(self, method, path, params=None, body=None, idempotent=None, missing=False):
        """One request; returns the envelope's body, or None for a 404 when *missing*."""
        url = self.base + path
        where = f"{self.name}: {method} {urlsplit(url).path}"
        kwargs = {}
        if body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self.http.request(method, url, params=params, idempotent=idempotent,
                                     expect=(200, 201, 400, 401, 403, 404), **kwargs)
        try:
            answer = json.loads(response.content)
            head = answer["head"]
            status = int(head.get("status", response.status_code))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise errors.ServiceError(f"{where}: HTTP {response.status_code}, answer is not "
                                      "a flowthings envelope") from None
        if 200 <= status < 400 and 200 <= response.status_code < 400:
            return answer.get("body")
        reason = "; ".join(str(e) for e in head.get("errors") or []) or f"HTTP {status}"
        if status == 404 and missing:
            return None
        if status in (401, 403):
            raise errors.AccessDenied(f"{where}: {reason}")
        if status == 404:
            raise errors.NotFound(f"{where}: {reason}")
        if status == 400:
            raise errors.InvalidContent(f"{where}: {reason}")
        raise errors.from_status(status, where, reason)

    # -- flows ---------------------------------------------------------------------------

    def check(self):
        self.call("GET", "/flow", params={"limit": 1})

    def find_flows(self, filter_text, limit=FLOW_PAGE):
        """Every flow matching *filter_text*, in path order."""
        found = []
        skip = 0
        while True:
            page = self.call("GET", "/flow", params={"filter": filter_text, "sort": "path",
                                                     "order": "asc", "limit": limit, "skip": skip})
            if not isinstance(page, list):
                raise errors.ServiceError(f"{self.name}: GET /flow: body is not a list")
            if not page:
                return found
            found.extend(page)
            skip += len(page)

    def flows_below(self, path):
        """The flows whose paths start with `path/`."""
        return self.find_flows(f"path =~ {regex_prefix(path)}")

    def flow_or_below(self, path):
        """`(flow at path or None, whether any flow lies below path)` in one request."""
        page = self.call("GET", "/flow", params={
            "filter": f"(path == {quote_string(path)}) || (path =~ {regex_prefix(path)})",
            "sort": "path", "order": "asc", "limit": 2})
        page = page if isinstance(page, list) else []
        exact = next((f for f in page if f.get("path") == path), None)
        below = any(f.get("path", "").startswith(path + "/") for f in page)
        return exact, below

    def get_flow(self, flow_id):
        return self.call("GET", f"/flow/{flow_id}")

    def create_flow(self, path):
        return self.call("POST", "/flow", body={"path": path}, idempotent=False)

    # -- drops ---------------------------------------------------------------------------

    def drops(self, flow_id, skip, limit):
        """One page of a flow's drops, oldest first, elements plain."""
        params = {"sort": "creationDate", "order": "asc", "limit": limit, "skip": skip}
        if self.version == "0.1":
            params["hints"] = 0
        page = self.call("GET", f"/drop/{flow_id}", params=params)
        if not isinstance(page, list):
            raise errors.ServiceError(f"{self.name}: GET /drop/{flow_id}: body is not a list")
        for drop in page:
            if isinstance(drop, dict) and "elems" in drop:
                drop["elems"] = plain_elems(drop["elems"])
        return page

    def drop_pages(self, flow_id, transform=list):
        """Yield `transform(page)` for every page of the flow's drops, in order."""
        size = self.drop_page
        ended = False

        def offsets():
            skip = 0
            while not ended:  # read lazily: stops asking once a short page was seen
                yield skip
                skip += size

        skip = 0
        pages = ordered_map(lambda at: self._page(flow_id, at, size, transform), offsets(),
                            self.pages_in_flight)
        try:
            for count, chunk in pages:
                if count:
                    yield chunk
                skip += count
                if count < size:
                    ended = True
                    break
        finally:
            pages.close()  # cancels the pages asked for past the end
        # The end, or a cap on `limit`: only the drop right after the short page can tell.
        if self._page(flow_id, skip, 1, len)[0]:
            # The service caps `limit`: the pages asked at multiples of *size* were at the
            # wrong offsets. Go on one page at a time from the first drop not yet seen.
            yield from self._sequential(flow_id, skip, size, transform)

    def _sequential(self, flow_id, skip, size, transform):
        while True:
            count, chunk = self._page(flow_id, skip, size, transform)
            if not count:
                return
            yield chunk
            skip += count

    def _page(self, flow_id, skip, size, transform):
        page = self.drops(flow_id, skip, size)
        return len(page), transform(page)

    def create_drop(self, flow_id, drop):
        """POST one drop; not repeated on a cut answer (the service may have stored it)."""
        return self.call("POST", f"/drop/{flow_id}", body=drop, idempotent=False)

