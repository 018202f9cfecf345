"""Fetch or send N things in parallel, in order, with a bound on what is in flight.

Backends page through item streams, pull shards, send restore batches and upload parts;
each needs "run these calls a few at a time and hand me the results in order", and each
used to keep a private thread pool for it. `ordered_map` is that one helper: at most
*in_flight* calls run at once (so at most that many results wait in memory ahead of the
consumer), results come back in input order, the first failure is raised in order (after
the results before it), and a consumer that stops early (a `head` closing the file, an
error) cancels what has not started. Threads come from one daemon-wide pool whose size
bounds the process's concurrency as a whole; per-remote request limits are enforced by
`hubfs.http.HttpClient`, so a stalled service fills its own slots, not everyone's.
"""

import collections
import concurrent.futures
import threading

POOL_THREADS = 32

_pool = None
_pool_lock = threading.Lock()


def _shared_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="hubfs-fetch")
        return _pool


def ordered_map(fn, items, in_flight=4):
    """Yield `fn(item)` for each of *items* in order, running up to *in_flight* calls
    at once in worker threads. *items* may be a generator (read lazily, so a producer of
    batches is never read far ahead of the network)."""
    if in_flight <= 1:
        for item in items:
            yield fn(item)
        return
    pool = _shared_pool()
    pending = collections.deque()
    source = iter(items)
    try:
        for item in source:
            pending.append(pool.submit(fn, item))
            if len(pending) >= in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def run_all(fn, items, in_flight=4):
    """Run `fn(item)` for every item (results discarded), raising the first failure."""
    for _ in ordered_map(fn, items, in_flight):
        pass
