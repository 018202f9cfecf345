"""Storage API handlers of the Scrapinghub emulator: HTTP requests <-> `ScrapinghubState` calls.

Covers the storage host ("hubstorage" and JobQ, served at the root of the emulator):
system time, spider ids, project summaries and settings, the job queue (list, count,
summaries, jobsummary, update, push, startjob, cancel), last job per spider, job metadata,
and job data reads/writes/stats. Each handler parses its parameters, calls the state, and
serialises the answer the way the real service does (JSON lines, 200 `null` for missing
fields, plain-text error bodies, JSON ones on JobQ). Decisions where the service is not
documented: an unknown project answers 403 (the service cannot tell "absent" from "not
yours"); an unknown job reads as empty (metadata `{}`, fields null, no records, zero
stats) like any absent key in a key-value store, while writes to it answer 404.
"""

from __future__ import annotations

from typing import Any, Optional

from hubfs.emulation import (JSON_CT, JSONLINES_CT, MSGPACK_CT, HTTPError, Request, Response, empty_response,
                             json_response, jsonlines_response, text_response)

from . import serving
from .records import FilterError
from .state import (LIST_LIMIT, QUEUE_STATES, STATES, BadRecord, DuplicateJob, Job, RecordTooLarge,
                    ScrapinghubState)

MSGPACK_ACCEPT = "application/x-msgpack"


# ----------------------------------------------------------------------------- error bodies

def storage_error(status: int, text: Optional[str] = None) -> HTTPError:
    """Plain-text storage error; 401/404 carry no Content-Type, as recorded."""
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
              404: "Not Found", 413: "Request Entity Too Large"}.get(status, "Error")
    body = (text or reason).rstrip("\n") + "\n"
    content_type = None if status in (401, 404) else "text/plain; charset=UTF-8"
    return HTTPError(text_response(body, status, content_type=content_type))


def body_lines(request: Request, error=storage_error) -> list:
    """The request body as JSON lines; a malformed body is a 400 in the service's words."""
    try:
        return request.jsonlines()
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(400, f"Error parsing data, {exc}") from None


def project_of(state, request: Request, error=storage_error):
    """The project named in the URL; 403 when absent (the service cannot tell "no such
    project" from "not yours")."""
    project = state.project(request.match["project"])
    if project is None:
        raise error(403)
    return project


def wants_msgpack(request: Request) -> bool:
    return MSGPACK_ACCEPT in (request.header("Accept") or "")


def jobq_error(status: int, message: Optional[str] = None) -> HTTPError:
    """JobQ errors are JSON objects with `error` and `message`."""
    reason = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
              404: "Not Found"}.get(status, "Error")
    return HTTPError(json_response({"error": reason, "message": message or reason}, status))


def query_int(request: Request, name: str, default: Optional[int] = None, error=storage_error) -> Optional[int]:
    """Query parameter *name* as an int (*default* when absent); a bad value is a 400."""
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise error(400, f"Invalid value for {name}: {raw!r}") from None


class StorageAPI:
    """The storage-host handlers; `routes.py` binds them to URLs."""

    def __init__(self, state: ScrapinghubState, server):
        self.state = state
        self.server = server

    # ------------------------------------------------------------------ helpers

    def _project(self, request: Request, error=storage_error):
        return project_of(self.state, request, error)

    def _job(self, request: Request, error=storage_error) -> Optional[Job]:
        self._project(request, error)
        m = request.match
        return self.state.job(m["project"], m["spider"], m["job"])

    # ------------------------------------------------------------------ misc

    def system_ts(self, request: Request) -> Response:
        return json_response(self.state.clock())

    def spider_id(self, request: Request) -> Response:
        project = self._project(request)
        create = request.query.get("create", "").lower() in ("1", "true", "yes")
        return json_response(self.state.spider_id(project.id, request.match["name"], create=create))

    def all_summaries(self, request: Request) -> Response:
        states = [s for s in request.query.getlist("state") if s in QUEUE_STATES]
        out = []
        for project_id in sorted(self.state.projects):
            summary = self.state.project_summary(project_id)
            record = {"project": project_id, "has_capacity": True}
            # With `state`, only the asked-for counters are reported (undocumented; a guess).
            for name in states or QUEUE_STATES:
                record[name] = summary[name]
            out.append(record)
        return json_response(out, content_type=JSONLINES_CT)

    def project_summary(self, request: Request) -> Response:
        project = self._project(request)
        return json_response(self.state.project_summary(project.id))

    def get_settings(self, request: Request) -> Response:
        project = self._project(request)
        name = request.match.get("name")
        if name is None:
            return json_response(project.settings)
        return json_response(project.settings.get(name))

    def post_settings(self, request: Request) -> Response:
        project = self._project(request)
        values = body_lines(request)
        if len(values) != 1 or not isinstance(values[0], dict):
            raise storage_error(400, "settings must be one JSON object")
        with self.state.lock:
            project.settings = dict(values[0])
        return empty_response()

    def delete_setting(self, request: Request) -> Response:
        project = self._project(request)
        with self.state.lock:
            project.settings.pop(request.match["name"], None)
        return empty_response()

    # ------------------------------------------------------------------ job queue

    def _list_args(self, request: Request) -> dict:
        q = request.query
        states = q.getlist("state") or ["finished"]
        bad = [s for s in states if s not in STATES]
        if bad:
            raise jobq_error(400, f"Invalid state: {bad[0]}")
        return dict(spider=q.get("spider"), states=states, has_tags=q.getlist("has_tag"),
                    lacks_tags=q.getlist("lacks_tag"),
                    startts=query_int(request, "startts", error=jobq_error),
                    endts=query_int(request, "endts", error=jobq_error), stop=q.get("stop"))

    def jobq_list(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        jobs = self.state.list_jobs(project.id, **self._list_args(request))
        start = max(0, query_int(request, "start", 0, jobq_error))
        count = query_int(request, "count", LIST_LIMIT, jobq_error)
        page = jobs[start:start + max(0, min(count, LIST_LIMIT))]
        jobmeta = request.query.getlist("jobmeta") or None
        now = self.state.clock()
        return jsonlines_response([self.state.summary_record(j, jobmeta, now) for j in page])

    def jobq_count(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        return json_response(len(self.state.list_jobs(project.id, **self._list_args(request))))

    def jobq_summary(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        spider = request.match.get("spider")
        queue = request.match.get("queue")
        if queue is not None and queue not in QUEUE_STATES:
            raise jobq_error(404)
        args = dict(spider_id=int(spider) if spider else None,
                    count=query_int(request, "count", None, jobq_error),
                    start=max(0, query_int(request, "start", 0, jobq_error)),
                    jobmeta=request.query.getlist("jobmeta") or None)
        queues = [queue] if queue else list(QUEUE_STATES)
        return jsonlines_response([self.state.queue_summary(project.id, name, **args) for name in queues])

    def jobq_jobsummary(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        jobmeta = [m for m in request.query.getlist("jobmeta") if m != "key"] or None
        now = self.state.clock()
        out = []
        for key in request.query.getlist("key"):
            for job in self.state.jobs_for_key(project.id, key):
                out.append(self.state.summary_record(job, jobmeta, now))
        return jsonlines_response(out)

    def jobq_update(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        out = []
        for entry in body_lines(request, jobq_error):
            if not isinstance(entry, dict) or "key" not in entry:
                raise jobq_error(400, "each update needs a key")
            extra = {k: v for k, v in entry.items() if k not in ("key", "state")}
            for job in self.state.jobs_for_key(project.id, str(entry["key"])):
                try:
                    prev = self.state.set_state(job, entry.get("state") or job.state, extra)
                except ValueError as exc:
                    raise jobq_error(400, str(exc)) from None
                out.append({"prevstate": prev, "key": job.key})
        return jsonlines_response(out)

    def jobq_push(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        lines = body_lines(request, jobq_error)
        if len(lines) != 1 or not isinstance(lines[0], dict) or not lines[0].get("spider"):
            raise jobq_error(400, "push expects one JSON object with a spider")
        params = lines[0]
        if params.get("state") not in (None, *QUEUE_STATES):
            raise jobq_error(400, f"Invalid state: {params['state']}")
        try:
            job = self.state.push_job(project.id, params)
        except DuplicateJob as exc:
            # Recorded behaviour: a duplicate `unique` is a 200 with an error object.
            return jsonlines_response([{"request": params, "error": str(exc)}])
        return jsonlines_response([{"key": job.key, "auth": job.token}])

    def jobq_startjob(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        lines = body_lines(request, jobq_error)
        params = lines[0] if lines and isinstance(lines[0], dict) else {}
        job = self.state.start_next(project.id, params)
        if job is None:
            return empty_response(content_type=JSONLINES_CT)
        return jsonlines_response([dict(job.meta, key=job.key, auth=job.token)])

    def jobq_cancel_job(self, request: Request) -> Response:
        job = self._job(request, jobq_error)
        cancelled = job is not None and self.state.cancel(job)
        return json_response({"count": int(cancelled)})

    def jobq_cancel(self, request: Request) -> Response:
        project = self._project(request, jobq_error)
        if request.query.get("count"):
            raise jobq_error(403, "Bulk cancellation by count needs admin rights")
        try:
            entries = request.json()
        except (ValueError, UnicodeDecodeError):
            raise jobq_error(400, "cancel expects a JSON array of {\"key\": ...}") from None
        if not isinstance(entries, list):
            raise jobq_error(400, "cancel expects a JSON array of {\"key\": ...}")
        count = 0
        for entry in entries:
            key = entry.get("key") if isinstance(entry, dict) else None
            job = self.state.job_by_key(str(key)) if key else None
            if job is not None and job.project_id == project.id and self.state.cancel(job):
                count += 1
        return json_response({"count": count})

    def last_job_summary(self, request: Request) -> Response:
        project = self._project(request)
        spider = request.match.get("spider")
        jobs = self.state.last_jobs(project.id, int(spider) if spider else None)
        q = request.query
        try:
            start = serving.parse_key(q["start"]) if q.get("start") else None
            after = serving.parse_key(q["startafter"]) if q.get("startafter") else None
        except ValueError:
            raise storage_error(400, "Invalid start key") from None
        count = query_int(request, "count")
        now = self.state.clock()
        out = []
        for job in jobs:
            spider_key = (job.project_id, job.spider_id)
            if (start and spider_key < start[:2]) or (after and spider_key <= after[:2]):
                continue
            if count is not None and len(out) >= count:
                break
            out.append(self.state.summary_record(job, None, now))
        return jsonlines_response(out)

    # ------------------------------------------------------------------ activity

    def get_activity(self, request: Request) -> Response:
        """`GET activity/P[?count=N][&meta=_ts]`: events newest first."""
        project = self._project(request)
        count = query_int(request, "count")
        with_ts = "_ts" in request.query.getlist("meta")
        out = []
        for ts, event in self.state.activity(project.id, count):
            out.append(dict(event, _ts=ts) if with_ts else event)
        return jsonlines_response(out)

    def post_activity(self, request: Request) -> Response:
        """`POST activity/P`: one JSON object per line, each one event."""
        project = self._project(request)
        events = body_lines(request)
        if not all(isinstance(event, dict) for event in events):
            raise storage_error(400, "Error parsing data, an event must be a JSON object")
        for event in events:
            self.state.record_activity(project.id, event)
        return empty_response()

    # ------------------------------------------------------------------ job metadata

    def get_meta(self, request: Request) -> Response:
        job = self._job(request)
        name = request.match.get("field")
        if name is not None:
            value = job.meta.get(name) if job is not None else None
            return json_response(value)
        # An unknown job reads as an empty object (an empty body would make the official
        # client's metadata.list() raise StopIteration).
        return jsonlines_response([job.meta if job is not None else {}])

    def post_meta(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            raise storage_error(404)
        name = request.match.get("field")
        if name is not None:
            try:
                value = request.json()
            except (ValueError, UnicodeDecodeError):
                raise storage_error(400, "Error parsing data, value is not JSON") from None
            self.state.update_meta(job, {name: value})
        else:
            values = body_lines(request)
            if not values or not all(isinstance(v, dict) for v in values):
                raise storage_error(400, "Error parsing data, expected a JSON object")
            for value in values:
                self.state.update_meta(job, value)
        return empty_response(content_type="text/html; charset=utf-8")

    def delete_meta(self, request: Request) -> Response:
        job = self._job(request)
        if job is not None:
            name = request.match.get("field")
            if name is None:
                self.state.purge(job)
            else:
                self.state.delete_meta(job, name)
        return empty_response(content_type="text/html; charset=utf-8")

    # ------------------------------------------------------------------ job data

    def read_records(self, request: Request) -> Response:
        project = self._project(request)
        resource = request.match["resource"]
        m = request.match
        try:
            params = serving.ReadParams.from_query(request.query)
        except (ValueError, FilterError) as exc:
            raise storage_error(400, str(exc)) from None
        msgpack = wants_msgpack(request)
        if m.get("job") is None:
            spider = m.get("spider")
            jobs = sorted((j for j in project.jobs_of(int(spider) if spider else None)),
                          key=lambda j: (j.spider_id, j.number))
            return serving.read_many(self.server.body_cache, jobs, resource, params, msgpack)
        job = self.state.job(project.id, m["spider"], m["job"])
        if job is None:
            return Response(200, b"", [("Content-Type", MSGPACK_CT if msgpack else JSONLINES_CT)])
        if m.get("index") is not None:
            return serving.read_one(job, resource, int(m["index"]), m.get("field"), params, msgpack)
        return serving.read_job(self.server.body_cache, job, resource, params, msgpack)

    def record_stats(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            stats: dict[str, Any] = {"counts": {}, "totals": {"input_bytes": 0, "input_values": 0}}
        else:
            stats = job.stores[request.match["resource"]].stats()
        return json_response(stats, content_type=JSON_CT + "; charset=UTF-8")

    def write_records(self, request: Request) -> Response:
        job = self._job(request)
        if job is None:
            raise storage_error(404)
        resource = request.match["resource"]
        start = query_int(request, "start")
        records = body_lines(request)
        try:
            self.state.write_records(job, resource, start, records)
        except RecordTooLarge as exc:
            raise storage_error(413, str(exc)) from None
        except (BadRecord, ValueError) as exc:
            raise storage_error(400, f"Error parsing data, {exc}") from None
        return empty_response()
