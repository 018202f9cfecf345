"""URL table and authentication of the Scrapinghub emulator.

One port serves both hosts of the service: the Dash (app) API under `/api/` and the
storage API (hubstorage + JobQ) at the root. Authentication is HTTP Basic with the API key
as user name (the client sends an empty password), the `apikey` query parameter the docs
allow, or, on the storage API, job-scoped credentials (user `P/S/J`, password the job's
token from push/startjob). Refusals use each host's own bodies: Dash a JSON status object
the client maps to Unauthorized, JobQ a JSON error object, the rest of storage plain text.
"""

from __future__ import annotations

import hmac
from typing import Optional

from hubfs.emulation import Request, Response, Router, json_response, text_response

from .collection_handlers import CollectionsAPI
from .dash import DashAPI
from .frontier_handlers import FrontierAPI
from .handlers import StorageAPI

P = r"(?P<project>\d+)"
S = r"(?P<spider>\d+)"
J = r"(?P<job>\d+)"
DATA = r"(?P<resource>items|logs|requests|samples)"
STORE = r"(?P<type>s|cs|vs|vcs)/(?P<name>[^/]+)"
SLOT = r"(?P<frontier>[^/]+)/s/(?P<slot>[^/]+)"


def build_router(storage: StorageAPI, dash: DashAPI, collections: CollectionsAPI,
                 frontier: FrontierAPI) -> Router:
    r = Router()
    # Dash / app API
    r.add("GET", r"/api/scrapyd/listprojects\.json", dash.list_projects)
    r.add("GET", r"/api/spiders/list\.json", dash.list_spiders)
    r.add("POST", r"/api/(?:run|schedule)\.json", dash.run)
    r.add("POST", r"/api/jobs/update\.json", dash.update_jobs)
    r.add("GET", rf"/api/v2/projects/{P}/spiders/{S}/?", dash.spider_v2)
    r.add("PATCH", rf"/api/v2/projects/{P}/spiders/{S}/tags/?", dash.spider_tags)
    # storage: service-wide
    r.add("GET", r"/system/ts", storage.system_ts)
    r.add("GET", rf"/ids/{P}/spider/(?P<name>[^/]+)", storage.spider_id)
    r.add("GET", r"/projects/jobsummaries", storage.all_summaries)
    r.add("GET", rf"/projects/{P}/jobsummary", storage.project_summary)
    r.add("GET", rf"/projects/{P}/settings(?:/(?P<name>[^/]+))?", storage.get_settings)
    r.add("POST", rf"/projects/{P}/settings", storage.post_settings)
    r.add("DELETE", rf"/projects/{P}/settings/(?P<name>[^/]+)", storage.delete_setting)
    # JobQ
    r.add("GET", rf"/jobq/{P}/list", storage.jobq_list)
    r.add("GET", rf"/jobq/{P}/count", storage.jobq_count)
    r.add("GET", rf"/jobq/{P}/jobsummary", storage.jobq_jobsummary)
    r.add("GET", rf"/jobq/{P}(?:/{S})?/summary(?:/(?P<queue>[a-z]+))?", storage.jobq_summary)
    r.add("POST", rf"/jobq/{P}/update", storage.jobq_update)
    r.add("POST", rf"/jobq/{P}/push", storage.jobq_push)
    r.add("POST", rf"/jobq/{P}/startjob", storage.jobq_startjob)
    r.add("POST", rf"/jobq/{P}/cancel", storage.jobq_cancel)
    r.add("POST", rf"/jobq/{P}/{S}/{J}/cancel", storage.jobq_cancel_job)
    r.add("GET", rf"/spiders/{P}(?:/{S})?/lastjobsummary", storage.last_job_summary)
    # activity
    r.add("GET", rf"/activity/{P}/?", storage.get_activity)
    r.add("POST", rf"/activity/{P}/?", storage.post_activity)
    # job metadata
    meta = rf"/jobs/{P}/{S}/{J}(?:/(?P<field>[^/]+))?"
    r.add("GET", meta, storage.get_meta)
    r.add("POST", meta, storage.post_meta)
    r.add("DELETE", meta, storage.delete_meta)
    # job data
    r.add("GET", rf"/(?P<resource>items|logs|requests)/{P}/{S}/{J}/stats", storage.record_stats)
    r.add("GET", rf"/{DATA}/{P}(?:/{S}(?:/{J}(?:/(?P<index>\d+)(?:/(?P<field>[^/]+))?)?)?)?",
          storage.read_records)
    r.add("POST", rf"/{DATA}/{P}/{S}/{J}", storage.write_records)
    # collections; `count` and `deleted` come before the catch-all key routes
    r.add("GET", rf"/collections/{P}/list", collections.listing)
    r.add("POST", rf"/collections/{P}/delete", collections.truncate)
    r.add("GET", rf"/collections/{P}/{STORE}/count", collections.count)
    r.add("POST", rf"/collections/{P}/{STORE}/deleted", collections.delete_keys)
    r.add("GET", rf"/collections/{P}/{STORE}/?", collections.scan)
    r.add("POST", rf"/collections/{P}/{STORE}/?", collections.write)
    r.add("GET", rf"/collections/{P}/{STORE}/(?P<key>.+)", collections.get_key)
    r.add("DELETE", rf"/collections/{P}/{STORE}/(?P<key>.+)", collections.delete_key)
    # frontier (HCF)
    r.add("GET", rf"/hcf/{P}/list", frontier.list_frontiers)
    r.add("GET", rf"/hcf/{P}/(?P<frontier>[^/]+)/list", frontier.list_slots)
    r.add("POST", rf"/hcf/{P}/{SLOT}/?", frontier.add)
    r.add("DELETE", rf"/hcf/{P}/{SLOT}/?", frontier.delete_slot)
    r.add("GET", rf"/hcf/{P}/{SLOT}/q", frontier.read_queue)
    r.add("POST", rf"/hcf/{P}/{SLOT}/q/deleted", frontier.delete_batches)
    r.add("GET", rf"/hcf/{P}/{SLOT}/f", frontier.fingerprints)
    return r


def not_found(request: Request) -> Response:
    if request.path.startswith("/api/"):
        return json_response({"status": "error", "message": "Not found"}, 404)
    return text_response("Not Found\n", 404, content_type=None)


def make_auth(apikey: str, state) -> callable:
    """The auth hook: None to accept, else the refusal in the right host's format."""

    def same(given: Optional[str]) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), apikey.encode())

    def check(request: Request) -> Optional[Response]:
        user, password = request.auth or (None, None)
        if same(user) or same(request.query.get("apikey")):
            return None
        path = request.path
        if path.startswith("/api/"):
            return json_response({"status": "error", "message": "Authentication failed"}, 401)
        if user and password and "/" in user and state.check_token(user, password):
            # Job credentials reach the data of their own project only.
            parts = path.strip("/").split("/")
            if len(parts) > 1 and parts[1] == user.split("/")[0]:
                return None
        challenge = {"WWW-Authenticate": 'Basic realm="apikey"'}
        if path.startswith("/jobq/"):
            # Recorded JobQ 401: pretty-printed JSON, unlike the rest of storage.
            body = '{\n  "error": "Unauthorized", \n  "message": "Unauthorized"\n}\n'
            return text_response(body, 401, headers=challenge, content_type="application/json")
        return text_response("Unauthorized\n", 401, headers=challenge, content_type=None)

    return check
