"""The write path called in-process (no kernel): spool, journal, sends, errors, renames.

The tree is a small dict-backed store built from `hubfs.tree` classes whose `commit()`
can be told to fail, so each promise of docs/semantics.md "Writes" is checked exactly;
the Scrapinghub backend's writes are exercised through real mounts in tests/mount.
"""

import errno
import json
import os
import types

import pyfuse3
import pytest
import trio

from hubfs import errors
from hubfs.cache.content import ContentCache
from hubfs.cache.spool import Spool
from hubfs.fuse.operations import HubfsOperations
from hubfs.tree import Dir, File, Kind

MTIME = 1767225600.0


class Store:
    """The "service": key -> bytes, plus failure switches and a log of sends."""

    def __init__(self):
        self.values = {"a": b'{"v":1}\n'}
        self.fail = None  # an exception to raise from the next commits
        self.sent = []


class Value(File):
    kind = Kind.SIZED
    writable = True

    def __init__(self, store, name):
        super().__init__(name, MTIME)
        self.store = store
        self.size = len(store.values.get(name, b""))

    def read(self, offset, length):
        return self.store.values[self.name][offset:offset + length]

    def commit(self, path, progress):
        data = open(path, "rb").read()
        if self.store.fail is not None:
            raise self.store.fail
        try:
            json.loads(data)
        except ValueError:
            raise errors.InvalidContent(f"{self.name}: not JSON") from None
        self.store.values[self.name] = data
        self.store.sent.append((self.name, data))

    def delete(self):
        del self.store.values[self.name]


class Appendable(Value):
    write_mode = "append"

    def commit(self, path, progress):
        self.store.values[self.name] = self.store.values.get(self.name, b"") + open(path, "rb").read()
        self.store.sent.append((self.name, open(path, "rb").read()))


class StoreDir(Dir):
    writable = True

    def __init__(self, store, name="s"):
        super().__init__(name, MTIME)
        self.store = store

    def children(self):
        for key in sorted(self.store.values):
            yield (Appendable if key.endswith(".log") else Value)(self.store, key)

    def child(self, name):
        if name not in self.store.values:
            raise errors.NotFound(name)
        return (Appendable if name.endswith(".log") else Value)(self.store, name)

    def create(self, name):
        return (Appendable if name.endswith(".log") else Value)(self.store, name)


class Root(Dir):
    def __init__(self, store):
        super().__init__("", MTIME)
        self.dir = StoreDir(store)

    def children(self):
        yield self.dir

    def child(self, name):
        if name != "s":
            raise errors.NotFound(name)
        return self.dir


def make_ops(tmp_path, store, **spool_options):
    return HubfsOperations(Root(store), ContentCache(str(tmp_path / "cache"), 1 << 20),
                           Spool(str(tmp_path / "cache"), **spool_options), remote_name="r")


@pytest.fixture
def store():
    return Store()


async def dir_inode(ops):
    return (await ops.lookup(pyfuse3.ROOT_INODE, b"s", None)).st_ino


async def write_file(ops, name, data, flags=os.O_WRONLY | os.O_TRUNC):
    """open (creating if needed), write, close: returns the errno of close or 0."""
    parent = await dir_inode(ops)
    try:
        number = (await ops.lookup(parent, name.encode(), None)).st_ino
        info = await ops.open(number, flags, None)
    except pyfuse3.FUSEError as exc:
        if exc.errno != errno.ENOENT:
            raise
        info, _ = await ops.create(parent, name.encode(), 0o644, flags, None)
    await ops.write(info.fh, 0 if not flags & os.O_APPEND else 10**6, data)
    try:
        await ops.flush(info.fh)
        return 0
    except pyfuse3.FUSEError as exc:
        return exc.errno
    finally:
        await ops.release(info.fh)


def left_behind(spool):
    """What a spool holds besides its pool of recycled files (which must hold no data)."""
    for name in os.listdir(spool.free_dir):
        assert os.path.getsize(os.path.join(spool.free_dir, name)) < 4096  # an entry at most
    return [name for name in os.listdir(spool.dir) if name != "free"]


def test_write_is_sent_at_close(tmp_path, store):
    ops = make_ops(tmp_path, store)
    assert trio.run(write_file, ops, "b", b'{"new":true}') == 0
    assert store.values["b"] == b'{"new":true}'
    assert ops.writer.spool.pending() == []
    assert left_behind(ops.writer.spool) == []


def test_failed_send_returns_eio_and_is_sent_by_the_next_mount(tmp_path, store):
    ops = make_ops(tmp_path, store)
    store.fail = errors.Transient("r: POST /x: HTTP 503")
    assert trio.run(write_file, ops, "b", b'{"kept":1}') == errno.EIO
    pending = ops.writer.spool.pending()
    assert [(e["remote"], e["path"]) for e in pending] == [("r", ["s", "b"])]
    assert "503" in pending[0]["last_error"]
    store.fail = None
    later = make_ops(tmp_path, store)  # a new mount over the same cache directory
    assert trio.run(later.writer.resend, {"r"}) == 0
    assert store.values["b"] == b'{"kept":1}'
    assert later.writer.spool.pending() == []


def test_malformed_content_is_einval_and_not_kept(tmp_path, store):
    ops = make_ops(tmp_path, store)
    assert trio.run(write_file, ops, "b", b"not json") == errno.EINVAL
    assert "b" not in store.values and ops.writer.spool.pending() == []


def test_spool_full_is_enospc_at_write(tmp_path, store):
    ops = make_ops(tmp_path, store, max_bytes=1000)

    async def main():
        parent = await dir_inode(ops)
        info, _ = await ops.create(parent, b"big", 0o644, os.O_WRONLY, None)
        await ops.write(info.fh, 0, b"x" * 600)
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.write(info.fh, 600, b"x" * 600)
        assert raised.value.errno == errno.ENOSPC
        await ops.release(info.fh)

    trio.run(main)


def test_edit_keeps_unwritten_bytes_and_append_sends_only_new_lines(tmp_path, store):
    ops = make_ops(tmp_path, store)
    store.values["a"] = b'{"v":1}     '
    assert trio.run(write_file, ops, "a", b'{"v":2}', os.O_WRONLY) == 0  # no O_TRUNC
    assert store.values["a"] == b'{"v":2}     '
    store.values["x.log"] = b"one\n"
    assert trio.run(write_file, ops, "x.log", b"two\n", os.O_WRONLY | os.O_APPEND) == 0
    assert store.sent[-1] == ("x.log", b"two\n") and store.values["x.log"] == b"one\ntwo\n"


def test_rename_of_unsent_file_costs_nothing(tmp_path, store):
    ops = make_ops(tmp_path, store)

    async def main():
        parent = await dir_inode(ops)
        info, _ = await ops.create(parent, b".tmp123", 0o644, os.O_WRONLY, None)
        await ops.write(info.fh, 0, b'{"r":1}')
        await ops.rename(parent, b".tmp123", parent, b"final", 0, None)
        assert store.sent == []  # nothing went out yet
        await ops.flush(info.fh)
        await ops.release(info.fh)

    trio.run(main)
    assert store.sent == [("final", b'{"r":1}')] and ".tmp123" not in store.values


def test_rename_of_sent_file_copies_then_deletes(tmp_path, store):
    ops = make_ops(tmp_path, store)

    async def main():
        parent = await dir_inode(ops)
        await ops.rename(parent, b"a", parent, b"b", 0, None)

    trio.run(main)
    assert store.values == {"b": b'{"v":1}\n'}


def test_touch_makes_a_local_name_and_utimens_is_accepted(tmp_path, store):
    ops = make_ops(tmp_path, store)

    async def main():
        parent = await dir_inode(ops)
        info, attrs = await ops.create(parent, b"new", 0o644, os.O_WRONLY, None)
        await ops.flush(info.fh)
        await ops.release(info.fh)
        assert store.sent == []  # an empty new file sends nothing
        entry = await ops.lookup(parent, b"new", None)
        # pyfuse3's SetattrFields cannot be built from Python; same attribute names.
        fields = types.SimpleNamespace(update_size=False, update_mtime=True, update_mode=False)
        change = pyfuse3.EntryAttributes()
        change.st_mtime_ns = 1_600_000_000_000_000_000
        attrs = await ops.setattr(entry.st_ino, change, fields, None, None)
        assert attrs.st_mtime_ns == 1_600_000_000_000_000_000

    trio.run(main)


def test_read_only_mount_refuses_writes_at_open(tmp_path, store):
    ops = HubfsOperations(Root(store), ContentCache(str(tmp_path), 1 << 20), Spool(str(tmp_path)),
                          read_only=True, remote_name="r")

    async def main():
        parent = await dir_inode(ops)
        number = (await ops.lookup(parent, b"a", None)).st_ino
        for call in (ops.open(number, os.O_WRONLY, None),
                     ops.create(parent, b"n", 0o644, os.O_WRONLY, None),
                     ops.unlink(parent, b"a", None)):
            with pytest.raises(pyfuse3.FUSEError) as raised:
                await call
            assert raised.value.errno == errno.EROFS

    trio.run(main)


def test_rm_of_a_name_with_a_pending_send_cancels_it(tmp_path, store):
    ops = make_ops(tmp_path, store)
    store.fail = errors.Transient("r: POST /x: HTTP 503")
    assert trio.run(write_file, ops, "a", b'{"v":9}') == errno.EIO
    store.fail = None

    async def main():
        parent = await dir_inode(ops)
        await ops.unlink(parent, b"a", None)
        assert await ops.writer.resend({"r"}) == 0

    trio.run(main)
    assert "a" not in store.values and ops.writer.spool.pending() == []


class Batches(Value):
    """A file sent in steps the service must not receive twice (lines appended one POST
    each), recording each acknowledged step."""

    write_mode = "append"

    def commit(self, path, progress):
        lines = open(path, "rb").read().splitlines(keepends=True)
        for number, line in enumerate(lines, 1):
            if number <= progress.state.get("sent", 0):
                continue
            if self.store.fail is not None and number == 3:
                raise self.store.fail
            self.store.sent.append((self.name, line))
            progress.record(sent=number)


def test_a_resend_sends_only_the_steps_not_acknowledged(tmp_path, store):
    ops = make_ops(tmp_path, store)
    node = Batches(store, "steps")

    async def main():
        inode = (await ops.lookup(await dir_inode(ops), b"a", None)).st_ino
        handle = await ops.writer.open(inode, node, truncate=True)
        ops.writer.write(handle, 0, b"1\n2\n3\n4\n")
        store.fail = errors.Transient("r: POST /x: HTTP 503")
        with pytest.raises(errors.Transient):
            await ops.writer.flush(handle)
        await ops.writer.release(handle)

    trio.run(main)
    assert [line for _, line in store.sent] == [b"1\n", b"2\n"]
    [entry] = ops.writer.spool.pending()
    assert entry["progress"] == {"sent": 2}
    store.fail = None
    later = make_ops(tmp_path, store)
    later.resolve = lambda remote, names: node
    later.writer._resolve = later.resolve
    assert trio.run(later.writer.resend, {"r"}) == 0
    assert [line for _, line in store.sent] == [b"1\n", b"2\n", b"3\n", b"4\n"]


def test_a_close_before_any_byte_sends_nothing_and_keeps_the_spool(tmp_path, store):
    """The shell's `echo x > file`: open O_TRUNC, dup, close (flush with nothing written),
    write, close again."""
    ops = make_ops(tmp_path, store)

    async def main():
        number = (await ops.lookup(await dir_inode(ops), b"a", None)).st_ino
        info = await ops.open(number, os.O_WRONLY | os.O_TRUNC, None)
        await ops.flush(info.fh)  # the first descriptor closed before the write
        assert store.sent == []
        await ops.write(info.fh, 0, b'{"v":2}\n')
        await ops.flush(info.fh)
        await ops.release(info.fh)

    trio.run(main)
    assert store.sent == [("a", b'{"v":2}\n')] and store.values["a"] == b'{"v":2}\n'
    assert left_behind(ops.writer.spool) == []


def test_appends_through_several_closes_are_each_sent_once(tmp_path, store):
    ops = make_ops(tmp_path, store)
    store.values["x.log"] = b""

    async def main():
        number = (await ops.lookup(await dir_inode(ops), b"x.log", None)).st_ino
        info = await ops.open(number, os.O_WRONLY | os.O_APPEND, None)
        await ops.write(info.fh, 0, b"one\n")
        await ops.flush(info.fh)
        await ops.write(info.fh, 4, b"two\n")
        await ops.flush(info.fh)
        await ops.release(info.fh)

    trio.run(main)
    assert store.sent == [("x.log", b"one\n"), ("x.log", b"two\n")]
    assert store.values["x.log"] == b"one\ntwo\n"


def test_a_send_that_hits_a_bug_is_set_aside_not_retried(tmp_path, store):
    ops = make_ops(tmp_path, store)
    store.fail = RecursionError("maximum recursion depth exceeded")
    assert trio.run(write_file, ops, "b", b'{"x":1}') == errno.EIO
    assert ops.writer.spool.pending() == []
    [broken] = ops.writer.spool.broken()
    assert "RecursionError" in broken["reason"] and open(broken["data"], "rb").read() == b'{"x":1}'


def test_rename_uses_a_server_side_copy_when_the_backend_has_one(tmp_path, store):
    copies = []

    class Copying(Value):
        def copy_from(self, source):
            copies.append((source.name, self.name))
            self.store.values[self.name] = self.store.values[source.name]
            return True

    ops = make_ops(tmp_path, store)
    ops.inodes.get(pyfuse3.ROOT_INODE).node.dir.create = lambda name: Copying(store, name)

    async def main():
        parent = await dir_inode(ops)
        await ops.rename(parent, b"a", parent, b"moved", 0, None)

    trio.run(main)
    assert copies == [("a", "moved")] and store.values["moved"] == b'{"v":1}\n'
    assert "a" not in store.values and store.sent == []


class Sub(Dir):
    """A directory made by `mkdir`; `on_service` says whether the backend made it there."""

    writable = True

    def __init__(self, store, name, on_service):
        super().__init__(name, MTIME)
        self.store = store
        self.made_on_service = on_service

    def children(self):
        return iter(())

    def create(self, name):
        return Value(self.store, name)

    def delete(self):
        self.store.sent.append(("rmdir", self.name))


def test_rmdir_of_a_directory_made_here(tmp_path, store):
    """A local-only directory holding a file not sent yet is ENOTEMPTY; one the backend
    made on the service is removed there."""
    ops = make_ops(tmp_path, store)
    root_dir = ops.inodes.get(pyfuse3.ROOT_INODE).node.dir
    root_dir.mkdir = lambda name: Sub(store, name, on_service=name == "remote")

    async def main():
        parent = await dir_inode(ops)
        local = (await ops.mkdir(parent, b"local", 0o755, None)).st_ino
        info, _ = await ops.create(local, b"pending", 0o644, os.O_WRONLY, None)
        with pytest.raises(pyfuse3.FUSEError) as raised:
            await ops.rmdir(parent, b"local", None)
        assert raised.value.errno == errno.ENOTEMPTY
        await ops.release(info.fh)
        await ops.mkdir(parent, b"remote", 0o755, None)
        await ops.rmdir(parent, b"remote", None)

    trio.run(main)
    assert store.sent == [("rmdir", "remote")]
