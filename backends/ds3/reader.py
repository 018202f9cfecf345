"""Ranged reads of objects with read-ahead, shared by every object of a remote.

`read(offset, length)` of a SIZED file must return exactly the bytes asked for (short
only at the end of the object) or raise. Objects are fetched in windows of `window`
bytes; a read that continues where the previous read of the same object ended also
starts fetching the next `ahead` windows in the background, so a sequential reader
finds them already in memory. Fetched windows live in one LRU bounded in bytes for the
whole remote, so many open files cannot add up to unbounded memory.
"""

import concurrent.futures
import threading

from cachetools import LRUCache

from hubfs import errors


class WindowReader:
    def __init__(self, window=8 * 1024 * 1024, ahead=3, budget=128 * 1024 * 1024, workers=4):
        self.window = window
        self.ahead = ahead
        self._cache = LRUCache(maxsize=budget, getsizeof=len)
        self._inflight = {}
        self._last_end = LRUCache(maxsize=4096)
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="s3-readahead")

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _window(self, ident, index, size, fetch):
        """The bytes of window *index* of object *ident*: cached, in flight, or fetched now."""
        key = (ident, index)
        with self._lock:
            data = self._cache.get(key)
            if data is not None:
                return data
            future = self._inflight.get(key)
            if future is None:
                future = concurrent.futures.Future()
                self._inflight[key] = future
                owner = True
            else:
                owner = False
        if owner:
            self._run(key, index, size, fetch, future)
        return future.result()

    def _run(self, key, index, size, fetch, future):
        start = index * self.window
        length = min(self.window, size - start)
        try:
            data = fetch(start, length)
            if len(data) != length:
                raise errors.Transient(f"read of {length} bytes at {start} gave {len(data)}")
        except BaseException as exc:
            with self._lock:
                self._inflight.pop(key, None)
            future.set_exception(exc)
            return
        with self._lock:
            self._inflight.pop(key, None)
            if length <= self._cache.maxsize:
                self._cache[key] = data
        future.set_result(data)

    def _prefetch(self, ident, index, size, fetch):
        key = (ident, index)
        with self._lock:
            if key in self._cache or key in self._inflight:
                return
            future = concurrent.futures.Future()
            self._inflight[key] = future
        self._pool.submit(self._run, key, index, size, fetch, future)
        # A failed prefetch is not an error yet: the read that needs it fetches again.
        future.add_done_callback(lambda f: f.exception())

    def read(self, ident, size, offset, length, fetch):
        """Bytes [offset, offset+length) of the object *ident* of *size* bytes, fetched
        with `fetch(start, length) -> bytes` (exact) where not in memory."""
        end = min(size, offset + length)
        if offset >= end:
            return b""
        first, last = offset // self.window, (end - 1) // self.window
        with self._lock:
            sequential = self._last_end.get(ident) == offset
            self._last_end[ident] = end
        if sequential or offset == 0:
            for index in range(last + 1, min(last + 1 + self.ahead, (size - 1) // self.window + 1)):
                self._prefetch(ident, index, size, fetch)
        parts = []
        for index in range(first, last + 1):
            try:
                data = self._window(ident, index, size, fetch)
            except errors.HubfsError:
                # A failed read-ahead window is fetched once more by the read itself.
                data = self._window(ident, index, size, fetch)
            base = index * self.window
            parts.append(data[max(offset, base) - base:min(end, base + len(data)) - base])
        out = b"".join(parts)
        if len(out) != end - offset:
            raise errors.Transient(f"read of {end - offset} bytes at {offset} gave {len(out)}")
        return out

    def forget(self, ident):
        with self._lock:
            for key in [k for k in self._cache.keys() if k[0] == ident]:
                self._cache.pop(key, None)
            self._last_end.pop(ident, None)
