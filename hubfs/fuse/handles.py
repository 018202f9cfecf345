"""Open file and directory handles.

A file handle pins what its `open` saw: a descriptor on the content file and the length
at that moment, so a reader of a growing file gets a consistent snapshot while the
snapshot grows (or is replaced) behind it. A directory handle holds the listing as it
streams in from the backend, so `readdir` offsets stay valid (an offset is an index into
this handle's own list, never into a listing that changed since).
"""

import itertools
import os

import trio

LISTING_BATCH = 500  # entries pulled per worker-thread hop while a listing streams


class FileHandle:
    def __init__(self, inode, node, fd, length):
        self.inode = inode
        self.node = node
        self.fd = fd
        self.length = length
        self.reader = None  # a `SizedReader` for sized files (no content file)
        self.data = None  # the bytes of a small file held in memory (no content file)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class DirHandle:
    def __init__(self, inode, entries=None, source=None, local=()):
        self.inode = inode
        self.entries = list(entries or [])  # [(name, node)]
        self._source = source  # generator of nodes, or None when the listing is complete
        self._local = list(local)  # names made here, listed after the service's ones
        self.lock = trio.Lock()
        if source is None:
            self._add_local()

    @property
    def complete(self):
        return self._source is None

    async def fetch_more(self, limiter):
        """Pull the next batch of entries from the backend (in a worker thread)."""
        batch = await trio.to_thread.run_sync(
            lambda: list(itertools.islice(self._source, LISTING_BATCH)), limiter=limiter)
        self.entries.extend((node.name, node) for node in batch)
        if len(batch) < LISTING_BATCH:
            self._source = None
            self._add_local()

    def _add_local(self):
        listed = {name for name, _ in self.entries}
        self.entries.extend((node.name, node) for node in self._local if node.name not in listed)
        self._local = []

    def close(self):
        if self._source is not None:
            self._source.close()
            self._source = None


class HandleTable:
    def __init__(self):
        self._next = itertools.count(1)
        self._handles = {}

    def add(self, handle):
        number = next(self._next)
        self._handles[number] = handle
        return number

    def get(self, number):
        return self._handles.get(number)

    def pop(self, number):
        return self._handles.pop(number, None)

    def values(self):
        return list(self._handles.values())
