"""The Spectra S3 (`/_rest_/`) requests the emulator answers: bulk jobs, chunks, folders.

`PUT /_rest_/bucket/{b}?operation=start_bulk_put|start_bulk_get` with an `<Objects>` body
starts a job and answers its `MasterObjectList` (every chunk, as the SDKs expect);
`GET /_rest_/job_chunk?job=J` answers the chunks ready for client processing, with no
`<Objects>` children and a `Retry-After` when none is (the header is sent on every
answer: the Java SDK reads it unconditionally). `GET|DELETE /_rest_/job[/{id}]` report
and cancel jobs; `DELETE /_rest_/folder/{path}?bucket_id=&recursive` removes a folder;
`POST /_rest_/bucket?name=` and `DELETE /_rest_/bucket/{b}[?force]` manage buckets.
`operation` values are matched case-insensitively, flags by presence.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hubfs.emulation import Request, Response, empty_response

from .object_handlers import has, int_param, param
from .state import Ds3State
from .store import StoreError


def _objects(request: Request, where: str) -> list[ET.Element]:
    try:
        root = ET.fromstring(request.body)
    except ET.ParseError:
        raise StoreError(400, "BadRequest", "the request body is not valid XML", where) from None
    if root.tag != "Objects":
        raise StoreError(400, "BadRequest", "the request body must be an <Objects> list", where)
    entries = root.findall("Object")
    if not entries:
        raise StoreError(400, "BadRequest", "a bulk job needs at least one object", where)
    return entries


class BulkAPI:
    def __init__(self, state: Ds3State):
        self.state = state
        self.board = state.jobs
        self.x = state.dialect

    def bucket_operation(self, request: Request) -> Response:
        bucket = request.match["bucket"]
        operation = (param(request, "operation") or "").lower()
        where = f"/_rest_/bucket/{bucket}"
        if operation == "start_bulk_put":
            objects = []
            for entry in _objects(request, where):
                name = entry.get("Name")
                size = entry.get("Size", entry.get("Length"))
                if not name or size is None or not size.isdigit():
                    raise StoreError(400, "BadRequest", "every object needs Name and Size", where)
                objects.append((name, int(size)))
            limit = int_param(request, "max_upload_size", 0) or None
            job = self.board.start_put(bucket, objects, user=request.header("Authorization", "")[4:].split(":")[0],
                                       max_upload_size=limit)
            return self.x.master_object_list(job, job.chunks)
        if operation == "start_bulk_get":
            wanted = []
            for entry in _objects(request, where):
                name = entry.get("Name")
                if not name:
                    raise StoreError(400, "BadRequest", "every object needs a Name", where)
                offset, length = entry.get("Offset"), entry.get("Length")
                span = None
                if offset is not None or length is not None:
                    start = int(offset or 0)
                    span = (start, start + int(length)) if length is not None else (start, 1 << 62)
                wanted.append((name, span))
            job = self.board.start_get(bucket, wanted)
            return self.x.master_object_list(job, job.chunks)
        raise StoreError(400, "BadRequest", f"unsupported operation {operation!r}", where)

    def create_bucket(self, request: Request) -> Response:
        name = param(request, "name") or ""
        bucket = self.state.store.create_bucket(name)
        return self.x.spectra_bucket(bucket)

    def delete_bucket(self, request: Request) -> Response:
        self.state.store.delete_bucket(request.match["bucket"], force=has(request, "force"))
        return empty_response(204)

    def chunks_ready(self, request: Request) -> Response:
        job_id = param(request, "job")
        if not job_id:
            raise StoreError(400, "BadRequest", "the job parameter is required", "/_rest_/job_chunk")
        job, ready = self.board.poll_ready(job_id)
        return self.x.master_object_list(job, ready, retry_after=self.board.settings.retry_after)

    def get_chunk(self, request: Request) -> Response:
        chunk_id = request.match["chunk"]
        for job in self.board.active():
            for chunk in job.chunks:
                if chunk.id == chunk_id:
                    root = ET.Element("Objects", {"ChunkId": chunk.id, "ChunkNumber": str(chunk.number)})
                    for blob in chunk.blobs:
                        ET.SubElement(root, "Object", {"Id": blob.id, "InCache": str(blob.done).lower(),
                                                       "Length": str(blob.length), "Name": blob.name,
                                                       "Offset": str(blob.offset)})
                    return self.x.response(root)
        raise StoreError(404, "NotFound", f"chunk {chunk_id} does not exist", f"/_rest_/job_chunk/{chunk_id}")

    def get_job(self, request: Request) -> Response:
        job = self.board.get(request.match["job"])
        return self.x.master_object_list(job, job.chunks)

    def list_jobs(self, request: Request) -> Response:
        bucket = param(request, "bucket_id")
        jobs = [job for job in self.board.active() if not bucket or job.bucket == bucket]
        return self.x.jobs(jobs)

    def cancel_job(self, request: Request) -> Response:
        self.board.cancel(request.match["job"], force=has(request, "force"))
        return empty_response(204)

    def cancel_all(self, request: Request) -> Response:
        bucket = param(request, "bucket_id")
        kind = (param(request, "request_type") or "").upper()
        for job in self.board.active():
            if (not bucket or job.bucket == bucket) and (not kind or job.request_type == kind):
                self.board.cancel(job.id, force=has(request, "force"))
        return empty_response(204)

    def delete_folder(self, request: Request) -> Response:
        folder = request.match["folder"].strip("/")
        bucket = param(request, "bucket_id")
        if not bucket:
            raise StoreError(500, "InternalError", "bucket_id is required", f"/_rest_/folder/{folder}")
        removed = self.state.store.delete_prefix(bucket, folder + "/")
        if not removed:
            raise StoreError(404, "NotFound", f"folder {folder!r} does not exist", f"/_rest_/folder/{folder}")
        return empty_response(204)

    def system_information(self, request: Request) -> Response:
        root = ET.Element("Data")
        ET.SubElement(root, "ApiVersion").text = "5.8.0.hubfs"
        ET.SubElement(root, "SerialNumber").text = "HUBFS-EMULATOR"
        build = ET.SubElement(root, "BuildInformation")
        ET.SubElement(build, "Version").text = "5.8.0"
        return self.x.response(root)
