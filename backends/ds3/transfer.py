"""How a remote moves object bytes: DS3 through bulk jobs, plain S3 through plain requests.

The tree calls `read`, `write`, `delete` and `put_folder` and never needs to know which
service it talks to. A read fetches exactly the bytes asked for (the core's reader cuts
files into blocks and reads ahead of sequential readers): a range of a blob through the
object's bulk GET job on DS3, a ranged GET pinned to the ETag on S3. Writes are a bulk
PUT job on DS3, a single PUT or a multipart upload with parallel parts on S3.
"""

import logging
import threading

from cachetools import LRUCache

from hubfs import errors

from . import multipart
from .bulk import BulkJobs, ObjectReadJob

log = logging.getLogger(__name__)

# A folder read file after file (`cp -r`, `tar`) shares bulk GET jobs: one job for the
# next SHARED_OBJECTS objects of its listing of at most SHARED_OBJECT_MAX bytes each
# (SHARED_BYTES_MAX in all), instead of a job start and a chunks-ready poll per file.
SHARED_OBJECTS = 16
SHARED_OBJECT_MAX = 4 * 1024 * 1024
SHARED_BYTES_MAX = 64 * 1024 * 1024
LISTINGS_KEPT = 16  # folders whose listing order is kept for that
LISTING_MAX = 20_000  # objects of one listing kept, at most


class Transfer:
    def __init__(self, client):
        self.client = client

    def close(self):
        pass

    def delete(self, bucket, key):
        self.client.delete(bucket, key)

    def put_folder(self, bucket, prefix):
        self.client.put(bucket, prefix, b"")

    def read(self, node, offset, length, version=None):
        """Exactly the bytes [offset, offset+length) of *node*, cut at its end."""
        length = max(0, min(length, node.size - offset))
        if length == 0:
            return b""
        return self.fetch(node, version or node.version, offset, length)

    def copy(self, src_bucket, src_key, bucket, key):
        """Copy on the service; False where it has no copy."""
        return False

    def note_listing(self, bucket, prefix, objects):
        """A complete listing of one folder: [(key, size, etag)] in its order."""


class S3Transfer(Transfer):
    def __init__(self, client, part_size=16 * 1024 * 1024, threshold=16 * 1024 * 1024):
        super().__init__(client)
        self.part_size = part_size
        self.threshold = threshold

    def fetch(self, node, version, offset, length):
        return self.client.get_range(node.bucket, node.key, offset, length, version=version)

    def copy(self, src_bucket, src_key, bucket, key):
        return self.client.copy(src_bucket, src_key, bucket, key)

    def write(self, bucket, key, path, progress=None):
        return multipart.put_object(self.client, bucket, key, path, self.part_size, self.threshold, progress)


class Ds3Transfer(Transfer):
    def __init__(self, client, chunk_wait=600.0):
        super().__init__(client)
        self.jobs = BulkJobs(client, chunk_wait)
        # One bulk GET job per object version being read, shared by all its reads.
        self._read_jobs = LRUCache(maxsize=256)
        self._lock = threading.Lock()
        # Folders listed lately: (bucket, prefix) -> ([(key, size, etag)], {key: place}),
        # and the place of the object whose reading started last in each.
        self._listings = LRUCache(maxsize=LISTINGS_KEPT)
        self._last_started = LRUCache(maxsize=LISTINGS_KEPT)

    def note_listing(self, bucket, prefix, objects):
        if len(objects) <= LISTING_MAX:
            with self._lock:
                places = {key: n for n, (key, _, _) in enumerate(objects)}
                self._listings[(bucket, prefix)] = (objects, places)

    def fetch(self, node, version, offset, length):
        # DS3 bulk GETs name no version: a read job reads the object as it is now.
        ident = (node.bucket, node.key, version)
        group = None
        with self._lock:
            job = self._read_jobs.get(ident)
            walking = self._walking(node) if offset == 0 else False
            if job is None:
                job = self._read_jobs[ident] = ObjectReadJob(self.jobs, node.bucket, node.key)
                group = self._next_of_walk(node, version) if walking else None
        if group:
            self._start_shared(node.bucket, group)
        return job.read(offset, length)

    @staticmethod
    def _folder(node):
        return (node.bucket, node.key.rsplit("/", 1)[0] + "/" if "/" in node.key else "")

    def _walking(self, node):
        """*node*'s reading starts: True when the object before it in its folder's
        listing was the last one to start (`cp -r`, `tar`). Called under the lock."""
        folder = self._folder(node)
        listed = self._listings.get(folder)
        place = listed[1].get(node.key) if listed is not None else None
        if place is None:
            return False
        walking = self._last_started.get(folder) == place - 1
        self._last_started[folder] = place
        return walking

    def _next_of_walk(self, node, version):
        """The small objects of *node*'s folder listing from *node* on, for one job: a
        list of (key, etag) of at least two, else None. Called under the lock."""
        objects, places = self._listings[self._folder(node)]
        place = places[node.key]
        if node.size > SHARED_OBJECT_MAX:
            return None
        group, total = [], 0
        for key, size, etag in objects[place:place + SHARED_OBJECTS]:
            if size > SHARED_OBJECT_MAX or total + size > SHARED_BYTES_MAX:
                break
            if key != node.key and (node.bucket, key, etag) in self._read_jobs:
                break  # already being read through a job of its own
            group.append((key, etag if key != node.key else version))
            total += size
        return group if len(group) > 1 else None

    def _start_shared(self, bucket, group):
        """One bulk GET job for the objects of *group*; each object's reader adopts it.
        If it cannot be started, every object starts its own job when it is read."""
        try:
            info = self.jobs.start(bucket, "start_bulk_get", [key for key, _ in group])
        except errors.HubfsError as exc:
            log.debug("%s: a shared read job for %d objects of %s could not start: %s",
                      self.client.name, len(group), bucket, exc)
            return
        ready = set()
        blobs = {}
        for chunk in info.chunks:
            for blob in chunk.blobs:
                blobs.setdefault(blob.name, []).append((blob.offset, blob.length, chunk.id))
        with self._lock:
            for key, etag in group:
                ident = (bucket, key, etag)
                job = self._read_jobs.get(ident)
                if job is None:
                    job = self._read_jobs[ident] = ObjectReadJob(self.jobs, bucket, key)
                if key in blobs:
                    job.adopt(info.id, blobs[key], ready)
        log.debug("%s: one read job %s for %d objects of %s", self.client.name, info.id,
                  len(group), bucket)

    def write(self, bucket, key, path, progress=None):
        self.jobs.put_object(bucket, key, path, progress)
        return None  # DS3 answers no ETag to blob PUTs; the next listing brings it
