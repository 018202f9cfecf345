"""How a remote moves object bytes: DS3 through bulk jobs, plain S3 through plain requests.

The tree calls `read`, `write`, `delete` and `put_folder` and never needs to know which
service it talks to. A read fetches exactly the bytes asked for (the core's reader cuts
files into blocks and reads ahead of sequential readers): a range of a blob through the
object's bulk GET job on DS3, a ranged GET pinned to the ETag on S3. Writes are a bulk
PUT job on DS3, a single PUT or a multipart upload with parallel parts on S3.
"""

import threading

from cachetools import LRUCache

from . import multipart
from .bulk import BulkJobs, ObjectReadJob


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

    def fetch(self, node, version, offset, length):
        # DS3 bulk GETs name no version: a read job reads the object as it is now.
        ident = (node.bucket, node.key, version)
        with self._lock:
            job = self._read_jobs.get(ident)
            if job is None:
                job = self._read_jobs[ident] = ObjectReadJob(self.jobs, node.bucket, node.key)
        return job.read(offset, length)

    def write(self, bucket, key, path, progress=None):
        self.jobs.put_object(bucket, key, path, progress)
        return None  # DS3 answers no ETag to blob PUTs; the next listing brings it
