"""HTTP handlers of the flowthings emulator: the flow and drop services in their envelope.

Every answer is `{"head": {"status", "ok", "messages", "errors", "references"}, "body":
...}` with `head.status` equal to the HTTP status (protocols/flowthings.md section 3):
201 and "A new resource has been created." for creates, 404 with the documented "could
not be located" error, 400 for malformed bodies and filters. Finds take `filter`,
`limit` (default 20, at most `state.max_limit`), `skip` (or `start`), `sort` + `order`,
and for v0.1 `hints`; without `sort` the newest objects come first (an assumption the
notes make from "10 recent Flows"). `MGET` reads many flows or drops by id, or drops of
several flows at once (`MGET /drop`).
"""

import json

from hubfs.emulation import HTTPError, Request, Response, dumps_compact

from . import filters
from .state import StateError, typed

OK = "Your request has been processed successfully."
CREATED = OK + " A new resource has been created."
DEFAULT_LIMIT = 20


def envelope(body, status=200, errors=(), messages=None, references=None):
    ok = 200 <= status < 400
    head = {"status": status, "ok": ok,
            "messages": list(messages if messages is not None else ([OK] if ok else [])),
            "errors": list(errors), "references": references or {}}
    data = dumps_compact({"head": head, "body": body}) + b"\n"
    return Response(status, data, [("Content-Type", "application/json; charset=UTF-8")])


def error(status, message):
    return envelope(None, status, errors=[message])


def _json_body(request):
    try:
        return json.loads(request.body.decode("utf-8")) if request.body.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise HTTPError(error(400, "The request body is not valid JSON.")) from None


def _int(query, names, default, low=0):
    """The first of the parameters *names* in *query* (anything with `.get`) as an int."""
    for name in names:
        raw = query.get(name)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                raise HTTPError(error(400, f"{name} must be an integer.")) from None
            if value < low:
                raise HTTPError(error(400, f"{name} must be at least {low}."))
            return value
    return default


class FlowthingsAPI:
    def __init__(self, state):
        self.state = state

    # -- helpers -------------------------------------------------------------------------

    def account(self, request):
        return request.account  # set by the auth hook

    def run(self, fn, *args, status=200, messages=None):
        try:
            return envelope(fn(*args), status, messages=messages)
        except StateError as exc:
            return error(exc.status, exc.message)

    def select(self, request, objects, params=None):
        """Filter, sort and page *objects* (a list, oldest first) by the find parameters."""
        query = params if params is not None else {k: request.query.get(k) for k in
                                                   ("filter", "sort", "order", "limit", "skip", "start")}
        try:
            predicate = filters.parse(query.get("filter"), self.state.now())
        except filters.FilterError as exc:
            raise HTTPError(error(400, str(exc))) from None
        limit = min(_int(query, ("limit",), DEFAULT_LIMIT, low=1), self.state.max_limit)
        skip = _int(query, ("skip", "start"), 0)
        sort, order = query.get("sort"), (query.get("order") or "asc").lower()
        if order not in ("asc", "desc"):
            raise HTTPError(error(400, "order must be asc or desc."))
        if sort in (None, "", "creationDate") and query.get("filter") in (None, ""):
            # The common case (paging a big flow) is a slice, not a sort.
            if sort in (None, "") or order == "desc":
                end = len(objects) - skip
                return [objects[i] for i in range(end - 1, max(end - limit, 0) - 1, -1)]
            return objects[skip:skip + limit]
        chosen = [o for o in objects if predicate(o)]
        if sort in (None, ""):
            chosen.reverse()
        elif sort != "creationDate" or order == "desc":
            missing = [o for o in chosen if filters.member_value(o, sort) is filters.MISSING]
            present = [o for o in chosen if filters.member_value(o, sort) is not filters.MISSING]
            try:
                present.sort(key=lambda o: filters.member_value(o, sort), reverse=order == "desc")
            except TypeError:
                present.sort(key=lambda o: str(filters.member_value(o, sort)), reverse=order == "desc")
            chosen = present + missing
        return chosen[skip:skip + limit]

    def shown(self, request, drops):
        """Drops as this API version shows them (v0.1 types elements unless hints=0)."""
        if request.match.get("version") == "0.1" and (request.query.get("hints") or "1").lower() not in (
                "0", "false"):
            return [typed(d) for d in drops]
        return drops

    # -- flows ---------------------------------------------------------------------------

    def find_flows(self, request):
        flows = sorted(self.state.account_flows(self.account(request)), key=lambda f: f["creationDate"])
        return envelope(self.select(request, flows))

    def read_flow(self, request):
        return self.run(self.state.flow, self.account(request), request.match["id"])

    def read_flows(self, request):
        ids = _json_body(request)
        if not isinstance(ids, list):
            return error(400, "MGET takes a JSON array of ids.")
        account = self.account(request)
        found = {}
        for flow_id in ids:
            try:
                found[flow_id] = self.state.flow(account, str(flow_id))
            except StateError:
                continue
        return envelope(found)

    def create_flow(self, request):
        body = _json_body(request)
        return self.run(self.state.create_flow, self.account(request), body, status=201,
                        messages=[CREATED])

    def update_flow(self, request):
        return self.run(self.state.update_flow, self.account(request), request.match["id"],
                        _json_body(request))

    def delete_flow(self, request):
        def delete():
            self.state.delete_flow(self.account(request), request.match["id"])
            return {}
        return self.run(delete)

    # -- drops ---------------------------------------------------------------------------

    def _flow(self, request):
        try:
            return self.state.flow(self.account(request), request.match["flow"])
        except StateError as exc:
            raise HTTPError(error(exc.status, exc.message)) from None

    def find_drops(self, request):
        flow = self._flow(request)
        with self.state.lock:
            page = self.select(request, self.state.flow_drops(flow))
        return envelope(self.shown(request, page))

    def find_drops_by_path(self, request):
        path = request.query.get("path")
        if not path:
            return error(400, "The flow path is required.")
        try:
            flow = self.state.flow_by_path(self.account(request), path)
        except StateError as exc:
            return error(exc.status, exc.message)
        with self.state.lock:
            page = self.select(request, self.state.flow_drops(flow))
        return envelope(self.shown(request, page))

    def read_drop(self, request):
        flow = self._flow(request)
        try:
            return envelope(self.shown(request, [self.state.drop(flow, request.match["drop"])])[0])
        except StateError as exc:
            return error(exc.status, exc.message)

    def read_drops(self, request):
        flow = self._flow(request)
        ids = _json_body(request)
        if not isinstance(ids, list):
            return error(400, "MGET takes a JSON array of ids.")
        found = {}
        for drop_id in ids:
            try:
                found[drop_id] = self.shown(request, [self.state.drop(flow, str(drop_id))])[0]
            except StateError:
                continue
        return envelope(found)

    def multi_find_drops(self, request):
        """MGET /drop: `[{"flowId": ..., "params": {...}}, ...]` -> `{flowId: [drops]}`."""
        queries = _json_body(request)
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            return error(400, 'MGET /drop takes [{"flowId": ..., "params": {...}}, ...].')
        out = {}
        for query in queries:
            request.match["flow"] = str(query.get("flowId"))
            flow = self._flow(request)
            params = {k: (None if v is None else str(v)) for k, v in (query.get("params") or {}).items()}
            with self.state.lock:
                out[flow["id"]] = self.shown(request, self.select(request, self.state.flow_drops(flow), params))
        return envelope(out)

    def create_drop(self, request):
        flow = self._flow(request)
        body = _json_body(request)
        return self.run(self.state.create_drop, self.account(request), flow, body, status=201,
                        messages=[CREATED])

    def create_drop_by_path(self, request):
        body = _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("path"), str):
            return error(400, "The flow path is required.")
        try:
            flow = self.state.flow_by_path(self.account(request), body["path"])
        except StateError as exc:
            return error(exc.status, exc.message)
        return self.run(self.state.create_drop, self.account(request), flow, body, status=201,
                        messages=[CREATED])

    def delete_drop(self, request):
        flow = self._flow(request)

        def delete():
            self.state.delete_drop(flow, request.match["drop"])
            return {}
        return self.run(delete)

    def delete_all_drops(self, request):
        flow = self._flow(request)

        def delete():
            self.state.delete_drops(flow)
            return {}
        return self.run(delete)


def not_found(request: Request) -> Response:
    return error(404, "The requested resource could not be located at this address.")
