"""The FUSE operations called in-process (no kernel): sizes, snapshots, errors, inodes.

The tree here is a small local one built from `hubfs.tree` classes, so each rule of
docs/semantics.md can be checked precisely; the real backends are exercised through
real mounts in tests/mount.
"""

import errno
import os

import pyfuse3
import pytest
import trio

from hubfs import errors
from hubfs.cache.content import ContentCache
from hubfs.cache.spool import Spool
from hubfs.fuse.operations import HubfsOperations
from hubfs.tree import Dir, File, Kind, StaticDir

MTIME = 1767225600.0


class Records(File):
    """Renders `lines` as a record file; `fail_after` makes a render die mid-way."""

    def __init__(self, name, lines, kind=Kind.RENDERED, immutable=True, fail_after=None):
        super().__init__(name, MTIME, immutable)
        self.kind = kind
        self.appendable = kind is Kind.GROWING
        self.lines = lines
        self.fail_after = fail_after
        self.renders = []

    def cache_key(self):
        return f"test/{self.name}" if self.immutable else None

    def render(self, after=None):
        self.renders.append(after)
        start = 0 if after is None else after
        for index in range(start, len(self.lines)):
            if self.fail_after is not None and index >= self.fail_after:
                raise errors.Transient(f"{self.name}: HTTP 503 at record {index}")
            yield self.lines[index].encode() + b"\n", index + 1


class Broken(Dir):
    def children(self):
        raise RuntimeError("a bug in a backend")
        yield  # pragma: no cover

    def child(self, name):
        raise errors.AccessDenied("remote: GET /x: HTTP 401")


@pytest.fixture
def tree():
    return {
        "done": Records("done.jl", ["a", "bb", "ccc"]),
        "growing": Records("grow.jl", ["1", "2"], kind=Kind.GROWING, immutable=False),
        "bad": Records("bad.jl", ["x", "y", "z"], fail_after=2),
    }


@pytest.fixture
def ops(tmp_path, tree):
    root = StaticDir("", [StaticDir("job", list(tree.values()), MTIME, immutable=True),
                          Broken("denied")], MTIME)
    return HubfsOperations(root, ContentCache(str(tmp_path), 1 << 20), Spool(str(tmp_path)),
                           remote_name="test")


def run(fn, *args):
    return trio.run(fn, *args)


async def lookup_path(ops, *names):
    number = pyfuse3.ROOT_INODE
    for name in names:
        number = (await ops.lookup(number, name.encode())).st_ino
    return number


async def read_all(ops, number):
    info = await ops.open(number, os.O_RDONLY, None)
    data, offset = b"", 0
    while True:
        chunk = await ops.read(info.fh, offset, 3)
        if not chunk:
            break
        data += chunk
        offset += len(chunk)
    await ops.release(info.fh)
    return data, info


def test_lookup_does_not_render_and_getattr_gives_exact_size(ops, tree):
    async def main():
        job = await lookup_path(ops, "job")
        entry = await ops.lookup(job, b"done.jl")
        number = entry.st_ino
        assert (await ops.lookup(job, b"done.jl")).st_ino == number  # stable while known
        assert entry.attr_timeout == 0  # size unknown yet: the kernel must ask again
        assert tree["done"].renders == []
        attrs = await ops.getattr(number)
        assert attrs.st_size == len(b"a\nbb\nccc\n")
        assert attrs.attr_timeout > 1 and attrs.st_mtime_ns == int(MTIME * 1e9)
        assert attrs.st_blocks == 1
        data, info = await read_all(ops, number)
        assert data == b"a\nbb\nccc\n"
        assert info.keep_cache and not info.direct_io
        assert tree["done"].renders == [None]  # rendered once for stat + open

    run(main)


def test_rendered_file_is_reused_by_a_later_mount(tmp_path, ops, tree):
    async def first():
        await ops.getattr(await lookup_path(ops, "job", "done.jl"))

    run(first)
    again = HubfsOperations(StaticDir("", [StaticDir("job", [tree["done"]], MTIME, True)], MTIME),
                            ContentCache(str(tmp_path), 1 << 20), Spool(str(tmp_path)))

    async def second():
        entry = await again.lookup(await lookup_path(again, "job"), b"done.jl")
        assert entry.st_size == 9 and entry.attr_timeout > 1  # known from the disk cache

    run(second)
    assert tree["done"].renders == [None]


def test_growing_file_snapshots_per_open(ops, tree, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(ops.content, "_clock", lambda: clock[0])

    async def main():
        number = await lookup_path(ops, "job", "grow.jl")
        info_a = await ops.open(number, os.O_RDONLY, None)
        assert info_a.direct_io and not info_a.keep_cache
        tree["growing"].lines += ["3", "4"]
        clock[0] += 5  # past the attribute timeout: the next open extends the snapshot
        data_b, _ = await read_all(ops, number)
        assert data_b == b"1\n2\n3\n4\n"
        assert tree["growing"].renders == [None, 2]  # only the new records were fetched
        # The first opener still reads exactly its own snapshot.
        assert await ops.read(info_a.fh, 0, 100) == b"1\n2\n"
        assert (await ops.getattr(number)).st_size == 8

    run(main)


def test_failed_render_is_eio_never_short(ops, tree):
    """The render fails after two records: `stat` is EIO, and an `open` either fails with
    EIO (the failure came first) or reads exactly what was rendered and then EIO, never
    a short file. tests/unit/test_render_streaming.py holds the render at each step."""
    async def main():
        number = await lookup_path(ops, "job", "bad.jl")
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.getattr(number)
        assert raised.value.errno == errno.EIO
        try:
            info = await ops.open(number, os.O_RDONLY, None)
        except pyfuse3.FUSEError as exc:
            assert exc.errno == errno.EIO
        else:
            with pytest.raises(pyfuse3.FUSEError) as raised:
                await ops.read(info.fh, 0, 100)
            assert raised.value.errno == errno.EIO
            await ops.release(info.fh)
        assert len(tree["bad"].renders) == 2  # each failed render is tried again

    run(main)


def test_writes_refused_at_open_with_erofs(ops):
    async def main():
        number = await lookup_path(ops, "job", "done.jl")
        for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND):
            with pytest.raises(pyfuse3.FUSEError) as raised:
                await ops.open(number, flags, None)
            assert raised.value.errno == errno.EROFS
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.create(pyfuse3.ROOT_INODE, b"new", 0o644, os.O_WRONLY, None)
        assert raised.value.errno == errno.EROFS

    run(main)


def test_errors_map_and_log_one_line(ops, caplog):
    async def main():
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.lookup(pyfuse3.ROOT_INODE, b"missing")
        assert raised.value.errno == errno.ENOENT
        denied = await lookup_path(ops, "denied")
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.lookup(denied, b"x")
        assert raised.value.errno == errno.EACCES
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.getattr(987654)
        assert raised.value.errno == errno.ENOENT

    caplog.set_level("WARNING")
    run(main)
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert lines == ["lookup /denied/x: remote: GET /x: HTTP 401 [EACCES]"]


def test_forget_drops_inodes(ops):
    async def main():
        number = await lookup_path(ops, "job", "done.jl")
        assert ops.inodes.get(number) is not None
        await ops.forget([(number, 1)])
        assert ops.inodes.get(number) is None
        again = await lookup_path(ops, "job", "done.jl")
        assert again != number and ops.inodes.get(again) is not None

    run(main)
