"""Rendering pull bodies beside the pulls, in threads that run off the interpreter lock.

Decompressing a pull body (lz4 releases the interpreter lock) and rendering its
`LogGroupList` into JSON lines (the C renderer of `render.py` releases it too) is the
CPU work of reading an hour. A `Decoder` runs it in a small pool of plain threads, so
that a shard's next pull goes out while its previous body renders, and renders of
several shards use several cores while the daemon's trio thread keeps serving FUSE.
(Until the C renderer, this was a pool of worker processes: rendering in Python held the
lock; the bodies and rendered bytes copied to and from them cost more than the C render
itself, see docs/benchmarks.md.) With `workers=0` everything renders in the calling
thread (tests, one-core machines). Without the C extension the same threads run the
Python renderer, correct but bound by the interpreter lock.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading

from . import render

# Bodies smaller than this render in the calling thread: handing them to the pool costs
# about what rendering them does.
INLINE_BYTES = 32 * 1024


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Decoder:
    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._pool = None
        self._lock = threading.Lock()

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    self.workers, thread_name_prefix="sls-render")
            return self._pool

    def submit(self, body: bytes, compress_type: str, raw_size: int, groups: int):
        """A future of the rendered bytes of one pull body (raises `render.BadBody`)."""
        if not self.workers or raw_size < INLINE_BYTES:
            future = concurrent.futures.Future()
            try:
                future.set_result(render.render_body(body, compress_type, raw_size, groups))
            except Exception as exc:
                future.set_exception(exc)
            return future
        return self._get_pool().submit(render.render_body, body, compress_type, raw_size,
                                       groups)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
