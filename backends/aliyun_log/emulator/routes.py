"""URL table and authentication of the SLS emulator.

The service addresses the project in the Host header (`<project>.<endpoint>`, no port:
protocols/aliyun-log.md section 1), so every route but ListProject carries a host
pattern whose `project` group names it; the bare endpoint host (the emulator's own
address or name) means "no project". Every request must carry a valid V1 signature
(`signature.py`); a refusal is the service's JSON error envelope.
"""

from __future__ import annotations

import re
from typing import Callable, Optional

from hubfs.emulation import Request, Response, Router

from .handlers import LogAPI, error
from .signature import Refusal, verify

PROJECT = r"(?P<project>[a-z0-9][a-z0-9-]{1,62})"
LS = r"(?P<logstore>[A-Za-z0-9_-]+)"
SHARD = r"(?P<shard>\d+)"


def host_patterns(hosts) -> tuple[str, str]:
    """(bare host pattern, project host pattern) for the emulator's endpoint names."""
    bare = "(?:" + "|".join(re.escape(h) for h in hosts) + ")"
    return bare, rf"{PROJECT}\.{bare}"


def build_router(api: LogAPI, hosts) -> Router:
    bare, project = host_patterns(hosts)
    r = Router()
    r.add("GET", r"/", api.list_projects, host=bare)
    r.add("GET", r"/", api.get_project, host=project)
    r.add("GET", r"/logstores", api.list_logstores, host=project)
    r.add("GET", rf"/logstores/{LS}", api.logstore_get, host=project)
    r.add("POST", rf"/logstores/{LS}/logs", api.get_logs_v2, host=project)
    r.add("GET", rf"/logstores/{LS}/shards", api.list_shards, host=project)
    r.add("POST", rf"/logstores/{LS}/shards/(?P<how>lb|route)", api.put_logs, host=project)
    r.add("GET", rf"/logstores/{LS}/shards/{SHARD}", api.shard_get, host=project)
    return r


def not_found(request: Request) -> Response:
    return error(404, "ProjectNotExist" if request.path == "/" else "ParameterInvalid",
                 f"no such resource: {request.method} {request.path}").response


def make_auth(secret_of: Callable[[str], Optional[str]], state) -> Callable[[Request], Optional[Response]]:
    """The auth hook: None to accept a correctly signed request, else the refusal."""

    def check(request: Request) -> Optional[Response]:
        try:
            verify(request.method, request.headers, request.path, request.raw_query,
                   request.body, secret_of, state.now())
        except Refusal as refusal:
            return error(refusal.status, refusal.code, refusal.message).response
        return None

    return check
