"""Reading sized files like rclone's VFS reads objects: blocks, read-ahead, one version.

Each open of a SIZED file gets a `SizedReader`. The file is cut into blocks of
`BLOCK_SIZE`; a reader that keeps reading where it left off (give or take what the
kernel's own read-ahead reorders) is sequential, and its read-ahead window doubles with
each block it consumes, up to `MAX_WINDOW` blocks, fetched `IN_FLIGHT` at a time in the
background while the reader is served from blocks already here. A random read fetches
exactly the bytes it asks for and nothing else. Every fetched block is checked: fewer
bytes than asked, before the end of the file, is an error (EIO), never a short read. The
version seen at open (an ETag) goes with every fetch, so one open never mixes two
versions of an object. All blocks, fetched or being fetched, live in the daemon's one
`BlockCache` budget; when it is spent, read-ahead waits rather than grow the daemon.

Read-ahead asks for runs of up to `RUN_BLOCKS` consecutive blocks in one request, and
only whole runs (or the file's last blocks): a sequential reader of 1 GiB costs 128
requests rather than 1,024, and each request's fixed cost (signing, headers, a thread
hop: about as much CPU as reading 1 MiB of body) is paid once per run. A run's blocks are
views of the one buffer the backend returned, and a read inside one block is answered
with a view of it: the core copies no bytes on their way to the kernel.

This module knows trio and the node model, not FUSE: the FUSE layer calls `read()`.
"""

import logging

import trio

from hubfs import errors

log = logging.getLogger(__name__)

BLOCK_SIZE = 1024 * 1024
MAX_WINDOW = 16  # blocks ahead of a sequential reader, at most
IN_FLIGHT = 4  # fetches at once per open file
RUN_BLOCKS = 8  # blocks asked for in one request by read-ahead, at most


class SizedReader:
    def __init__(self, node, key, blocks, limiter, spawn=None, where=""):
        """*key* names the file in the block cache; *spawn(fn)* starts a background
        task (a mount-wide nursery), or None to fetch only within each read."""
        self.node = node
        self.size = node.size
        self.version = node.version
        self.key = key
        self.blocks = blocks
        self.limiter = limiter
        self.spawn = spawn
        self.where = where
        self.window = 1
        self.next_offset = 0  # where a sequential reader reads next
        self.sequential = True
        self._fetching = {}  # block index -> trio.Event set when it is in the cache (or failed)
        self._failed = {}  # block index -> the error of its fetch
        self._slots = trio.Semaphore(IN_FLIGHT)
        self._ahead_of = None  # (last block, window) read-ahead last looked from
        self.closed = False

    def _block_key(self, index):
        return (self.key, self.version, index)

    def _block_range(self, index):
        start = index * BLOCK_SIZE
        return start, min(BLOCK_SIZE, self.size - start)

    async def read(self, offset, length):
        """The bytes [offset, offset+length), cut at the end of the file: bytes, or a
        memoryview when they lie inside one block."""
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        near = self.next_offset - 2 * BLOCK_SIZE <= offset <= self.next_offset + 2 * BLOCK_SIZE
        self.sequential = near
        self.next_offset = max(self.next_offset, offset + length) if near else offset + length
        if not near:
            self.window = 1
            return await self._fetch_range(offset, length)
        first, last = offset // BLOCK_SIZE, (offset + length - 1) // BLOCK_SIZE
        self._read_ahead(last)
        parts = []
        for index in range(first, last + 1):
            data = await self._block(index)
            start = index * BLOCK_SIZE
            parts.append(data[max(0, offset - start):offset + length - start])
        if last > first or (offset + length) % BLOCK_SIZE == 0:
            self.window = min(MAX_WINDOW, self.window * 2)
            # A sequential reader is done with the blocks behind it (the kernel's page
            # cache has their pages): they give their room back to read-ahead.
            for behind in range(max(0, first - 2), last if (offset + length) % BLOCK_SIZE else last + 1):
                self.blocks.discard(self._block_key(behind))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _read_ahead(self, last):
        """Start fetching the blocks of the window after *last* that are not here yet,
        in runs of `min(RUN_BLOCKS, window)` blocks; a shorter run where the file ends or
        blocks already here bound it, while a short tail of the window waits for the
        window to move on."""
        if self.spawn is None or (last, self.window) == self._ahead_of:
            return  # nothing changed since the last look (reads inside one block)
        self._ahead_of = (last, self.window)
        final = (self.size - 1) // BLOCK_SIZE
        end = min(final, last + self.window)
        run = min(RUN_BLOCKS, self.window)
        index = last + 1
        while index <= end:
            if index in self._fetching or self.blocks.get(self._block_key(index)) is not None:
                index += 1
                continue
            count = 1
            while (count < run and index + count <= end and index + count not in self._fetching
                   and self.blocks.get(self._block_key(index + count)) is None):
                count += 1
            if count < run and index + count > end and end < final:
                return  # the window's tail is not a whole run yet: wait for it to move on
            sizes = []
            for block in range(index, index + count):
                size = self._block_range(block)[1]
                if not self.blocks.reserve(size):
                    break  # the budget is spent: read-ahead waits for room
                sizes.append(size)
            if not sizes:
                return
            for block in range(index, index + len(sizes)):
                self._fetching[block] = trio.Event()
            self.spawn(self._fetch_run, index, sizes)
            if len(sizes) < count:
                return
            index += count

    async def _block(self, index):
        """The bytes of block *index*: cached, on its way (wait for it), or fetched now."""
        while True:
            data = self.blocks.get(self._block_key(index))
            if data is not None:
                return data
            failed = self._failed.pop(index, None)
            if failed is not None:
                raise failed
            event = self._fetching.get(index)
            if event is None:
                break
            # Another fetch of it is under way; if its block is evicted before we look (a
            # tight budget), the loop fetches it once more, and that fetch is ours.
            await event.wait()
        _, size = self._block_range(index)
        self.blocks.reserve(size, need=True)
        self._fetching[index] = trio.Event()
        data = await self._fetch_block(index, size)
        if data is None:
            raise self._failed.pop(index)
        return data

    async def _fetch_block(self, index, size):
        """Fetch block *index* into the cache and return it (None when it failed: the
        error waits in `_failed` for the reader that needs the block)."""
        return (await self._fetch_run(index, [size]))[0]

    async def _fetch_run(self, first, sizes):
        """Fetch the blocks from *first* on, of *sizes* (reserved), in one request, into
        the cache; returns their bytes (Nones when it failed: the error waits in
        `_failed` for each reader that needs one of them)."""
        start, _ = self._block_range(first)
        indexes = range(first, first + len(sizes))
        events = [self._fetching[index] for index in indexes]
        try:
            async with self._slots:
                data = memoryview(await self._fetch_range(start, sum(sizes)))
            blocks, at = [], 0
            for size in sizes:
                blocks.append(data[at:at + size])
                at += size
            self.blocks.put_run([(self._block_key(index), block)
                                 for index, block in zip(indexes, blocks)], sum(sizes))
            return blocks
        except BaseException as exc:
            for index, size in zip(indexes, sizes):
                self.blocks.unreserve(size)
                if isinstance(exc, Exception):
                    self._failed[index] = exc
            if not isinstance(exc, Exception):
                raise
            return [None] * len(sizes)
        finally:
            for index, event in zip(indexes, events):
                self._fetching.pop(index, None)
                event.set()

    async def _fetch_range(self, offset, length):
        data = await trio.to_thread.run_sync(self.node.read, offset, length, self.version,
                                             limiter=self.limiter)
        if len(data) != length:
            raise errors.Transient(f"{self.where}: the service sent {len(data)} of {length} "
                                   f"bytes at offset {offset} (a short read is never passed on)")
        return data

    def close(self):
        self.closed = True
