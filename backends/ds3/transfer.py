"""How a remote moves object bytes: DS3 through bulk jobs, plain S3 through plain requests.

The tree calls `read`, `write`, `delete` and `put_folder` and never needs to know which
service it talks to. Both read through one `WindowReader` (read-ahead windows, one memory
budget per remote); what fetches a window differs: a bulk GET job of the object on DS3,
a ranged GET on S3. Writes are a bulk PUT job on DS3, a single PUT or a multipart upload
with parallel parts on S3.
"""

import threading

from cachetools import LRUCache

from . import multipart
from .bulk import BulkJobs, ObjectReadJob
from .reader import WindowReader


class Transfer:
    def __init__(self, client, window=8 * 1024 * 1024, ahead=3, budget=64 * 1024 * 1024):
        self.client = client
        self.reader = WindowReader(window, ahead, budget)

    def close(self):
        self.reader.close()

    def delete(self, bucket, key):
        self.client.delete(bucket, key)

    def put_folder(self, bucket, prefix):
        self.client.put(bucket, prefix, b"")

    def read(self, node, offset, length, version=None):
        version = version or node.version
        ident = (node.bucket, node.key, version, node.size)
        return self.reader.read(ident, node.size, offset, length, self.fetcher(node, version))

    def copy(self, src_bucket, src_key, bucket, key):
        """Copy on the service; False where it has no copy."""
        return False


class S3Transfer(Transfer):
    def __init__(self, client, part_size=16 * 1024 * 1024, threshold=16 * 1024 * 1024, **kwargs):
        super().__init__(client, **kwargs)
        self.part_size = part_size
        self.threshold = threshold

    def fetcher(self, node, version):
        return lambda offset, length: self.client.get_range(node.bucket, node.key, offset, length,
                                                            version=version)

    def copy(self, src_bucket, src_key, bucket, key):
        return self.client.copy(src_bucket, src_key, bucket, key)

    def write(self, bucket, key, path, progress=None):
        return multipart.put_object(self.client, bucket, key, path, self.part_size, self.threshold, progress)


class Ds3Transfer(Transfer):
    def __init__(self, client, chunk_wait=600.0, **kwargs):
        super().__init__(client, **kwargs)
        self.jobs = BulkJobs(client, chunk_wait)
        self._read_jobs = LRUCache(maxsize=256)
        self._lock = threading.Lock()

    def fetcher(self, node, version):
        # DS3 bulk GETs name no version: a read job reads the object as it is now.
        ident = (node.bucket, node.key, version)
        with self._lock:
            job = self._read_jobs.get(ident)
            if job is None:
                job = self._read_jobs[ident] = ObjectReadJob(self.jobs, node.bucket, node.key)
        return job.read

    def write(self, bucket, key, path, progress=None):
        self.jobs.put_object(bucket, key, path, progress)
        return None  # DS3 answers no ETag to blob PUTs; the next listing brings it
