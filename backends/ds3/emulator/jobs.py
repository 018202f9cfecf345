"""DS3 bulk jobs of the emulator: planning objects into blobs and chunks, and readiness.

A bulk PUT or GET names objects; the job cuts each into blobs of at most `blob_size`
bytes (offsets 0, B, 2B, ...; a zero-length object is one blob of length 0) and groups
consecutive blobs into chunks of at most `chunk_blobs` blobs. A real BlackPearl hands
chunks out as its cache (or tape) allows; here a chunk becomes ready after
`ready_after` polls of "chunks ready for client processing", and at most `window`
chunks are ready and unfinished at once, which stands in for tape and cache pressure.
PUT data is written into a staging file per object at the blob's offset; the object is
installed in the store once every one of its blobs has arrived. A GET job's blob is done
when the client has fetched every byte of it (whole, or in ranges in any order).
Cancelling drops the staging of incomplete objects and keeps complete ones, as the DS3
docs say.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Optional

from .store import ObjectStore, StoreError

IN_PROGRESS, COMPLETED, CANCELED = "IN_PROGRESS", "COMPLETED", "CANCELED"


@dataclass
class JobSettings:
    """How the emulated appliance plans and releases jobs (tests change these)."""

    blob_size: int = 16 * 1024 * 1024
    chunk_blobs: int = 8
    ready_after: int = 0      # polls before a chunk is ready (0: at the first poll)
    window: int = 4           # ready-but-unfinished chunks at once
    retry_after: int = 1      # seconds sent in Retry-After
    # The data policy's versioning: "NONE" refuses a bulk PUT of an existing name (409
    # OBJECT_ALREADY_EXISTS), "KEEP_LATEST" replaces it.
    versioning: str = "NONE"


@dataclass
class Blob:
    id: str
    name: str
    offset: int
    length: int
    done: bool = False
    served: list = field(default_factory=list)  # GET jobs: (start, end) byte ranges sent


@dataclass
class Chunk:
    id: str
    number: int
    blobs: list
    polls: int = 0
    ready: bool = False

    @property
    def done(self) -> bool:
        return all(blob.done for blob in self.blobs)


@dataclass
class JobObject:
    name: str
    size: int
    staging: Optional[str] = None   # PUT: file the blobs are written into
    source: Optional[str] = None    # GET: the version file read from
    received: int = 0               # PUT: blobs received
    blobs: int = 0
    meta: dict = field(default_factory=dict)


@dataclass
class Job:
    id: str
    bucket: str
    request_type: str               # PUT or GET
    started: float
    chunks: list
    objects: dict                   # name -> JobObject
    status: str = IN_PROGRESS
    name: str = ""
    user: str = ""

    @property
    def size(self) -> int:
        return sum(blob.length for chunk in self.chunks for blob in chunk.blobs)

    @property
    def completed_size(self) -> int:
        return sum(blob.length for chunk in self.chunks for blob in chunk.blobs if blob.done)

    def blob_at(self, name: str, offset: int) -> tuple[Chunk, Blob]:
        for chunk in self.chunks:
            for blob in chunk.blobs:
                if blob.name == name and blob.offset == offset:
                    return chunk, blob
        raise StoreError(404, "NotFound", f"job {self.id} has no blob of {name!r} at offset {offset}",
                         f"/{self.bucket}/{name}")


def split(size: int, blob_size: int) -> list[tuple[int, int]]:
    """(offset, length) of the blobs of an object of *size* bytes."""
    if size == 0:
        return [(0, 0)]
    return [(offset, min(blob_size, size - offset)) for offset in range(0, size, blob_size)]


class JobBoard:
    """All bulk jobs of one emulator, with the settings that plan and release them."""

    def __init__(self, store: ObjectStore, settings: Optional[JobSettings] = None):
        self.store = store
        self.settings = settings or JobSettings()
        self.lock = threading.RLock()
        self.jobs: dict[str, Job] = {}
        self.finished: dict[str, Job] = {}   # completed or canceled, still answered by GET job

    # -- planning

    def _plan(self, objects: list[tuple[str, int, Optional[tuple[int, int]]]],
              blob_size: int) -> list[Chunk]:
        pieces = []
        for name, size, wanted in objects:
            for offset, length in split(size, blob_size):
                if wanted is not None:
                    start, end = wanted
                    # Blob-aligned: keep every blob that overlaps the asked range.
                    if size and not (offset < end and start < offset + length):
                        continue
                pieces.append(Blob(str(uuid.uuid4()), name, offset, length))
        per = max(1, self.settings.chunk_blobs)
        return [Chunk(str(uuid.uuid4()), number + 1, pieces[i:i + per])
                for number, i in enumerate(range(0, len(pieces), per))]

    def start_put(self, bucket: str, objects: list[tuple[str, int]], user: str = "",
                  max_upload_size: Optional[int] = None) -> Job:
        self.store.bucket(bucket)
        names = [name for name, _ in objects]
        if len(set(names)) != len(names):
            raise StoreError(409, "CONFLICT", "the same object name appears twice in one job",
                             f"/_rest_/bucket/{bucket}")
        if self.settings.versioning == "NONE":
            for name in names:
                if name in self.store.bucket(bucket).objects:
                    raise StoreError(409, "OBJECT_ALREADY_EXISTS", f"object {name!r} already exists in "
                                     f"bucket {bucket!r}", f"/{bucket}/{name}")
        blob_size = self.settings.blob_size
        if max_upload_size:
            blob_size = min(blob_size, max(1, max_upload_size))
        chunks = self._plan([(name, size, None) for name, size in objects], blob_size)
        job = Job(str(uuid.uuid4()), bucket, "PUT", self.store.clock(), chunks, {}, name="PUT by hubfs",
                  user=user)
        for name, size in objects:
            staging = self.store.new_path() + ".part"
            with open(staging, "wb") as out:
                out.truncate(size)
            job.objects[name] = JobObject(name, size, staging=staging, blobs=len(split(size, blob_size)))
        with self.lock:
            self.jobs[job.id] = job
        # Zero-length objects exist from the job's creation on (DS3 does the same).
        for chunk in chunks:
            for blob in chunk.blobs:
                if job.objects[blob.name].size == 0:
                    self._receive(job, blob)
        return job

    def start_get(self, bucket: str, wanted: list[tuple[str, Optional[tuple[int, int]]]],
                  user: str = "") -> Job:
        entries = []
        sources = {}
        for name, span in wanted:
            obj = self.store.get(bucket, name)
            sources[name] = obj
            entries.append((name, obj.size, span))
        chunks = self._plan(entries, self.settings.blob_size)
        job = Job(str(uuid.uuid4()), bucket, "GET", self.store.clock(), chunks, {}, name="GET by hubfs",
                  user=user)
        for name, obj in sources.items():
            job.objects[name] = JobObject(name, obj.size, source=obj.path)
        with self.lock:
            self.jobs[job.id] = job
        return job

    # -- lookups and state changes

    def get(self, job_id: str, include_finished: bool = True) -> Job:
        with self.lock:
            job = self.jobs.get(job_id) or (self.finished.get(job_id) if include_finished else None)
        if job is None:
            raise StoreError(404, "NotFound", f"job {job_id} does not exist", f"/_rest_/job/{job_id}")
        return job

    def poll_ready(self, job_id: str) -> tuple[Job, list[Chunk]]:
        """One "chunks ready for client processing" request: which chunks may be worked on."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise StoreError(404, "NotFound", f"job {job_id} is not active", "/_rest_/job_chunk")
            settings = self.settings
            open_ready = sum(1 for c in job.chunks if c.ready and not c.done)
            for chunk in job.chunks:
                if chunk.ready or chunk.done:
                    continue
                chunk.polls += 1
                if chunk.polls > settings.ready_after and open_ready < max(1, settings.window):
                    chunk.ready = True
                    open_ready += 1
            return job, [c for c in job.chunks if c.ready and not c.done]

    def _blob(self, job_id: str, kind: str, name: str, offset: int) -> tuple[Job, Blob]:
        """The blob a PUT or GET with `job` and `offset` names, once its chunk is ready."""
        job = self.get(job_id, include_finished=False)
        if job.request_type != kind:
            raise StoreError(400, "BadRequest", f"job {job_id} is not a {kind} job", f"/{job.bucket}/{name}")
        chunk, blob = job.blob_at(name, offset)
        if not chunk.ready:
            raise StoreError(307, "Busy", "the chunk holding this blob is not in cache yet; resend",
                             f"/{job.bucket}/{name}")
        return job, blob

    def receive(self, job_id: str, name: str, offset: int, data: bytes) -> None:
        """A PUT of one blob with `job` and `offset`."""
        with self.lock:
            job, blob = self._blob(job_id, "PUT", name, offset)
            if len(data) != blob.length:
                raise StoreError(400, "BadRequest", f"blob of {name!r} at {offset} is {blob.length} bytes, "
                                 f"{len(data)} were sent", f"/{job.bucket}/{name}")
            if blob.done:
                return  # a resent blob (the client did not see our answer): same bytes
            staging = job.objects[name].staging
        # Written outside the lock, so blobs sent in parallel are written in parallel; a
        # blob sent twice at once writes the same bytes twice.
        try:
            fd = os.open(staging, os.O_WRONLY)
        except (FileNotFoundError, TypeError):  # cancelled meanwhile
            raise StoreError(404, "NotFound", f"job {job_id} was cancelled", f"/{job.bucket}/{name}") from None
        try:
            os.pwrite(fd, data, offset)
        finally:
            os.close(fd)
        with self.lock:
            if not blob.done and job.status == IN_PROGRESS:
                self._receive(job, blob)

    def _receive(self, job: Job, blob: Blob) -> None:
        blob.done = True
        target = job.objects[blob.name]
        target.received += 1
        if target.received == target.blobs:
            etag = hashlib.md5(f"{job.id}/{blob.name}/{target.size}".encode()).hexdigest()
            self.store.install(job.bucket, blob.name, target.staging, target.size, etag, target.meta)
            target.staging = None
        self._maybe_complete(job)

    def sent(self, job_id: str, name: str, offset: int) -> tuple[Job, Blob, JobObject]:
        """A GET of one blob with `job` and `offset`: check it may be read now."""
        with self.lock:
            job, blob = self._blob(job_id, "GET", name, offset)
            return job, blob, job.objects[name]

    def mark_sent(self, job: Job, blob: Blob, spans: list) -> None:
        """*spans* ((offset, length), absolute) of *blob* were sent; the blob is done once
        every byte of it has been (a client may fetch a blob in ranges, in any order)."""
        with self.lock:
            for start, length in spans:
                blob.served.append((max(start, blob.offset), min(start + length, blob.offset + blob.length)))
            blob.served.sort()
            covered, reach = 0, blob.offset
            for start, end in blob.served:
                if end > reach:
                    covered += end - max(start, reach)
                    reach = end
            if covered >= blob.length:
                blob.done = True
                self._maybe_complete(job)

    def _maybe_complete(self, job: Job) -> None:
        if job.status == IN_PROGRESS and all(chunk.done for chunk in job.chunks):
            job.status = COMPLETED
            with self.lock:
                self.jobs.pop(job.id, None)
                self.finished[job.id] = job

    def cancel(self, job_id: str, force: bool) -> None:
        with self.lock:
            job = self.jobs.pop(job_id, None)
            if job is None:
                raise StoreError(404, "NotFound", f"job {job_id} is not active", f"/_rest_/job/{job_id}")
            job.status = CANCELED
            self.finished[job_id] = job
        for target in job.objects.values():
            if target.staging:
                try:
                    os.unlink(target.staging)
                except FileNotFoundError:
                    pass
                target.staging = None

    def active(self) -> list[Job]:
        with self.lock:
            return list(self.jobs.values())
