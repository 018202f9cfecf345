"""URL table and signature check of the DS3/S3 emulator.

DS3 mode answers the Spectra S3 paths under `/_rest_/` before the plain S3 ones (no
bucket can be called `_rest_`: bucket names start with a letter or digit); S3 mode has
only the S3 paths, so `/_rest_/...` is a missing bucket there, as on AWS. Every route
but the kit's control paths needs a valid signature: V2 in DS3 mode, V2 or V4 in S3 mode
(S3-compatible stores such as MinIO take both). Refusals are 403 with the dialect's error
body.
"""

from __future__ import annotations

from typing import Optional

from hubfs.emulation import Request, Response, Router

from .auth import Refusal, authenticate
from .bulk_handlers import BulkAPI
from .object_handlers import ObjectAPI, guarded
from .state import Ds3State

B = r"(?P<bucket>[^/]+)"


def build_router(state: Ds3State) -> Router:
    objects = ObjectAPI(state)
    router = Router()

    def add(methods, pattern, handler):
        router.add(methods, pattern, guarded(state, handler))

    if state.dialect.ds3:
        bulk = BulkAPI(state)
        add("GET", r"/_rest_/system_information/?", bulk.system_information)
        add("POST", r"/_rest_/bucket/?", bulk.create_bucket)
        add("PUT", rf"/_rest_/bucket/{B}/?", bulk.bucket_operation)
        add("DELETE", rf"/_rest_/bucket/{B}/?", bulk.delete_bucket)
        add("GET", r"/_rest_/job_chunk/?", bulk.chunks_ready)
        add("GET", r"/_rest_/job_chunk/(?P<chunk>[^/]+)/?", bulk.get_chunk)
        add("GET", r"/_rest_/job/?", bulk.list_jobs)
        add("DELETE", r"/_rest_/job/?", bulk.cancel_all)
        add("GET", r"/_rest_/job/(?P<job>[^/]+)/?", bulk.get_job)
        add("DELETE", r"/_rest_/job/(?P<job>[^/]+)/?", bulk.cancel_job)
        add("DELETE", r"/_rest_/folder/(?P<folder>.+)", bulk.delete_folder)
    add("GET", r"/", objects.service)
    add("GET", rf"/{B}/?", objects.get_bucket)
    add("PUT", rf"/{B}/?", objects.put_bucket)
    add("DELETE", rf"/{B}/?", objects.delete_bucket)
    add("POST", rf"/{B}/?", objects.post_bucket)
    add("GET", rf"/{B}/(?P<key>.+)", objects.get_object)
    add("PUT", rf"/{B}/(?P<key>.+)", objects.put_object)
    add("DELETE", rf"/{B}/(?P<key>.+)", objects.delete_object)
    add("POST", rf"/{B}/(?P<key>.+)", objects.post_object)
    return router


def make_auth(state: Ds3State):
    def check(request: Request) -> Optional[Response]:
        if not state.auth_required:
            return None
        try:
            authenticate(request, state.credentials, allow_v4=not state.dialect.ds3)
        except Refusal as exc:
            return state.dialect.error(403, exc.code, exc.message, request.raw_path)
        return None
    return check


def not_found(state: Ds3State):
    def answer(request: Request) -> Response:
        return state.dialect.error(404, "NotFound", f"no such resource {request.path}", request.raw_path)
    return answer
