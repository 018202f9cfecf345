"""Pulling shards by cursor, several at once, rendering off the interpreter lock.

A shard's logs between two cursors come from a chain of PullLogs calls (each answer
names the next cursor), so one shard is pulled one request after another; the next
request goes out while the previous body renders in a render thread (`decoding.py`).
An all-shards hour pulls every shard in its own thread at the same time and hands the
rendered chunks back strictly in shard order: the first shard's chunks as they come,
so the hour file streams from its first pull on, while the later shards pull and
render at full speed into buffers of their own (`_Ahead`) until their turn. A buffer
keeps `AHEAD_BYTES` in memory and spills the rest to an unnamed temporary file, which
bounds the daemon's memory whatever the hour's size without holding any shard back.
A failure anywhere ends the whole stream with that error, at its place in the order:
never a silently short file. (`hubfs.parallel.ordered_map` runs independent calls; a
shard is a chain of calls whose next cursor is only known from the previous answer, so
each shard gets a thread of its own for as long as its pull lasts, rather than a slot
of the shared pool.)
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import tempfile
import threading

from hubfs.errors import HubfsError, ServiceError

from . import render

# Rendered bytes one shard keeps in memory ahead of the reader; the rest waits on disk,
# up to AHEAD_DISK_BYTES, beyond which the shard's pulls wait for the reader (the shard
# being read always runs: threads take shards in order, so this cannot deadlock).
AHEAD_BYTES = 8 * 1024 * 1024
AHEAD_DISK_BYTES = 1024 * 1024 * 1024
_SPILLED = object()


def shard_chunks(client, decoder, project, logstore, shard, cursor, stop, count):
    """Yield `(rendered bytes, next cursor)` from *cursor* up to the cursor *stop*.

    The first pull asks for a tenth of *count* LogGroups and is rendered at once in this
    thread, so the file's first bytes wait for a small body only; later pulls render in
    the decoder's threads while the next one is in flight."""
    where = f"{client.name}: {project}/{logstore} shard {shard}"
    pending = []
    first = True
    while cursor != stop:
        pull = client.pull(project, logstore, shard, cursor, end_cursor=stop,
                           count=max(1, count // 10) if first else count)
        if pull.next_cursor == cursor:
            # The service says there is nothing more, yet the end was not reached: the
            # data ends before its own cursor (cut, expired or a service fault).
            raise ServiceError(f"{where}: the pull stopped at a cursor before the end of "
                               "the range")
        cursor = pull.next_cursor
        if first:
            first = False
            yield render.render_body(pull.body, pull.compress_type, pull.raw_size,
                                     pull.groups), cursor
            continue
        pending.append((decoder.submit(pull.body, pull.compress_type, pull.raw_size,
                                       pull.groups), cursor))
        if len(pending) >= 2:
            future, next_cursor = pending.pop(0)
            yield future.result(), next_cursor
    for future, next_cursor in pending:
        yield future.result(), next_cursor


class _Stopped(Exception):
    """The reader went away: the producer ends quietly."""


class _Ahead:
    """One shard's `(chunk, cursor)` items waiting for the reader, in order: in memory up
    to `AHEAD_BYTES`, beyond that in an unnamed temporary file (nothing to clean up
    after a crash). One producer thread puts, the reader thread takes."""

    def __init__(self):
        self._cond = threading.Condition()
        self._items = collections.deque()  # (chunk or _SPILLED, length, cursor)
        self._in_memory = 0
        self._file = None
        self._write_at = 0  # end of the spilled bytes
        self._read_at = 0   # start of the spilled bytes not yet taken
        self._spilled = 0   # spilled items not yet taken
        self._end = None    # None while running, then True (done) or the exception
        self._closed = False

    def put(self, chunk, cursor):
        with self._cond:
            while (not self._closed and self._spilled
                   and self._write_at - self._read_at + len(chunk) > AHEAD_DISK_BYTES):
                self._cond.wait()
            if self._closed:
                raise _Stopped()
            if self._in_memory + len(chunk) <= AHEAD_BYTES:
                self._items.append((chunk, len(chunk), cursor))
                self._in_memory += len(chunk)
            else:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="hubfs-sls-")
                # Under the lock: close() cannot reuse the descriptor meanwhile.
                os.pwrite(self._file.fileno(), chunk, self._write_at)
                self._write_at += len(chunk)
                self._items.append((_SPILLED, len(chunk), cursor))
                self._spilled += 1
            self._cond.notify()

    def finish(self, end):
        with self._cond:
            self._end = end
            self._cond.notify()

    def take(self):
        """The next item, None at the end; raises the producer's error in its place."""
        with self._cond:
            while not self._items and self._end is None:
                self._cond.wait()
            if not self._items:
                if self._end is True:
                    return None
                raise self._end
            chunk, length, cursor = self._items.popleft()
            if chunk is not _SPILLED:
                self._in_memory -= length
                return chunk, cursor
            at = self._read_at
            self._read_at += length
            self._spilled -= 1
            fd = self._file.fileno()
        # Outside the lock: the producer writes only past _write_at, never here.
        chunk = os.pread(fd, length, at)
        if len(chunk) != length:
            raise ServiceError("a spilled shard buffer was read short")
        with self._cond:
            if not self._spilled and self._read_at == self._write_at and not self._closed:
                self._file.truncate(0)  # all taken: start the file over
                self._read_at = self._write_at = 0
            self._cond.notify_all()  # a producer may wait for room on disk
        return chunk, cursor

    def close(self):
        with self._cond:
            self._closed = True
            self._items.clear()
            if self._file is not None:
                self._file.close()
            self._cond.notify_all()


def ordered_shards(streams, threads):
    """Run each stream (an iterator factory, one per shard) in its own thread, at most
    *threads* at once, and yield `(index, item)` in stream order."""
    buffers = [_Ahead() for _ in streams]

    def produce(index):
        ahead = buffers[index]
        try:
            for chunk, cursor in streams[index]():
                ahead.put(chunk, cursor)
            ahead.finish(True)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the reader, who raises it in order
            ahead.finish(exc)

    pool = concurrent.futures.ThreadPoolExecutor(max(1, min(threads, len(streams))),
                                                 thread_name_prefix="sls-pull")
    try:
        for index in range(len(streams)):
            pool.submit(produce, index)
        for index, ahead in enumerate(buffers):
            while True:
                try:
                    item = ahead.take()
                except HubfsError:
                    raise
                except Exception as exc:
                    raise ServiceError(f"pulling failed: {exc!r}") from exc
                if item is None:
                    break
                yield index, item
    finally:
        for ahead in buffers:  # producers stop at their next chunk
            ahead.close()
        pool.shutdown(wait=False, cancel_futures=True)
