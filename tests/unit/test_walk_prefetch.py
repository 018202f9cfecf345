"""Rendering ahead of a walk, in-process: what a second sibling `opendir` starts, and
that the walker then finds every file rendered, its mutable files adopted (one render
each), its small immutable ones held in memory and its big ones in the disk cache,
without a second render.
"""

import os

import pyfuse3
import trio

from hubfs.cache.content import ContentCache
from hubfs.cache.spool import Spool
from hubfs.fuse.operations import HubfsOperations
from hubfs.render.directory import SMALL
from hubfs.tree import File, StaticDir

MTIME = 1767225600.0


class Counted(File):
    def __init__(self, name, immutable, key=None):
        super().__init__(name, MTIME, immutable)
        self.key = key
        self.renders = 0

    def cache_key(self):
        return self.key

    def render(self, after=None):
        self.renders += 1
        yield f"{self.key or self.name}\n".encode(), None


def job(number):
    files = [Counted("meta.json", immutable=False),
             Counted("items.jl", immutable=True, key=f"test/{number}/items")]
    return StaticDir(str(number), files, MTIME, immutable=True)


async def list_spider(ops, root):
    """List the spider directory completely, as a walker reads it first; its inode."""
    spider = (await ops.lookup(pyfuse3.ROOT_INODE, b"spider")).st_ino
    fh = await ops.opendir(spider, None)
    handle = ops.dirs.get(fh)
    while not handle.complete:
        await handle.fetch_more(ops.limiter)
    ops.listings.store_listing(spider, root.child("spider"), [n for _, n in handle.entries])
    await ops.releasedir(fh)
    return spider


def test_a_walk_renders_the_next_siblings_ahead(tmp_path):
    jobs = [job(n) for n in range(1, 21)]
    root = StaticDir("", [StaticDir("spider", jobs, MTIME)], MTIME)
    ops = HubfsOperations(root, ContentCache(str(tmp_path), 1 << 20), Spool(str(tmp_path)),
                          remote_name="test")

    def files(n):
        return list(jobs[n - 1].children())

    async def walk_to(spider, name):
        attrs = await ops.lookup(spider, name.encode())
        fh = await ops.opendir(attrs.st_ino, None)
        await ops.releasedir(fh)
        return attrs.st_ino

    async def main():
        spider = await list_spider(ops, root)
        await walk_to(spider, "1")
        assert all(f.renders == 0 for n in range(1, 21) for f in files(n))  # one dir: no walk
        await walk_to(spider, "2")
        # The walk renders job 2 and the next ones (listing order), each file once.
        while not all(f.renders == 1 for n in range(2, 6) for f in files(n)):
            await trio.sleep(0.001)
        number = await walk_to(spider, "3")
        for f in files(3):
            attrs = await ops.lookup(number, f.name.encode())
            assert (await ops.getattr(attrs.st_ino)).st_size == len(f"{f.key or f.name}\n")
        assert [f.renders for f in files(3)] == [1, 1]  # adopted and cached: no second render
        assert all(f.renders == 0 for f in files(20))  # far ahead: left alone

    trio.run(main)


class Big(Counted):
    """An immutable file past `hubfs.render.directory.SMALL`, in two chunks."""

    def render(self, after=None):
        self.renders += 1
        yield b"a" * SMALL, None
        yield b"b" * 10, None


def test_files_rendered_ahead_read_back_from_memory_or_the_disk_cache(tmp_path):
    """Small files rendered ahead of a walk are held as bytes (no file made for them);
    one past `SMALL` goes into the disk cache; reads through the operations give the
    rendered bytes either way, each file rendered once."""
    def make(number):
        files = [Counted("meta.json", immutable=False),
                 Counted("items.jl", immutable=True, key=f"test/{number}/items"),
                 Big("big.jl", immutable=True, key=f"test/{number}/big")]
        return StaticDir(str(number), files, MTIME, immutable=True)

    jobs = [make(n) for n in range(1, 5)]
    root = StaticDir("", [StaticDir("spider", jobs, MTIME)], MTIME)
    cache = ContentCache(str(tmp_path), 1 << 30)
    ops = HubfsOperations(root, cache, Spool(str(tmp_path)), remote_name="test")

    async def read_all(inode):
        info = await ops.open(inode, os.O_RDONLY, None)
        data = b""
        while True:
            block = await ops.read(info.fh, len(data), 4096)
            if not block:
                break
            data += block
        await ops.release(info.fh)
        return data

    async def main():
        spider = await list_spider(ops, root)
        numbers = {}
        for name in ("1", "2"):
            numbers[name] = (await ops.lookup(spider, name.encode())).st_ino
            await ops.releasedir(await ops.opendir(numbers[name], None))
        files = list(jobs[2].children())
        while not all(f.renders == 1 for f in files):
            await trio.sleep(0.001)
        number = (await ops.lookup(spider, b"3")).st_ino
        wanted = {"meta.json": b"meta.json\n", "items.jl": b"test/3/items\n",
                  "big.jl": b"a" * SMALL + b"b" * 10}
        for f in files:
            inode = (await ops.lookup(number, f.name.encode())).st_ino
            want = wanted[f.name]
            assert (await ops.getattr(inode)).st_size == len(want)
            assert await read_all(inode) == want
        assert [f.renders for f in files] == [1, 1, 1]
        assert cache.lookup("test/3/big") is not None
        assert cache.lookup("test/3/items") is None  # held in memory, not on disk
        assert not [name for name in os.listdir(cache.content_dir) if name.startswith(".")]

    trio.run(main)
