"""Dash (app API) handlers of the Scrapinghub emulator, served under `/api/`.

The endpoints the official client calls on the app host: project and spider lists, job
scheduling (`run.json`, legacy `schedule.json`), tag updates for jobs and spiders, and the
v2 spider record. Dash answers are JSON objects with a `status` field; the client decides
success or failure from that field, so every error carries `{"status": "error", "message"}`.
An unknown project answers 404 (the client raises NotFound) — the real message is not
recorded, so the wording is ours.
"""

from __future__ import annotations

import json

from hubfs.emulation import HTTPError, MultiDict, Request, Response, json_response

from .state import RUNNING, DuplicateJob, ScrapinghubState, UnknownSpider

# Form fields of run.json that are not spider arguments.
RUN_FIELDS = frozenset({"project", "spider", "units", "priority", "add_tag", "meta",
                        "job_settings", "cmd_args", "environment", "apikey"})


def dash_error(status: int, message: str) -> HTTPError:
    return HTTPError(json_response({"status": "error", "message": message}, status))


def ok(**fields) -> Response:
    return json_response(dict(fields, status="ok"))


def _params(request: Request) -> MultiDict:
    """Query and form fields together: the client sends GET params and POST forms."""
    pairs = request.query.items(multi=True)
    if request.body and "json" not in (request.header("Content-Type") or ""):
        pairs += request.form().items(multi=True)
    return MultiDict(pairs)


def _json_field(params: MultiDict, name: str, kind: type):
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise dash_error(400, f"Invalid JSON in {name}") from None
    if not isinstance(value, kind):
        raise dash_error(400, f"{name} must be a JSON {kind.__name__}")
    return value


class DashAPI:
    """The app-host handlers; `routes.py` binds them to URLs."""

    def __init__(self, state: ScrapinghubState):
        self.state = state

    def _project(self, project_id):
        project = self.state.project(project_id) if project_id not in (None, "") else None
        if project is None:
            if project_id in (None, ""):
                raise dash_error(400, "Missing project parameter")
            raise dash_error(404, f"Project {project_id} not found")
        return project

    def list_projects(self, request: Request) -> Response:
        return ok(projects=sorted(self.state.projects))

    def list_spiders(self, request: Request) -> Response:
        project = self._project(_params(request).get("project"))
        spiders = [{"id": s.name, "tags": list(s.tags), "type": s.type, "version": s.version}
                   for s in sorted(project.spiders.values(), key=lambda s: s.name)]
        return ok(spiders=spiders)

    def run(self, request: Request) -> Response:
        params = _params(request)
        project = self._project(params.get("project"))
        spider = params.get("spider")
        if not spider:
            raise dash_error(400, "Missing spider parameter")
        meta = _json_field(params, "meta", dict) or {}
        state = meta.pop("state", None)
        try:
            for name in ("units", "priority"):
                if params.get(name) not in (None, ""):
                    meta[name] = int(params.get(name))
        except ValueError:
            raise dash_error(400, "units and priority must be integers") from None
        tags = params.getlist("add_tag")
        if tags:
            meta["tags"] = tags
        for name, kind in (("job_settings", dict), ("environment", dict)):
            value = _json_field(params, name, kind)
            if value is not None:
                meta[name] = value
        if params.get("cmd_args"):
            meta["cmd_args"] = params.get("cmd_args")
        spider_args = {k: v for k, v in params.items() if k not in RUN_FIELDS}
        try:
            job = self.state.schedule(project.id, spider, meta, spider_args,
                                      state=RUNNING if state == RUNNING else "pending")
        except UnknownSpider:
            raise dash_error(400, f"Spider {spider} not found") from None
        except DuplicateJob as exc:
            raise dash_error(400, str(exc)) from None
        return ok(jobid=job.key)

    def update_jobs(self, request: Request) -> Response:
        params = _params(request)
        project = self._project(params.get("project"))
        add, remove = params.getlist("add_tag"), params.getlist("remove_tag")
        if params.get("job"):
            job = self.state.job_by_key(params.get("job"))
            jobs = [job] if job is not None and job.project_id == project.id else []
        elif params.get("spider"):
            spider = project.spider_named(params.get("spider"))
            jobs = project.jobs_of(spider.id) if spider else []
        else:
            raise dash_error(400, "Either job or spider is required")
        return ok(count=self.state.update_tags(jobs, add, remove))

    def _spider(self, request: Request):
        project = self._project(request.match["project"])
        spider = project.spiders.get(int(request.match["spider"]))
        if spider is None:
            raise dash_error(404, "Not found.")
        return project, spider

    @staticmethod
    def _spider_json(project, spider) -> dict:
        return {"id": spider.id, "name": spider.name, "type": spider.type, "tags": list(spider.tags),
                "version": spider.version, "project": {"id": project.id, "name": project.name}}

    def spider_v2(self, request: Request) -> Response:
        return json_response(self._spider_json(*self._spider(request)))

    def spider_tags(self, request: Request) -> Response:
        project, spider = self._spider(request)
        try:
            body = request.json() if request.body else {}
        except ValueError:
            body = None
        if not isinstance(body, dict) or not (body.get("add") or body.get("remove")):
            raise HTTPError(json_response({"non_field_errors": [
                'At least one of "add" or "remove" arguments must not be empty']}, 400))
        with self.state.lock:
            for tag in body.get("add") or []:
                if tag not in spider.tags:
                    spider.tags.append(tag)
            spider.tags[:] = [t for t in spider.tags if t not in set(body.get("remove") or [])]
        return json_response(self._spider_json(project, spider))
