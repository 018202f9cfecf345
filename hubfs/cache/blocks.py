"""The daemon's one memory budget for file bytes read from services, and the blocks in it.

Sized files (objects, values) are read in blocks; blocks fetched ahead of a sequential
reader, and blocks kept for a reader that comes back, live here, and so does every block
still being fetched (reserved before its request is sent). One budget for the whole
daemon, `memory_budget` in the config, bounds all of it (DESIGN.md "Bounded resources"):
when it is spent, read-ahead shrinks to what a reader needs now, and kept blocks are
dropped least recently used first. Blocks are keyed by `(file key, version, index)`, so
a new version of an object can never be served from an old one's blocks. A block may be
a view of a larger buffer (read-ahead reads a run of blocks in one body and keeps views
of it, without copies): the buffer is what memory holds, so it is counted whole while
any block of it is kept, and its bytes come back when the last one goes.

Thread-safe; no I/O.
"""

import collections
import threading

DEFAULT_BUDGET = 128 * 1024 * 1024


class BlockCache:
    def __init__(self, budget=DEFAULT_BUDGET):
        self.budget = budget
        self._lock = threading.Lock()
        self._blocks = collections.OrderedDict()  # key -> bytes, least recently used first
        self._cached = 0
        self._reserved = 0
        self._buffers = {}  # id(buffer) -> [its bytes, blocks kept of it, the buffer]

    @property
    def used(self):
        with self._lock:
            return self._cached + self._reserved

    def get(self, key):
        with self._lock:
            data = self._blocks.get(key)
            if data is not None:
                self._blocks.move_to_end(key)
            return data

    def reserve(self, size, need=False):
        """Account for a block about to be fetched. Returns False when the budget has no
        room even after dropping kept blocks, unless *need* (a reader waits for it now:
        then it is admitted, and the overshoot is bounded by the readers in flight)."""
        with self._lock:
            self._evict(size)
            if self._cached + self._reserved + size > self.budget and not need:
                return False
            self._reserved += size
            return True

    def unreserve(self, size):
        with self._lock:
            self._reserved = max(0, self._reserved - size)

    def put(self, key, data, reserved):
        """Store a fetched block (its *reserved* size is released in exchange)."""
        self.put_run([(key, data)], reserved)

    def put_run(self, blocks, reserved):
        """Store the fetched `(key, data)` *blocks* of one request at once (often views
        of one buffer), releasing their *reserved* bytes in exchange: counted together,
        so the buffer is never counted whole while its other blocks are still reserved."""
        with self._lock:
            self._reserved = max(0, self._reserved - reserved)
            for key, data in blocks:
                old = self._blocks.pop(key, None)
                if old is not None:
                    self._release(old)
                self._blocks[key] = data
                self._hold(data)
            self._evict(0)

    def _evict(self, room):
        while self._blocks and self._cached + self._reserved + room > self.budget:
            _, data = self._blocks.popitem(last=False)
            self._release(data)

    def discard(self, key):
        """Forget one block (a sequential reader is past it: the kernel has its pages)."""
        with self._lock:
            data = self._blocks.pop(key, None)
            if data is not None:
                self._release(data)

    def drop_file(self, file_key):
        """Forget every block of *file_key* (any version)."""
        with self._lock:
            for key in [k for k in self._blocks if k[0] == file_key]:
                self._release(self._blocks.pop(key))

    def _hold(self, data):
        """Count a block just kept (with the lock held)."""
        buffer = _larger_buffer(data)
        if buffer is None:
            self._cached += len(data)
            return
        entry = self._buffers.get(id(buffer))
        if entry is None:
            size = memoryview(buffer).nbytes
            self._buffers[id(buffer)] = [size, 1, buffer]
            self._cached += size
        else:
            entry[1] += 1

    def _release(self, data):
        """Uncount a block no longer kept (with the lock held)."""
        buffer = _larger_buffer(data)
        if buffer is None:
            self._cached -= len(data)
            return
        entry = self._buffers[id(buffer)]
        entry[1] -= 1
        if not entry[1]:
            del self._buffers[id(buffer)]
            self._cached -= entry[0]


def _larger_buffer(data):
    """The buffer *data* is a view of, when that buffer is larger than it; else None."""
    if isinstance(data, memoryview) and data.obj is not None \
            and memoryview(data.obj).nbytes > data.nbytes:
        return data.obj
    return None
