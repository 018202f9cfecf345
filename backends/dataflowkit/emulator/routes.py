"""URL table and API key check of the Dataflow Kit emulator.

The docs spell the same endpoints several ways (protocols/dataflowkit.md section 3), so
every spelling they print is served: `task` and `tasks`; `process`, `processes` and
`Process`; GET or POST for the reads; DELETE or POST for delete, with or without the `/`
before `delete`, and a bare `DELETE /tasks/<id>`; the older `/extract/create` and
`/serp/create`. The key is the `api_key` query parameter of every request; a missing one
is a 401 `No API Key provided`, a wrong one a 401 `Invalid API key` (plain text, as the
OpenAPI examples show). The results storage route needs no key: its links are signed.
"""

import hmac

from hubfs.emulation import Router

from .handlers import DataflowKitAPI, plain

TASK = r"/v1/tasks?/(?P<task>[0-9A-Za-z]{27})"
PROCESS = r"/v1/(?:process|processes|Process)/(?P<process>[0-9A-Za-z]{27})"
READ = ("GET", "POST")


def build_router(api: DataflowKitAPI) -> Router:
    r = Router()
    r.add(READ, r"/v1/tasks/?", api.list_tasks)
    r.add("POST", r"/v1/(?:tasks?|extract|serp)/create", api.create_task)
    r.add(READ, rf"{TASK}/info", api.task_info)
    r.add(READ, rf"{TASK}/results", api.task_results)
    r.add("POST", rf"{TASK}/run", api.run_task)
    r.add(("POST", "PUT"), rf"{TASK}/update", api.update_task)
    r.add(("DELETE", "POST"), rf"{TASK}/?delete", api.delete_task)
    r.add("DELETE", rf"{TASK}/?", api.delete_task)
    r.add(READ, rf"{PROCESS}/info", api.process_info)
    r.add("POST", rf"{PROCESS}/cancel", api.cancel)
    r.add(READ, r"/v1/getlink", api.getlink)
    r.add("GET", r"/storage/results/(?P<name>[^/]+)", api.storage, public=True)
    return r


def make_auth(api_key):
    def check(request):
        given = request.query.get("api_key")
        if not given:
            return plain(401, "No API Key provided")
        if not hmac.compare_digest(given.encode(), api_key.encode()):
            return plain(401, "Invalid API key")
        return None

    return check
