"""Streamed renders, called in-process: reads served while the render runs, `stat` exact.

The file here renders record by record, each record released by the test (a
`threading.Event` per record), so every step of a render in progress can be checked
without timing: what `open` returns, what a read of rendered bytes gets, that a read past
them and a `getattr` wait, and what the opt-in early `fstat` answer says to whom.
"""

import errno
import os
import threading
import types

import pyfuse3
import pytest
import trio
import trio.testing

from hubfs import errors
from hubfs.cache.content import ContentCache
from hubfs.cache.spool import Spool
from hubfs.fuse.operations import HubfsOperations
from hubfs.tree import File, StaticDir

MTIME = 1767225600.0
LINES = [b"first\n", b"second\n", b"third\n"]


class Gated(File):
    """An immutable rendered file whose records come out only when released."""

    def __init__(self, name, fstat_during_render="wait", fail_at=None):
        super().__init__(name, MTIME, immutable=True)
        self.gates = [threading.Event() for _ in LINES]
        self.fstat_during_render = fstat_during_render
        self.fail_at = fail_at
        self.renders = 0

    def cache_key(self):
        return f"test/{self.name}"

    def render(self, after=None):
        self.renders += 1
        for index, line in enumerate(LINES):
            if not self.gates[index].wait(30):
                raise errors.Transient("test gate never opened")
            if index == self.fail_at:
                raise errors.Transient(f"{self.name}: HTTP 503 at record {index}")
            yield line, index + 1

    def release(self, count):
        for gate in self.gates[:count]:
            gate.set()


def make_ops(tmp_path, *files):
    root = StaticDir("", [StaticDir("job", list(files), MTIME, immutable=True)], MTIME)
    return HubfsOperations(root, ContentCache(str(tmp_path), 1 << 20), Spool(str(tmp_path)),
                           remote_name="test")


def ctx(pid):
    return types.SimpleNamespace(pid=pid, uid=os.getuid(), gid=os.getgid(), umask=0o022)


async def lookup(ops, name):
    job = (await ops.lookup(pyfuse3.ROOT_INODE, b"job")).st_ino
    return await ops.lookup(job, name.encode())


async def open_while_rendering(ops, node, pid):
    """Open *node* once its first record is rendered and on disk; the rest is held."""
    number = (await lookup(ops, node.name)).st_ino
    node.release(1)
    info = await ops.open(number, os.O_RDONLY, ctx(pid))
    await rendered(ops, number, len(LINES[0]))
    return number, info


async def stat_waits_for_the_end(ops, node, number, pid):
    """A getattr from *pid* waits while the render is held, then gets the exact size."""
    answers = []
    async with trio.open_nursery() as nursery:
        async def stat():
            answers.append((await ops.getattr(number, ctx(pid))).st_size)
        nursery.start_soon(stat)
        await trio.testing.wait_all_tasks_blocked()
        assert answers == []
        node.release(3)
    assert answers == [sum(map(len, LINES))]


async def rendered(ops, number, size):
    """Wait until the render of *number* has *size* bytes on disk."""
    while True:
        for progress in ops.content._renders.values():
            if progress.written >= size:
                return
        await trio.sleep(0.001)


def test_reads_are_served_while_the_render_runs(tmp_path):
    node = Gated("items.jl")
    ops = make_ops(tmp_path, node)

    async def main():
        attrs = await lookup(ops, "items.jl")
        assert attrs.attr_timeout == 0  # the size is unknown: the kernel must ask
        number = attrs.st_ino
        node.release(1)  # the open waits for the first bytes (or a failure) only
        info = await ops.open(number, os.O_RDONLY, ctx(10))
        assert info.direct_io and not info.keep_cache  # the kernel cannot know the size
        assert await ops.read(info.fh, 0, len(LINES[0])) == LINES[0]
        sizes = []
        async with trio.open_nursery() as nursery:
            async def stat():
                sizes.append((await ops.getattr(number, ctx(11))).st_size)
            nursery.start_soon(stat)
            later = []

            async def read_on():
                later.append(await ops.read(info.fh, len(LINES[0]), 100))
            nursery.start_soon(read_on)
            await trio.testing.wait_all_tasks_blocked()
            assert sizes == [] and later == []  # both wait for bytes not rendered yet
            node.release(3)
        total = sum(map(len, LINES))
        assert sizes == [total]
        assert later == [b"".join(LINES)[len(LINES[0]):]]
        assert await ops.read(info.fh, total, 100) == b""  # EOF only at the real end
        await ops.release(info.fh)
        again = await ops.getattr(number, ctx(12))
        assert again.st_size == total and again.attr_timeout > 0
        info = await ops.open(number, os.O_RDONLY, ctx(12))
        assert info.keep_cache and not info.direct_io  # complete: the page cache serves it
        assert await ops.read(info.fh, 0, 100) == b"".join(LINES)
        assert node.renders == 1

    trio.run(main)


def test_exact_fstat_waits_by_default(tmp_path):
    node = Gated("items.jl")
    ops = make_ops(tmp_path, node)

    async def main():
        number, info = await open_while_rendering(ops, node, 20)
        await stat_waits_for_the_end(ops, node, number, 20)  # the opener's own fstat too
        await ops.release(info.fh)

    trio.run(main)


def test_partial_fstat_answers_only_the_reader(tmp_path):
    node = Gated("items.jl", fstat_during_render="partial")
    ops = make_ops(tmp_path, node)

    async def main():
        number, info = await open_while_rendering(ops, node, 30)
        early = await ops.getattr(number, ctx(30))
        assert early.st_size == len(LINES[0]) and early.attr_timeout == 0
        await stat_waits_for_the_end(ops, node, number, 31)  # any other process waits
        exact = await ops.getattr(number, ctx(30))
        assert exact.st_size == sum(map(len, LINES)) and exact.attr_timeout > 0
        await ops.release(info.fh)

    trio.run(main)


def test_failed_streamed_render_is_eio_and_retried(tmp_path):
    node = Gated("items.jl", fail_at=1)
    ops = make_ops(tmp_path, node)

    async def main():
        number, info = await open_while_rendering(ops, node, 40)
        assert await ops.read(info.fh, 0, len(LINES[0])) == LINES[0]  # exact, before it
        node.release(3)  # the render goes on to its failure
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.read(info.fh, 0, 100)
        assert raised.value.errno == errno.EIO  # never a short read
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.getattr(number, ctx(41))
        assert raised.value.errno == errno.EIO
        await ops.release(info.fh)
        assert node.renders == 2
        assert not [name for name in os.listdir(tmp_path / "content")]  # nothing half-kept
        # A render that fails before its first byte fails the open itself.
        early = Gated("early.jl", fail_at=0)
        early_ops = make_ops(tmp_path / "early", early)
        early.release(3)
        number = (await lookup(early_ops, "early.jl")).st_ino
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await early_ops.open(number, os.O_RDONLY, ctx(42))
        assert raised.value.errno == errno.EIO

    trio.run(main)
