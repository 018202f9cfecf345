"""Rendering pull bodies off the daemon's interpreter lock, in worker processes.

Decoding a `LogGroupList` and writing its JSON lines is pure CPU in Python (about 5 s
per million logs, `render.py`); done in the daemon it would hold the interpreter lock
that also serves FUSE and the HTTP pulls. A `Decoder` hands each pull body, still
compressed (the smallest form to copy), to a small pool of worker processes and gets
the rendered bytes back; pulls of the next bodies go on meanwhile. The pool is made
with the `spawn` start method (the daemon has threads; forking it is unsafe), started
once and kept; a worker that dies breaks only the renders in flight, which fail with
EIO, and the next submit starts a new pool. Workers watch their parent and exit when it
is gone, so a daemon killed with SIGKILL leaves no process behind (a spawned worker
holds both ends of its task pipe and would otherwise wait forever). With `workers=0`
everything renders in the calling thread (tests, one-core machines).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from hubfs.errors import ServiceError

from . import render

log = logging.getLogger(__name__)

# Bodies smaller than this render in the calling thread: copying them to a worker and
# back costs about what rendering them does.
INLINE_BYTES = 32 * 1024


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit as soon as the process that started us is gone."""

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Decoder:
    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers
        self._pool = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker processes now (they import protobuf: a fraction of a second
        each), so the first read of a mount does not wait for them."""
        if self.workers:
            pool = self._get_pool()
            for future in [pool.submit(render.render_body, b"", "", 0, 0) for _ in range(self.workers)]:
                future.result()

    def _get_pool(self):
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_watch_parent, initargs=(os.getpid(),))
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
        try:
            return _Checked(self._get_pool().submit(render.render_body, body, compress_type,
                                                    raw_size, groups), self)
        except (BrokenProcessPool, RuntimeError):
            self._reset()
            return _Checked(self._get_pool().submit(render.render_body, body, compress_type,
                                                    raw_size, groups), self)

    def _reset(self, wait=False) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def close(self) -> None:
        self._reset(wait=True)


class _Checked:
    """A worker future whose `result()` turns a dead worker into a neutral error."""

    def __init__(self, future, decoder):
        self._future = future
        self._decoder = decoder

    def result(self, timeout=None):
        try:
            return self._future.result(timeout)
        except BrokenProcessPool:
            self._decoder._reset()
            raise ServiceError("a log decoding worker process died") from None

    def cancel(self):
        return self._future.cancel()
