"""Pulling shards by cursor, several at once, rendering off the interpreter lock.

A shard's logs between two cursors come from a chain of PullLogs calls (each answer
names the next cursor), so one shard is pulled one request after another; the next
request goes out while the previous body renders in a worker process (`decoding.py`).
An all-shards hour pulls every shard in its own thread at the same time and hands the
rendered chunks back strictly in shard order. Each shard keeps at most `DEPTH` chunks
ahead of the reader, which bounds the memory a render takes whatever the hour's size.
A failure anywhere ends the whole stream with that error: never a silently short file.
(`hubfs.parallel.ordered_map` runs independent calls; a shard is a chain of calls whose
next cursor is only known from the previous answer, so each shard gets a thread of its
own for as long as its pull lasts, rather than a slot of the shared pool.)
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading

from hubfs.errors import HubfsError, ServiceError

DEPTH = 3  # rendered-but-unread chunks per shard
_DONE = object()


def shard_chunks(client, decoder, project, logstore, shard, cursor, stop, count):
    """Yield `(rendered bytes, next cursor)` from *cursor* up to the cursor *stop*."""
    where = f"{client.name}: {project}/{logstore} shard {shard}"
    pending = []
    while cursor != stop:
        pull = client.pull(project, logstore, shard, cursor, end_cursor=stop, count=count)
        if pull.next_cursor == cursor:
            # The service says there is nothing more, yet the end was not reached: the
            # data ends before its own cursor (cut, expired or a service fault).
            raise ServiceError(f"{where}: the pull stopped at a cursor before the end of "
                               "the range")
        pending.append((decoder.submit(pull.body, pull.compress_type, pull.raw_size,
                                       pull.groups), pull.next_cursor))
        cursor = pull.next_cursor
        if len(pending) >= 2:
            future, next_cursor = pending.pop(0)
            yield future.result(), next_cursor
    for future, next_cursor in pending:
        yield future.result(), next_cursor


def ordered_shards(streams, threads):
    """Run each stream (an iterator factory, one per shard) in its own thread, at most
    *threads* at once, and yield `(index, item)` in stream order."""
    queues = [queue.Queue(DEPTH) for _ in streams]
    stop = threading.Event()

    def produce(index):
        q = queues[index]
        try:
            for item in streams[index]():
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as exc:  # handed to the reader, who raises it in order
            q.put(exc)

    pool = concurrent.futures.ThreadPoolExecutor(max(1, min(threads, len(streams))),
                                                 thread_name_prefix="sls-pull")
    try:
        for index in range(len(streams)):
            pool.submit(produce, index)
        for index, q in enumerate(queues):
            while True:
                item = q.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    if isinstance(item, HubfsError):
                        raise item
                    raise ServiceError(f"pulling failed: {item!r}") from item
                yield index, item
    finally:
        stop.set()
        for q in queues:  # unblock producers waiting on a full queue
            try:
                while True:
                    q.get_nowait()
            except queue.Empty:
                pass
        pool.shutdown(wait=False, cancel_futures=True)
