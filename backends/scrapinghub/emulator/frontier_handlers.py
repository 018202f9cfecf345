"""Frontier (HCF) handlers of the Scrapinghub emulator: `hcf/P/...` HTTP <-> `ProjectFrontiers`.

Endpoints: frontier list and slot list (one JSON array each); add requests (`POST
F/s/SLOT`, JSON lines `{"fp", "p", "qdata", "fdata"}`, answering `{"newcount": N}`; the batch
writer's `?start=` is ignored since fingerprints already deduplicate a re-sent batch; a write
with one malformed line is refused whole with 400); read the queue (`F/s/SLOT/q`, JSON
lines `{"id", "requests": [[fp, qdata], ...]}`, `mincount` = stop after the batch that
reaches that many requests); delete batches (`q/deleted`, JSON lines each a batch id or an
array of ids, unknown ids ignored); list fingerprints (`F/s/SLOT/f`, `{"fp"}` lines sorted
by fingerprint, with `fdata` when one was stored); delete a slot (200 even when absent).
Reads of unknown frontiers or slots are empty, never 404, like the rest of hubstorage.
"""

from __future__ import annotations

from hubfs.emulation import JSON_CT, Request, Response, empty_response, json_response, jsonlines_response

from .frontier import InvalidRequest, ProjectFrontiers
from .handlers import body_lines, project_of, storage_error

_JSON_UTF8 = JSON_CT + "; charset=UTF-8"


class FrontierAPI:
    """The `hcf/...` handlers; `routes.py` binds them to URLs."""

    def __init__(self, state):
        self.state = state

    def _frontiers(self, request: Request) -> ProjectFrontiers:
        return project_of(self.state, request).frontiers

    def list_frontiers(self, request: Request) -> Response:
        return json_response(self._frontiers(request).names(), content_type=_JSON_UTF8)

    def list_slots(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        return json_response(frontiers.slot_names(request.match["frontier"]), content_type=_JSON_UTF8)

    def add(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        m = request.match
        try:
            newcount = frontiers.add(m["frontier"], m["slot"], body_lines(request))
        except InvalidRequest as exc:
            raise storage_error(400, str(exc)) from None
        return json_response({"newcount": newcount}, content_type=_JSON_UTF8)

    def read_queue(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        raw = request.query.get("mincount")
        try:
            mincount = int(raw) if raw not in (None, "") else None
        except ValueError:
            raise storage_error(400, f"Invalid value for mincount: {raw!r}") from None
        if mincount is not None and mincount <= 0:
            mincount = None  # no minimum: the whole queue
        m = request.match
        batches = frontiers.batches(m["frontier"], m["slot"], mincount)
        return jsonlines_response([{"id": b.id, "requests": b.requests} for b in batches],
                                  compress=True)

    def delete_batches(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        ids = []
        for line in body_lines(request):
            # The docs allow one id per line or arrays of ids.
            values = line if isinstance(line, list) else [line]
            if not all(isinstance(v, str) for v in values):
                raise storage_error(400, "Error parsing data, batch ids must be strings")
            ids.extend(values)
        m = request.match
        frontiers.delete_batches(m["frontier"], m["slot"], ids)
        return empty_response()

    def fingerprints(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        m = request.match

        def record(fp, fdata):
            return {"fp": fp} if fdata is None else {"fp": fp, "fdata": fdata}

        pairs = frontiers.fingerprints(m["frontier"], m["slot"])
        return jsonlines_response([record(fp, fdata) for fp, fdata in pairs], compress=True)

    def delete_slot(self, request: Request) -> Response:
        frontiers = self._frontiers(request)
        m = request.match
        frontiers.delete_slot(m["frontier"], m["slot"])
        return empty_response()
