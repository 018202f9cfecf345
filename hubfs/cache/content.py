"""The disk content cache: rendered files, written once, read with `pread`.

Immutable rendered files (a finished job's items) are stored under
`<cache_dir>/content/<sha256 of cache_key>` and reused by later mounts: rendering is
deterministic, so a cached file is byte-identical to a fresh render. The cache is an LRU
bounded by `max_bytes` (eviction removes the least recently used files first; a reader
with an open descriptor keeps its bytes, as unlink allows). Snapshots of mutable or
growing files live under `<cache_dir>/snapshots/<pid>/` and are removed at exit.

All methods are blocking and thread-safe; the FUSE layer calls the slow ones (render,
store) from worker threads. Nothing here knows FUSE or HTTP.
"""

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)


class ContentCache:
    def __init__(self, cache_dir, max_bytes):
        self.max_bytes = max_bytes
        self.content_dir = os.path.join(cache_dir, "content")
        self.snapshot_dir = os.path.join(cache_dir, "snapshots", str(os.getpid()))
        for path in (cache_dir, self.content_dir, self.snapshot_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        os.chmod(cache_dir, 0o700)  # rendered data may be private; so is the spool later
        self._lock = threading.Lock()
        self._index = OrderedDict()  # file name -> size, least recently used first
        self._total = 0
        self._load_index()

    def _load_index(self):
        entries = []
        for entry in os.scandir(self.content_dir):
            if entry.name.startswith("."):
                if _left_by_dead_process(entry.name):  # a temp file left by a crash
                    os.unlink(entry.path)
                continue
            st = entry.stat()
            entries.append((st.st_mtime, entry.name, st.st_size))
        for _, name, size in sorted(entries):
            self._index[name] = size
            self._total += size

    @staticmethod
    def _name(key):
        return hashlib.sha256(key.encode()).hexdigest()[:40]

    def lookup(self, key):
        """Return `(path, size)` of the cached content for *key*, or None."""
        name = self._name(key)
        path = os.path.join(self.content_dir, name)
        with self._lock:
            size = self._index.get(name)
            if size is None:
                size = self._adopt(name, path)
                if size is None:
                    return None
            self._index.move_to_end(name)
        try:
            os.utime(path)  # last use survives restarts, for LRU order
        except FileNotFoundError:  # removed by hand under us
            with self._lock:
                if self._index.pop(name, None) is not None:
                    self._total -= size
            return None
        return path, size

    def _adopt(self, name, path):
        """Index a file another process (a mount, an fsspec user) stored after this one
        loaded its index, so that what one rendered the other does not render again.
        Called with the lock held."""
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        self._index[name] = size
        self._total += size
        return size

    def store(self, key, chunks):
        """Write the byte chunks of *key* into the cache and return `(path, size)`."""
        entry = self.begin(key)
        try:
            for chunk, _cursor in chunks:
                entry.write(chunk)
        except BaseException:
            entry.abort()
            raise
        return entry.commit()

    def begin(self, key):
        """A `PendingEntry` for *key*: a file written in order, readable by others while
        it grows, that joins the cache under its final name only at `commit()`, so a
        crash or a failed render never leaves a short file to be served later."""
        return PendingEntry(self, key)

    def _commit(self, key, tmp, size):
        name = self._name(key)
        path = os.path.join(self.content_dir, name)
        os.replace(tmp, path)
        with self._lock:
            self._total += size - self._index.pop(name, 0)
            self._index[name] = size
            self._evict(keep=name)
        return path, size

    def _evict(self, keep):
        while self._total > self.max_bytes and len(self._index) > 1:
            name, size = next(iter(self._index.items()))
            if name == keep:
                break
            del self._index[name]
            self._total -= size
            try:
                os.unlink(os.path.join(self.content_dir, name))
            except FileNotFoundError:
                pass
            log.debug("content cache: evicted %s (%d bytes)", name, size)

    def new_snapshot(self):
        """Create an empty private snapshot file and return its path."""
        fd, path = tempfile.mkstemp(prefix="snap-", dir=self.snapshot_dir)
        os.close(fd)
        return path

    def close(self):
        shutil.rmtree(self.snapshot_dir, ignore_errors=True)

    @property
    def total_bytes(self):
        return self._total


class PendingEntry:
    """One cache entry being written (see `ContentCache.begin`). Blocking methods."""

    def __init__(self, cache, key):
        self._cache = cache
        self.key = key
        # The pid in the temp name tells a later process whether the file is a
        # crash's leftover or still being written by a live mount sharing this directory.
        self._fd, self.path = tempfile.mkstemp(prefix=f".render-{os.getpid()}-",
                                               dir=cache.content_dir)
        self.size = 0

    def write(self, chunk):
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(chunk)

    def commit(self):
        """Make the entry part of the cache; return `(path, size)`."""
        os.close(self._fd)
        self._fd = None
        return self._cache._commit(self.key, self.path, self.size)

    def abort(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _left_by_dead_process(temp_name):
    """True for `.render-<pid>-...` temp files whose writer is gone (or of unknown
    origin); a live writer's file must stay, it is renamed into place when complete."""
    parts = temp_name.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return int(parts[1]) == os.getpid()
