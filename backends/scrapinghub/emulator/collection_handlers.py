"""Collections handlers of the Scrapinghub emulator: `collections/P/...` HTTP <-> `ProjectCollections`.

Endpoints: `list`; set records (`POST TYPE/NAME`, JSON lines with `_key`, gzip or identity
bodies, `?start=` of the batch writer ignored since sets are idempotent); get one key (JSON
line or msgpack by Accept, 404 `Not Found` when absent); scan (`key`, `prefix`,
`prefixcount`, `start`, `startafter`, `count`, `startts`/`endts` in ms, `filter`, `meta` of
`_key`/`_ts`, `nodata`), sorted by key with the meta fields appended after the value's own
(`_key` last); `count` (same filters, `nextstart` when the store is too big for one
answer); delete keys (`POST TYPE/NAME/deleted`, or `DELETE TYPE/NAME/KEY`); and truncate
(`POST delete?name=NAME`, 202). A key is the rest of the decoded path, so it may hold `/`.
Error bodies are the service's plain-text ones (400 parse errors, 413 too large).
"""

from __future__ import annotations

from typing import Any

from hubfs.emulation import (JSON_CT, Request, Response, empty_response, json_response, jsonlines_response,
                             msgpack_response)

from .handlers import body_lines, project_of, query_int, storage_error, wants_msgpack
from .records import FilterError, parse_filters
from .stores import (COUNT_PAGE, InvalidName, InvalidRecord, ProjectCollections, ScanQuery, ValueTooLarge,
                     check_store)

_TRUE = ("1", "true", "yes")


def scan_query(request: Request) -> ScanQuery:
    """The selection parameters of a scan or count request; raises a 400 HTTPError."""
    q = request.query
    try:
        filters = parse_filters(q.getlist("filter"))
    except FilterError as exc:
        raise storage_error(400, str(exc)) from None
    count = query_int(request, "count")
    prefixcount = query_int(request, "prefixcount")
    return ScanQuery(keys=q.getlist("key") or None, prefixes=q.getlist("prefix"),
                     prefixcount=max(0, prefixcount) if prefixcount is not None else None,
                     start=q.get("start") or None, startafter=q.get("startafter") or None,
                     count=max(0, count) if count is not None else None,
                     startts=query_int(request, "startts"), endts=query_int(request, "endts"),
                     filters=filters)


class CollectionsAPI:
    """The `collections/...` handlers; `routes.py` binds them to URLs."""

    def __init__(self, state, count_page: int = COUNT_PAGE):
        self.state = state
        self.count_page = count_page

    def _collections(self, request: Request) -> ProjectCollections:
        return project_of(self.state, request).collections

    def _store(self, request: Request) -> tuple[ProjectCollections, str, str]:
        collections = self._collections(request)
        type_, name = request.match["type"], request.match["name"]
        try:
            check_store(type_, name)
        except InvalidName as exc:
            raise storage_error(400, str(exc)) from None
        return collections, type_, name

    # ------------------------------------------------------------------ handlers

    def listing(self, request: Request) -> Response:
        return jsonlines_response(self._collections(request).listing(), compress=True)

    def write(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        try:
            collections.write(type_, name, body_lines(request))
        except ValueTooLarge as exc:
            raise storage_error(413, str(exc)) from None
        except InvalidRecord as exc:
            raise storage_error(400, str(exc)) from None
        return empty_response()

    def get_key(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        found = collections.get(type_, name, request.match["key"])
        if found is None:
            raise storage_error(404)
        if wants_msgpack(request):
            return msgpack_response([found[0]], compress=True)
        return jsonlines_response([found[0]], compress=True)

    def scan(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        result = collections.scan(type_, name, scan_query(request))
        meta = [m for m in ("_ts", "_key") if m in request.query.getlist("meta")]
        nodata = (request.query.get("nodata") or "").lower() in _TRUE

        def shaped(row: tuple[str, Any, int]) -> Any:
            key, value, ts = row
            out = {} if nodata else dict(value)
            # Meta fields follow the value's own fields, `_key` always last (as recorded).
            if "_ts" in meta:
                out["_ts"] = ts
            if "_key" in meta:
                out["_key"] = key
            return out

        records = (shaped(row) for row in result.rows)
        if wants_msgpack(request):
            return msgpack_response(records, compress=True)
        return jsonlines_response(records, compress=True)

    def count(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        result = collections.scan(type_, name, scan_query(request), limit=self.count_page)
        body: dict[str, Any] = {"count": len(result.rows), "scanned": result.scanned}
        if result.nextstart is not None:
            body["nextstart"] = result.nextstart
        return json_response(body, content_type=JSON_CT + "; charset=UTF-8")

    def delete_keys(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        keys = body_lines(request)
        if not all(isinstance(key, str) for key in keys):
            raise storage_error(400, "Error parsing data, keys must be JSON strings")
        collections.delete(type_, name, keys)
        return empty_response()

    def delete_key(self, request: Request) -> Response:
        collections, type_, name = self._store(request)
        collections.delete(type_, name, [request.match["key"]])
        return empty_response()

    def truncate(self, request: Request) -> Response:
        collections = self._collections(request)
        name = request.query.get("name")
        if not name:
            raise storage_error(400, "Missing name parameter")
        collections.truncate(name)
        return json_response({"status": "success", "deleted": name}, 202)
