"""Buckets and objects of the DS3/S3 emulator, kept on disk.

Each object version is one file under the store's data directory, written once and never
changed (a new PUT writes a new file and swaps it in), so a GET can serve any range of it
straight from the file (`os.sendfile`) while another request replaces the object. The
key index of each bucket is a sorted list, so a listing with prefix, delimiter and marker
is a bisection plus a walk over the page, whatever the bucket's size. Everything here is
plain Python with one lock; HTTP lives in the handlers.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

# Bucket names as S3 and DS3 accept them (lowercase DNS-like, 3-63 characters).
_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_")


class StoreError(Exception):
    """A refusal the handlers turn into the service's error body."""

    def __init__(self, status: int, code: str, message: str, resource: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource


@dataclass
class StoredObject:
    key: str
    size: int
    mtime: float
    etag: str            # without quotes
    path: str            # the version's file
    meta: dict = field(default_factory=dict)   # x-amz-meta-* (lowercase names)
    content_type: str = "binary/octet-stream"
    version: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Bucket:
    name: str
    created: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    objects: dict = field(default_factory=dict)   # key -> StoredObject
    keys: list = field(default_factory=list)      # sorted keys of `objects`


@dataclass
class Listing:
    contents: list        # StoredObject
    prefixes: list        # common prefixes (str)
    truncated: bool
    next_marker: str


def valid_bucket_name(name: str) -> bool:
    return 3 <= len(name) <= 63 and set(name) <= _BUCKET_CHARS and name[0].isalnum()


class ObjectStore:
    """Buckets of objects whose bytes live in files under *root* (a temporary directory
    by default, removed by `close()`)."""

    def __init__(self, root: Optional[str] = None, clock=time.time):
        self._own_root = root is None
        self.root = root or tempfile.mkdtemp(prefix="hubfs-ds3-emulator-")
        self.clock = clock
        self.lock = threading.RLock()
        self.buckets: dict[str, Bucket] = {}
        self._seq = itertools.count()

    def close(self) -> None:
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- files

    def new_path(self) -> str:
        """A fresh file name for an object version (the caller writes it)."""
        return os.path.join(self.root, f"v{next(self._seq):08d}-{uuid.uuid4().hex[:8]}")

    def _unlink_later(self, path: str) -> None:
        # A reader may hold the old version open (sendfile works on an open descriptor),
        # so unlinking now is safe on POSIX: the bytes go when the last descriptor does.
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # -- buckets

    def bucket(self, name: str) -> Bucket:
        with self.lock:
            bucket = self.buckets.get(name)
        if bucket is None:
            raise StoreError(404, "NoSuchBucket", "The specified bucket does not exist", f"/{name}")
        return bucket

    def create_bucket(self, name: str) -> Bucket:
        if not valid_bucket_name(name):
            raise StoreError(400, "InvalidBucketName", f"bucket name {name!r} is not valid", f"/{name}")
        with self.lock:
            if name in self.buckets:
                raise StoreError(409, "BucketAlreadyExists", "The bucket already exists", f"/{name}")
            bucket = Bucket(name, self.clock())
            self.buckets[name] = bucket
            return bucket

    def delete_bucket(self, name: str, force: bool = False) -> None:
        with self.lock:
            bucket = self.bucket(name)
            if bucket.objects and not force:
                raise StoreError(409, "BucketNotEmpty", "The bucket is not empty", f"/{name}")
            for obj in bucket.objects.values():
                self._unlink_later(obj.path)
            del self.buckets[name]

    # -- objects

    def get(self, bucket_name: str, key: str) -> StoredObject:
        bucket = self.bucket(bucket_name)
        with self.lock:
            obj = bucket.objects.get(key)
        if obj is None:
            raise StoreError(404, "NoSuchKey", "The specified key does not exist", f"/{bucket_name}/{key}")
        return obj

    def install(self, bucket_name: str, key: str, path: str, size: int, etag: str,
                meta: Optional[dict] = None, content_type: Optional[str] = None,
                mtime: Optional[float] = None) -> StoredObject:
        """Make the file at *path* the current version of *key* (replacing any other)."""
        bucket = self.bucket(bucket_name)
        obj = StoredObject(key, size, self.clock() if mtime is None else mtime, etag, path,
                           dict(meta or {}), content_type or "binary/octet-stream")
        with self.lock:
            old = bucket.objects.get(key)
            bucket.objects[key] = obj
            if old is None:
                bisect.insort(bucket.keys, key)
            else:
                self._unlink_later(old.path)
        return obj

    def put_bytes(self, bucket_name: str, key: str, data: bytes, meta: Optional[dict] = None,
                  content_type: Optional[str] = None, mtime: Optional[float] = None) -> StoredObject:
        self.bucket(bucket_name)  # refuse before writing anything
        path = self.new_path()
        with open(path, "wb") as out:
            out.write(data)
        return self.install(bucket_name, key, path, len(data), hashlib.md5(data).hexdigest(),
                            meta, content_type, mtime)

    def copy(self, src_bucket: str, src_key: str, bucket_name: str, key: str,
             meta: Optional[dict] = None, content_type: Optional[str] = None) -> StoredObject:
        source = self.get(src_bucket, src_key)
        path = self.new_path()
        try:
            os.link(source.path, path)  # versions are never written again: share the bytes
        except OSError:
            shutil.copyfile(source.path, path)
        return self.install(bucket_name, key, path, source.size, source.etag,
                            source.meta if meta is None else meta,
                            content_type or source.content_type)

    def delete(self, bucket_name: str, key: str) -> bool:
        """Remove *key*; False when it was not there."""
        bucket = self.bucket(bucket_name)
        with self.lock:
            obj = bucket.objects.pop(key, None)
            if obj is None:
                return False
            index = bisect.bisect_left(bucket.keys, key)
            del bucket.keys[index]
        self._unlink_later(obj.path)
        return True

    def delete_prefix(self, bucket_name: str, prefix: str) -> int:
        """Remove every key starting with *prefix*; returns how many went."""
        bucket = self.bucket(bucket_name)
        with self.lock:
            start = bisect.bisect_left(bucket.keys, prefix)
            end = start
            while end < len(bucket.keys) and bucket.keys[end].startswith(prefix):
                end += 1
            doomed = bucket.keys[start:end]
            del bucket.keys[start:end]
            objs = [bucket.objects.pop(key) for key in doomed]
        for obj in objs:
            self._unlink_later(obj.path)
        return len(objs)

    def list(self, bucket_name: str, prefix: str = "", delimiter: str = "", marker: str = "",
             max_keys: int = 1000) -> Listing:
        """One page of keys after *marker*, rolled up at *delimiter* (S3 semantics)."""
        bucket = self.bucket(bucket_name)
        contents: list = []
        prefixes: list = []
        last = ""
        with self.lock:
            keys = bucket.keys
            index = bisect.bisect_right(keys, marker) if marker else bisect.bisect_left(keys, prefix)
            if index < len(keys) and prefix and keys[index] < prefix:
                index = bisect.bisect_left(keys, prefix)
            while index < len(keys):
                key = keys[index]
                if not key.startswith(prefix):
                    break
                if len(contents) + len(prefixes) >= max_keys:
                    return Listing(contents, prefixes, True, last)
                if delimiter:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        common = key[:cut + len(delimiter)]
                        if common != marker:
                            prefixes.append(common)
                            last = common
                        # Skip every key under this common prefix in one bisection.
                        index = bisect.bisect_left(keys, common + "\U0010ffff", index)
                        continue
                contents.append(bucket.objects[key])
                last = key
                index += 1
        return Listing(contents, prefixes, False, "")
