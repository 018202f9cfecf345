"""The collections part of the Scrapinghub storage API (`collections/P/...`), over the
remote's one `Client` (so retries, timeouts and error mapping are the shared ones).

Stores are addressed by (type, name), type one of `s`, `cs`, `vs`, `vcs`. Scans are read
in JSON mode page by page with `count` and `startafter` (the service sorts by key), a
page shorter than asked ending the scan, as with the official client's page size of
1000. One key is looked up with an exact-key scan (`?key=K`) rather than
`GET .../KEY`: it carries the same `_ts` as a listing (so a file's mtime does not depend
on how it was found) and keeps keys holding `/` out of the URL path, where proxies
decode `%2F`. Sets and deletes are POSTs the service treats as idempotent (protocol
section 9.3), so they are sent with `idempotent=True` and retried.
"""

import gzip

from .client import loads_lines

STORE_TYPES = ("s", "cs", "vs", "vcs")
# The official client's scan page; the service is known to honour it.
SCAN_PAGE = 1000


class CollectionsAPI:
    def __init__(self, client):
        self.client = client
        self.name = client.name

    def _get_lines(self, *segments, params=None):
        response = self.client.http.request("GET", self.client.url(*segments), params=params)
        return loads_lines(response.content, self.name, response)

    def list_stores(self, project):
        """`(type, name)` of every store of *project*, in the service's order."""
        stores = []
        for record in self._get_lines("collections", project, "list"):
            if isinstance(record, dict) and record.get("type") in STORE_TYPES \
                    and isinstance(record.get("name"), str):
                stores.append((record["type"], record["name"]))
        return stores

    def scan(self, project, type_, name, meta=("_key",), count=SCAN_PAGE,
             startafter=None, key=None):
        """One page of records (values with the *meta* fields added)."""
        params = [("meta", field) for field in meta] + [("count", count)]
        if startafter is not None:
            params.append(("startafter", startafter))
        if key is not None:
            params.append(("key", key))
        return [record for record in
                self._get_lines("collections", project, type_, name, params=params)
                if isinstance(record, dict) and isinstance(record.get("_key"), str)]

    def pages(self, project, type_, name, meta=("_key",)):
        """Yield every record of a store, a page (list) at a time, in key order."""
        startafter = None
        while True:
            page = self.scan(project, type_, name, meta, SCAN_PAGE, startafter)
            if not page:
                return
            # Taken before yielding: the caller may take the records apart.
            startafter, full = page[-1]["_key"], len(page) >= SCAN_PAGE
            yield page
            if not full:
                return

    def lookup(self, project, type_, name, key, meta=("_key",)):
        """The record of *key* (with *meta*), or None when the store does not hold it."""
        for record in self.scan(project, type_, name, meta, 1, key=key):
            if record["_key"] == key:
                return record
        return None

    def has_keys(self, project, type_, name):
        return bool(self.scan(project, type_, name, count=1))

    def set_lines(self, project, type_, name, lines, compress=False):
        """Set the records of *lines* (encoded JSON objects holding `_key`) in one POST."""
        body = b"\n".join(lines) + b"\n"
        headers = {}
        if compress:
            body = gzip.compress(body, compresslevel=1)
            headers["content-encoding"] = "gzip"
        self.client.http.request("POST", self.client.url("collections", project, type_, name),
                                 data=body, headers=headers, idempotent=True)

    def delete_keys(self, project, type_, name, lines):
        """Delete keys given as encoded JSON strings (absent keys are fine)."""
        self.client.http.request(
            "POST", self.client.url("collections", project, type_, name, "deleted"),
            data=b"\n".join(lines) + b"\n", idempotent=True)
