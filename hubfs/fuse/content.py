"""File contents behind inodes: when to render, where the bytes live, what size to report.

DESIGN.md semantics 1 ("never lie about size") is implemented here:
- immutable RENDERED files are rendered once into the disk content cache and from then
  on report their exact size. The render starts at the first `getattr` or `open` and
  streams into the cache file (`hubfs.render`): an `open` answers at once and its reads
  are served from the part already on disk, while a `getattr` (`stat`, and `fstat` on
  an open descriptor: the kernel does not tell them apart) waits for the exact size.
  With the node's `fstat_during_render = "partial"` (an explicit trade, off by default)
  a `getattr` from a process that has the file open while it renders is answered with
  the bytes rendered so far and no attribute caching, so `cat` and `grep`, which `fstat`
  before their first read, get their first bytes at once; every other process still
  waits for the exact size (docs/semantics.md says which tools that affects);
- mutable RENDERED files are re-rendered into a private snapshot when older than the
  attribute timeout, so `stat` and the `open` that follows agree (a small one is held as
  bytes in memory rather than a snapshot file);
- files rendered ahead of a tree walk (`hubfs.render.walk_prefetch`) are rendered a
  directory at a time in one worker thread; the small immutable ones are then held as
  bytes in a bounded LRU instead of the disk cache (`hubfs.render.directory`);
- GROWING files keep one snapshot per inode that is extended (for `appendable` nodes,
  only the new records are fetched); every `open` pins the length it saw, so a reader
  gets a consistent prefix while the snapshot grows behind it;
- SIZED files report the service's size and are read by range.
Rendering runs in worker threads under the shared request limiter, and one render per
inode (per cache key, for streamed renders) at a time: concurrent openers share it.
"""

import contextlib
import dataclasses
import os
import time

import cachetools
import trio

from hubfs import stats
from hubfs.cache.listings import ATTR_TTL
from hubfs.cache.rendering import counted
from hubfs.cache.spool import shown_path
from hubfs.fuse.handles import FileHandle
from hubfs.render.directory import held_chunks, render_files
from hubfs.render.progress import RenderProgress
from hubfs.render.streaming import start_render
from hubfs.tree import Kind


@dataclasses.dataclass
class Content:
    """Where an inode's current bytes are: a file at *path*, the *data* itself, or
    neither (SIZED: read from the node)."""

    path: str | None
    size: int
    rendered_at: float
    cursor: object = None
    private: bool = False  # a snapshot of ours, to delete when replaced or forgotten
    data: bytes | None = None  # the bytes themselves, held in memory (then path is None)


# Renders running at once. Each holds a few pages in flight (the backend bounds that, a
# few MiB), so this bounds the memory rendering can take as a whole: `ls -l` over many
# big finished jobs queues up instead of growing the daemon.
RENDER_SLOTS = 4
# Renders at once ahead of a walk (hubfs.render.walk_prefetch), besides RENDER_SLOTS;
# measured on `du` of 1,506 small jobs: 4 slots 15-18 s, 8 slots 13.5 s.
PREFETCH_SLOTS = 8
# Snapshots of mutable files rendered ahead of a walk, kept until adopted (or evicted).
AHEAD_KEPT = 512
# Bytes of small immutable files rendered ahead of a walk held in memory instead of the
# disk cache (`hubfs.render.directory`); the least recently used are dropped (and
# rendered again if asked again).
SMALL_KEPT = 64 * 1024 * 1024


class StreamHandle(FileHandle):
    """An open descriptor on a file that is still rendering: reads wait for their bytes
    (`RenderProgress.available`), EOF is known only at the end."""

    def __init__(self, inode, node, fd, progress, pid):
        super().__init__(inode, node, fd, None)
        self.progress = progress
        self.pid = pid
        progress.readers[pid] += 1

    async def read(self, offset, size):
        available = await self.progress.available(offset + size)
        size = max(0, min(size, available - offset))
        return os.pread(self.fd, size, offset) if size else b""

    def close(self):
        if self.pid is not None:
            self.progress.readers[self.pid] -= 1
            if self.progress.readers[self.pid] <= 0:
                del self.progress.readers[self.pid]
            self.pid = None
        super().close()


def streams(node):
    """True for files rendered into the disk cache while being read."""
    return node.kind is Kind.RENDERED and node.immutable and bool(node.cache_key())


class ContentManager:
    def __init__(self, cache, limiter, clock=time.monotonic, locate=None):
        self.cache = cache
        self._locate = locate  # inode number -> (remote, [names]), for `hubfs status`
        self.limiter = limiter
        self.render_slots = trio.CapacityLimiter(RENDER_SLOTS)
        # Renders started ahead of a walk have slots of their own, so that the walker's
        # own renders never queue behind them.
        self.prefetch_slots = trio.CapacityLimiter(PREFETCH_SLOTS)
        self._clock = clock
        self._contents = {}  # inode number -> Content
        self._locks = {}  # inode number -> trio.Lock
        self._renders = {}  # cache key -> RenderProgress of a render under way
        self._ahead = {}  # id(node) -> (node, Content): snapshots rendered ahead of a walk
        self._pending_ahead = {}  # id(node) -> trio.Event set when its snapshot ahead is kept
        self._small = cachetools.LRUCache(SMALL_KEPT, getsizeof=len)  # cache key -> bytes

    def _render(self, node, slots=None, number=None):
        """The render of *node*'s cache entry under way, started if none is. With the
        inode *number*, it shows in `hubfs status` (renders ahead of a walk do not)."""
        key = node.cache_key()
        progress = self._renders.get(key)
        if progress is None:
            progress = start_render(self.cache, key, node, slots or self.render_slots,
                                    self.limiter, self._render_ended, self._tracker(number))
            self._renders[key] = progress
        return progress

    def _tracker(self, number):
        """A context factory making a render of inode *number* a `hubfs.stats` activity."""
        if number is None or not self._locate:
            return contextlib.nullcontext
        remote, names = self._locate(number)
        return lambda: stats.activity("render", remote, shown_path(remote, names))

    def _render_ended(self, progress):
        if self._renders.get(progress.key) is progress:
            del self._renders[progress.key]

    async def open_reader(self, number, node, pid):
        """For an `open` of a streamed file: `(Content, None)` when its bytes are all on
        disk, else `(None, StreamHandle)` reading the render under way.

        The open waits for the render's first bytes (milliseconds), so a render that
        fails before any byte fails the `open` itself, once, like a `stat` would."""
        content = self._contents.get(number) or self._small_content(number, node)
        if content is None:
            hit = self.cache.lookup(node.cache_key())
            if hit is None:
                progress = self._render(node, number=number)
                await progress.available(1)
                if progress.error is not None:  # failed before this open could start
                    raise progress.error.with_traceback(None)
                if progress.size is not None:  # it completed meanwhile: open it as cached
                    return self._ended(progress), None
                try:
                    fd = os.open(progress.path, os.O_RDONLY)
                except FileNotFoundError:  # committed (renamed) just now, in its thread
                    await progress.finished()
                    return self._ended(progress), None
                return None, StreamHandle(number, node, fd, progress, pid)
            content = self._contents[number] = Content(hit[0], hit[1], self._clock())
        return content, None

    def _ended(self, progress):
        """The `Content` a completed render left: its cache entry, or its bytes."""
        return Content(progress.final_path, progress.size, self._clock(), data=progress.data)

    def _small_content(self, number, node):
        """A small immutable file rendered ahead of a walk and held in memory, now the
        content of inode *number*; else None."""
        if not self._small:
            return None
        data = self._small.get(node.cache_key())
        if data is None:
            return None
        content = self._contents[number] = Content(None, len(data), self._clock(), data=data)
        return content

    async def prefetch_files(self, nodes):
        """Render the files among *nodes* (one directory's children) ahead of a walk
        (`hubfs.render.walk_prefetch`), all in one worker thread (`hubfs.render.directory`):
        streamed files into the disk cache, under a `RenderProgress` that the walker's
        own `stat` or `open` joins meanwhile; mutable ones into snapshots that the
        walker's inodes adopt while fresh (`_adopt`), which a `stat` arriving first waits
        for. Failures are left for the walker's own request."""
        streamed, snapshots = [], []
        for node in nodes:
            if node.is_dir:
                continue
            if streams(node):
                key = node.cache_key()
                if key not in self._renders:
                    progress = self._renders[key] = RenderProgress(key, None)
                    streamed.append((node, progress))
            elif node.kind is Kind.RENDERED and id(node) not in self._pending_ahead:
                snapshots.append(node)
        if not streamed and not snapshots:
            return
        done = trio.Event()
        for node in snapshots:
            self._pending_ahead[id(node)] = done
        results = ([], [])
        try:
            async with self.prefetch_slots:
                results = await trio.to_thread.run_sync(
                    render_files, self.cache, streamed, snapshots, self._render_snapshot,
                    limiter=self.limiter, abandon_on_cancel=True)
        finally:
            settled = set()
            for progress, data, entry, error, reported in results[0]:
                settled.add(progress.key)
                if data is not None:
                    self._small[progress.key] = data
                    progress.advance(len(data))
                    progress.complete(None, data)
                elif entry is not None:
                    progress.advance(entry[1] - reported)
                    progress.complete(entry[0])
                else:
                    progress.fail(error)
                self._render_ended(progress)
            for _node, progress in streamed:  # cancelled: the mount is closing
                if progress.key not in settled:
                    progress.fail(OSError("the mount is closing"))
                    self._render_ended(progress)
            for node, content, _error in results[1]:
                if content is not None:
                    self._keep_ahead(node, content)
            for node in snapshots:
                self._pending_ahead.pop(id(node), None)
            done.set()

    def _snapshot_file(self, held, chunks):
        """A private snapshot file of the chunks *held* and the rest of *chunks*:
        `(path, size)` (blocking)."""
        path = self.cache.new_snapshot()
        try:
            with open(path, "wb") as out:
                for chunk in held:
                    out.write(chunk)
                for chunk, _cursor in chunks:
                    out.write(chunk)
                return path, out.tell()
        except BaseException:
            os.unlink(path)
            raise

    def _keep_ahead(self, node, content):
        # Keyed by id(): the tuple holds the node, so the id cannot be reused meanwhile.
        old = self._ahead.pop(id(node), None)
        if old is not None:
            self._unlink(old[1])
        self._ahead[id(node)] = (node, content)
        while len(self._ahead) > AHEAD_KEPT:
            _node, stale = self._ahead.pop(next(iter(self._ahead)))
            self._unlink(stale)

    def _adopt(self, number, node):
        """A fresh snapshot rendered ahead of a walk for *node* becomes inode *number*'s."""
        ahead = self._ahead.pop(id(node), None)
        if ahead is None:
            return None
        if ahead[0] is not node or not self._fresh(ahead[1]):
            self._unlink(ahead[1])
            return None
        self.drop(number)
        self._contents[number] = ahead[1]
        return ahead[1]

    def partial_size(self, node, pid):
        """The bytes rendered so far, when the node allows answering its readers' `fstat`
        early and *pid* reads it while it renders (see the module docstring); else None."""
        if node.fstat_during_render != "partial" or not streams(node):
            return None
        progress = self._renders.get(node.cache_key())
        if progress is None or not progress.running or pid not in progress.readers:
            return None
        return progress.written

    def known_size(self, number, node):
        """The exact size if known without I/O to the service, else None."""
        if node.kind is Kind.SIZED:
            return node.size
        content = self._contents.get(number)
        if content is not None and (node.immutable or self._fresh(content)):
            return content.size
        if self._ahead and node.kind is Kind.RENDERED and not node.immutable:
            content = self._adopt(number, node)
            if content is not None:
                return content.size
        if node.immutable and node.kind is Kind.RENDERED and node.cache_key():
            content = self._small_content(number, node)
            if content is not None:
                return content.size
            hit = self.cache.lookup(node.cache_key())
            if hit is not None:
                self._contents[number] = Content(hit[0], hit[1], self._clock())
                if self._locate:  # rendered earlier, by this mount or another process
                    stats.count(self._locate(number)[0], "cache_hits")
                return hit[1]
        return None

    def _fresh(self, content):
        return self._clock() - content.rendered_at < ATTR_TTL

    async def ensure(self, number, node):
        """Make the inode's content current and return its `Content` (may render)."""
        if node.kind is Kind.SIZED:
            return Content(None, node.size, self._clock())
        lock = self._locks.setdefault(number, trio.Lock())
        async with lock:
            content = self._contents.get(number)
            if content is not None and (node.immutable or self._fresh(content)):
                return content
            if node.kind is Kind.RENDERED and not node.immutable:
                pending = self._pending_ahead.get(id(node))
                if pending is not None:  # being rendered ahead right now: take that one
                    await pending.wait()
            if self._ahead and node.kind is Kind.RENDERED and not node.immutable:
                adopted = self._adopt(number, node)
                if adopted is not None:
                    return adopted
            if streams(node):
                content = await self._streamed(number, node)
            elif node.kind is Kind.GROWING and node.appendable and content is not None:
                content = await self._run(number, self._extend, node, content)
            else:
                content = await self._run(number, self._render_snapshot, node)
                self.drop(number)
            self._contents[number] = content
            return content

    async def _run(self, number, fn, *args):
        remote, names = self._locate(number) if self._locate else ("", [])

        def tracked():  # a render shows in `hubfs status` and logs progress when slow
            with stats.activity("render", remote, shown_path(remote, names)):
                return fn(*args)

        async with self.render_slots:
            return await trio.to_thread.run_sync(tracked, limiter=self.limiter)

    async def _streamed(self, number, node):
        content = self._small_content(number, node)
        if content is not None:
            return content
        hit = self.cache.lookup(node.cache_key())
        if hit is None:
            progress = self._render(node, number=number)
            await progress.finished()
            return self._ended(progress)
        return Content(hit[0], hit[1], self._clock())

    def _render_snapshot(self, node):
        """A fresh private snapshot of *node* (blocking): a small RENDERED file's bytes
        held in memory (no file to make and remove for a `meta.json` re-read), else a
        snapshot file (a GROWING one's is extended in place later)."""
        if node.kind is Kind.RENDERED:
            chunks = counted(node.render())
            held, big = held_chunks(chunks)
            if not big:
                return Content(None, sum(map(len, held)), self._clock(), data=b"".join(held))
            path, size = self._snapshot_file(held, chunks)
            return Content(path, size, self._clock(), private=True)
        path = self.cache.new_snapshot()
        content = Content(path, 0, self._clock(), private=True)
        try:
            self._append(node, content, after=None)
        except BaseException:
            os.unlink(path)
            raise
        return content

    def _extend(self, node, content):
        """Append what the node has after *content.cursor* to the same snapshot file.

        Earlier openers keep reading their pinned prefix of the same file. Progress is
        committed per chunk, so a failure leaves a consistent (shorter) snapshot behind
        and the error still reaches the caller.
        """
        extended = dataclasses.replace(content, rendered_at=self._clock())
        self._append(node, extended, after=content.cursor)
        return extended

    def _append(self, node, content, after):
        with open(content.path, "r+b") as out:
            out.seek(content.size)
            try:
                for chunk, cursor in counted(node.render(after=after) if after is not None
                                             else node.render()):
                    out.write(chunk)
                    content.size += len(chunk)
                    content.cursor = cursor
            finally:
                out.flush()
                out.truncate(content.size)

    def drop(self, number):
        """Forget the inode's content (its node changed or the kernel forgot it)."""
        content = self._contents.pop(number, None)
        if content is not None:
            self._unlink(content)

    @staticmethod
    def _unlink(content):
        if content.private and content.path is not None:
            try:
                os.unlink(content.path)  # open handles keep their descriptor
            except FileNotFoundError:
                pass

    def forget(self, number):
        self.drop(number)
        self._locks.pop(number, None)
