"""File contents behind inodes: when to render, where the bytes live, what size to report.

DESIGN.md semantics 1 ("never lie about size") is implemented here:
- immutable RENDERED files are rendered once into the disk content cache (on the first
  `getattr` or `open`) and from then on report their exact size;
- mutable RENDERED files are re-rendered into a private snapshot when older than the
  attribute timeout, so `stat` and the `open` that follows agree;
- GROWING files keep one snapshot per inode that is extended (for `appendable` nodes,
  only the new records are fetched); every `open` pins the length it saw, so a reader
  gets a consistent prefix while the snapshot grows behind it;
- SIZED files report the service's size and are read by range.
Rendering runs in worker threads under the shared request limiter, and one render per
inode at a time (concurrent openers wait for the same result).
"""

import dataclasses
import os
import time

import trio

from hubfs import stats
from hubfs.cache.listings import ATTR_TTL
from hubfs.cache.rendering import counted
from hubfs.cache.spool import shown_path
from hubfs.tree import Kind


@dataclasses.dataclass
class Content:
    """Where an inode's current bytes are. *path* None means SIZED (read from the node)."""

    path: str | None
    size: int
    rendered_at: float
    cursor: object = None
    private: bool = False  # a snapshot of ours, to delete when replaced or forgotten


# Renders running at once. Each holds a few pages of decoded records in flight (the
# backend bounds that), so this bounds the memory rendering can take as a whole: `ls -l`
# over many big finished jobs queues up instead of growing the daemon.
RENDER_SLOTS = 4


class ContentManager:
    def __init__(self, cache, limiter, clock=time.monotonic, locate=None):
        self.cache = cache
        self._locate = locate  # inode number -> (remote, [names]), for `hubfs status`
        self.limiter = limiter
        self.render_slots = trio.CapacityLimiter(RENDER_SLOTS)
        self._clock = clock
        self._contents = {}  # inode number -> Content
        self._locks = {}  # inode number -> trio.Lock

    def known_size(self, number, node):
        """The exact size if known without I/O to the service, else None."""
        if node.kind is Kind.SIZED:
            return node.size
        content = self._contents.get(number)
        if content is not None and (node.immutable or self._fresh(content)):
            return content.size
        if node.immutable and node.kind is Kind.RENDERED and node.cache_key():
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
            if node.immutable and node.kind is Kind.RENDERED and node.cache_key():
                content = await self._run(number, self._render_cached, node)
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

    def _render_cached(self, node):
        key = node.cache_key()
        hit = self.cache.lookup(key)
        stats.report_cache(hit is not None)
        if hit is None:
            hit = self.cache.store(key, counted(node.render()))
        return Content(hit[0], hit[1], self._clock())

    def _render_snapshot(self, node):
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
        if content is not None and content.private:
            try:
                os.unlink(content.path)  # open handles keep their descriptor
            except FileNotFoundError:
                pass

    def forget(self, number):
        self.drop(number)
        self._locks.pop(number, None)
