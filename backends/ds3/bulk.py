"""DS3 bulk jobs: how objects are written and read through chunks.

A write starts a bulk PUT job naming the object and its size; the appliance answers
with the job's chunks (groups of blobs: pieces of the object at given offsets), then
hands chunks out as its cache allows: `GET /_rest_/job_chunk?job=J` lists those ready
now, or none plus `Retry-After` (the cache is full, a tape is being mounted). Each blob
of a ready chunk is sent as `PUT /bucket/key?job=J&offset=O` with exactly its bytes,
several at once. Not ready is not an error: the HTTP layer waits as Retry-After says
(`Outcome.wait`, see `client.classify`), bounded by `chunk_wait` seconds per poll. What was acknowledged is recorded in the commit's
progress (job id and sent offsets), so a resend after a crash continues the same job
and sends only the rest; when that job is gone, a new one starts.

A read starts a bulk GET job for the object (once per open object, reused by every read
of it), waits for the chunk holding the asked bytes, and fetches them with
`GET /bucket/key?job=J&offset=<blob offset>` and a `Range` of absolute offsets inside
that blob. A job the appliance has finished or dropped (404/410) is started again.
"""

import logging
import os
import threading
import time
import xml.etree.ElementTree as ET

from hubfs import errors

from . import xmlwire
from .settle import settle
from .client import object_path, retry_after

log = logging.getLogger(__name__)

PARALLEL_BLOBS = 4
MAX_POLL = 60.0       # seconds: a Retry-After larger than this is capped


class BulkJobs:
    """The `/_rest_/` requests of bulk jobs, over an `ObjectClient`."""

    def __init__(self, client, chunk_wait=600.0):
        self.client = client
        self.chunk_wait = chunk_wait

    @property
    def waits(self):
        """How many "no chunk ready yet" answers were waited out (tests read it)."""
        return self.client.chunk_waits

    def start(self, bucket, operation, objects):
        """Start a bulk job: *objects* is [(name, size)] for PUT, [name] for GET."""
        root = ET.Element("Objects")
        for item in objects:
            if operation == "start_bulk_put":
                name, size = item
                ET.SubElement(root, "Object", {"Name": name, "Size": str(size)})
            else:
                ET.SubElement(root, "Object", {"Name": item})
        path = "/_rest_/bucket/" + object_path(bucket).lstrip("/")
        response = self.client.send("PUT", path, params={"operation": operation},
                                    data=ET.tostring(root, encoding="utf-8"),
                                    headers={"Content-Type": "application/xml"})
        return xmlwire.master_object_list(response.content, f"{self.client.name}: PUT {path}")

    def ready(self, job_id):
        """(chunks ready now, seconds to wait before asking again); `NotFound` when the
        job is finished or unknown. An answer without chunks is waited out below (the
        HTTP layer's not-ready wait), so this returns at least one chunk."""
        response = self.client.send("GET", "/_rest_/job_chunk", params={"job": job_id},
                                    deadline=self.chunk_wait)
        info = xmlwire.master_object_list(response.content, f"{self.client.name}: GET /_rest_/job_chunk")
        return info.chunks, min(retry_after(response), MAX_POLL)

    def status(self, job_id):
        response = self.client.send("GET", f"/_rest_/job/{job_id}", expect=(200, 404))
        if response.status_code == 404:
            return None
        return xmlwire.master_object_list(response.content, f"{self.client.name}: GET /_rest_/job")

    def cancel(self, job_id):
        self.client.send("DELETE", f"/_rest_/job/{job_id}", params={"force": ""}, expect=(204, 200, 404))

    def delete_folder(self, bucket, folder):
        self.client.send("DELETE", "/_rest_/folder/" + object_path(bucket, folder).split("/", 2)[2],
                         params={"bucket_id": bucket, "recursive": ""}, expect=(204, 200))

    def wait(self, job_id, waited, pause, what):
        """Chunks are ready, but not the one needed: sleep *pause* seconds before asking
        again; raise once `chunk_wait` is spent."""
        if waited + pause > self.chunk_wait:
            raise errors.Transient(f"{self.client.name}: {what}: the chunk needed from job {job_id} "
                                   f"did not become ready within {self.chunk_wait:.0f} s")
        log.debug("%s: %s: the chunk needed is not ready yet (job %s), waiting %.1f s",
                  self.client.name, what, job_id, pause)
        time.sleep(pause)
        return waited + pause

    # -- writing one object

    def _start_replacing(self, bucket, key, size, what, attempts=5):
        """Start the bulk PUT of *key*, replacing an object of that name. A data policy
        that keeps one version refuses a PUT of an existing name (409): replacing is
        deleting, then starting again; another writer may put the name back in between
        (several processes writing one file), so that is tried a few times."""
        for attempt in range(attempts):
            try:
                return self.start(bucket, "start_bulk_put", [(key, size)])
            except errors.Conflict:
                if attempt == attempts - 1:
                    raise
                log.debug("%s: %s: replacing the existing object", self.client.name, what)
                try:
                    self.client.delete(bucket, key)
                except errors.NotFound:
                    pass

    def put_object(self, bucket, key, path, progress=None):
        """Send the file at *path* as object *key* through a bulk PUT job."""
        size = os.path.getsize(path)
        what = f"PUT {bucket}/{key}"
        state = getattr(progress, "state", None) or {}
        job_id = state.get("job") if state.get("size") == size else None
        sent = set(state.get("sent", [])) if job_id else set()
        blobs = None
        if job_id:
            info = self.status(job_id)
            if info is None or info.status != "IN_PROGRESS":
                job_id, sent = None, set()  # that job is gone: start again
            else:
                blobs = {(b.offset, b.length) for c in info.chunks for b in c.blobs if b.name == key}
                # Blobs the appliance already holds (their answer may have been lost with
                # the daemon) are marked InCache: the Java SDK skips those too.
                sent |= {b.offset for c in info.chunks for b in c.blobs if b.name == key and b.in_cache}
                log.info("%s: %s: resuming job %s, %d blob(s) already acknowledged",
                         self.client.name, what, job_id, len(sent))
        if job_id is None:
            info = self._start_replacing(bucket, key, size, what)
            job_id = info.id
            blobs = {(b.offset, b.length) for c in info.chunks for b in c.blobs if b.name == key}
            if progress is not None:
                progress.record(job=job_id, size=size, sent=[])
        # Zero-length blobs exist from the job's creation on: nothing to send for them.
        pending = {offset: length for offset, length in blobs if length > 0 and offset not in sent}
        total = len(pending) + len(sent)
        lock = threading.Lock()
        waited = 0.0

        def send_blob(offset, length):
            with open(path, "rb") as source:
                data = os.pread(source.fileno(), length, offset)
            if len(data) != length:
                raise errors.Transient(f"{self.client.name}: {what}: spool file shorter than {offset + length}")
            self.client.put(bucket, key, data, params={"job": job_id, "offset": str(offset)})
            with lock:
                sent.add(offset)
                if progress is not None:
                    progress.record(sent=sorted(sent))

        while pending:
            try:
                chunks, pause = self.ready(job_id)
            except errors.NotFound:
                info = self.status(job_id)
                if info is not None and info.status == "COMPLETED":
                    break  # it holds every blob: those left had arrived, their answers had not
                raise errors.Transient(f"{self.client.name}: {what}: job {job_id} ended with "
                                       f"{len(pending)} blob(s) unsent") from None
            work = [(b.offset, b.length) for c in chunks for b in c.blobs
                    if b.name == key and b.offset in pending]
            if not work:
                waited = self.wait(job_id, waited, pause, what)
                continue
            settle(lambda blob: send_blob(*blob), work, PARALLEL_BLOBS)
            for offset, _ in work:
                pending.pop(offset, None)
            if total > 1:
                log.info("%s: %s: %d of %d blobs sent (job %s)", self.client.name, what,
                         total - len(pending), total, job_id)
        return job_id


class ObjectReadJob:
    """Reads of one object through a bulk GET job, started on first use and shared by
    every read of that object (thread-safe)."""

    def __init__(self, jobs, bucket, key):
        self.jobs = jobs
        self.bucket = bucket
        self.key = key
        self._lock = threading.Lock()
        self._job = None          # job id
        self._blobs = []          # (offset, length, chunk id), sorted by offset
        self._ready = set()       # chunk ids seen ready (shared by the objects of one job)

    def adopt(self, job_id, blobs, ready):
        """Read through a job started for several objects (`Ds3Transfer`): *blobs* are
        this object's `BlobInfo`s in it, *ready* the set of that job's chunk ids seen
        ready, shared with the other objects' readers (one chunks-ready answer covers
        them all). A job the appliance dropped is replaced by one of this object's own."""
        with self._lock:
            if self._job is None:
                self._job = job_id
                self._blobs = sorted(blobs)
                self._ready = ready

    def _start(self):
        info = self.jobs.start(self.bucket, "start_bulk_get", [self.key])
        self._job = info.id
        self._blobs = sorted((b.offset, b.length, c.id) for c in info.chunks for b in c.blobs
                             if b.name == self.key)
        self._ready = set()

    def _blob_for(self, offset):
        for start, length, chunk in self._blobs:
            if start <= offset < start + length:
                return start, length, chunk
        raise errors.Transient(f"{self.jobs.client.name}: GET {self.bucket}/{self.key}: job {self._job} "
                               f"has no blob holding offset {offset}")

    def _ready_blob(self, offset):
        """(job id, blob offset, blob length) for the blob holding *offset*, once its
        chunk is ready (waiting as the appliance says)."""
        what = f"GET {self.bucket}/{self.key}"
        with self._lock:
            if self._job is None:
                self._start()
            waited = 0.0
            while True:
                start, length, chunk = self._blob_for(offset)
                if chunk in self._ready:
                    return self._job, start, length
                try:
                    chunks, pause = self.jobs.ready(self._job)
                except errors.NotFound:
                    self._start()  # finished or dropped: a new job covers the object again
                    continue
                self._ready.update(c.id for c in chunks)
                if chunk not in self._ready:
                    waited = self.jobs.wait(self._job, waited, pause, what)

    def forget_job(self, job_id):
        with self._lock:
            if self._job == job_id:
                self._job = None

    def read(self, offset, length):
        """Exactly *length* bytes at *offset* (the caller keeps them inside the object)."""
        client = self.jobs.client
        out = []
        end = offset + length
        restarts = 0
        while offset < end:
            job_id, start, blob_length = self._ready_blob(offset)
            piece = min(end, start + blob_length) - offset
            path = object_path(self.bucket, self.key)
            response = client.send("GET", path, params={"job": job_id, "offset": str(start)},
                                   headers={"Range": f"bytes={offset}-{offset + piece - 1}"},
                                   expect=(200, 206, 404, 410), into=bytearray(piece))
            if response.status_code in (404, 410):
                response.close()
                restarts += 1
                if restarts > 3:
                    raise errors.Transient(f"{client.name}: GET {path}: the appliance keeps dropping "
                                           "the read job")
                self.forget_job(job_id)
                continue
            data = response.content
            if response.status_code == 200 and len(data) == blob_length:
                data = data[offset - start:offset - start + piece]  # the whole blob came back
            if len(data) != piece:
                raise errors.Transient(f"{client.name}: GET {path}: {len(data)} bytes at {offset} "
                                       f"instead of {piece}")
            out.append(data)
            offset += piece
        return out[0] if len(out) == 1 else b"".join(out)
