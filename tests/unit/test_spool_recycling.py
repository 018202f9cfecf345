"""Spool files are recycled through spool/free/ instead of created and unlinked, without
ever letting one file's bytes reach another's send."""

import json
import os

from hubfs.cache.spool import FREE_MAX, Spool


def _written(spool, data):
    spool_id, path = spool.new_file()
    with open(path, "wb") as fh:
        fh.write(data)
    spool.reserve(len(data), "test")
    return spool_id, path


def test_a_sent_data_file_and_its_entry_are_reused_empty(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, path = _written(spool, b"x" * 10000)
    spool.journal(spool_id, "r", ["a"], "replace")
    inodes = {os.stat(path).st_ino, os.stat(os.path.join(spool.dir, f"{spool_id}.json")).st_ino}
    with spool.claim(spool_id) as mine:
        assert mine
        spool.done(spool_id)
    assert sorted(os.listdir(spool.dir)) == ["free"]
    assert all(os.path.getsize(os.path.join(spool.free_dir, n)) < 4096 for n in os.listdir(spool.free_dir))
    assert spool._used == 0
    again, again_path = spool.new_file()
    assert os.path.getsize(again_path) == 0
    spool.journal(again, "r", ["b"], "replace")
    reused = {os.stat(again_path).st_ino, os.stat(os.path.join(spool.dir, f"{again}.json")).st_ino}
    assert reused == inodes
    assert spool.entry(again)["path"] == ["b"]
    assert os.listdir(spool.free_dir) == []


def test_a_file_another_holder_has_locked_is_unlinked_not_recycled(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, path = _written(spool, b"kept")
    with Spool(str(tmp_path)).claim(spool_id) as mine:  # another holder's claim (flock)
        assert mine
        held = os.open(path, os.O_RDONLY)
        spool.discard(spool_id)
        assert os.listdir(spool.free_dir) == []
        assert os.pread(held, 10, 0) == b"kept"
        os.close(held)
    assert not os.path.exists(path)


def test_a_claim_on_a_name_whose_file_went_to_free_is_refused(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, path = _written(spool, b"first")
    spool.journal(spool_id, "r", ["a"], "replace")
    spool.done(spool_id)
    other_id, other_path = _written(spool, b"second")  # the same inode, another name
    with Spool(str(tmp_path)).claim(spool_id) as mine:
        assert mine is False
    with Spool(str(tmp_path)).claim(other_id) as mine:
        assert mine is True


def test_an_entry_file_that_now_holds_data_is_never_read_as_that_entry(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, _ = _written(spool, b"a")
    spool.journal(spool_id, "r", ["a"], "replace")
    entry = os.path.join(spool.dir, f"{spool_id}.json")
    reader = open(entry, "rb")  # a reader that opened the entry before it was done
    spool.done(spool_id)
    other_id, other_path = spool.new_file()  # may take the entry's inode
    with open(other_path, "wb") as fh:
        fh.write(b"\x00binary")
    assert spool.entry(spool_id) is None
    assert spool.pending() == []
    assert not os.path.exists(spool.broken_dir)  # nothing was set aside as damaged
    reader.close()


def test_the_pool_is_bounded_and_adopted_by_the_next_spool(tmp_path):
    spool = Spool(str(tmp_path))
    ids = [_written(spool, b"z")[0] for _ in range(FREE_MAX + 10)]
    for spool_id in ids:
        spool.discard(spool_id)
    assert len(os.listdir(spool.free_dir)) == FREE_MAX
    assert sorted(os.listdir(spool.dir)) == ["free"]
    later = Spool(str(tmp_path))
    spool_id, path = later.new_file()
    assert len(os.listdir(later.free_dir)) == FREE_MAX - 1
    assert os.path.getsize(path) == 0


def test_a_damaged_entry_is_still_set_aside(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, _ = _written(spool, b"a")
    with open(os.path.join(spool.dir, f"{spool_id}.json"), "w") as fh:
        fh.write("{not json")
    assert spool.pending() == []
    assert [info["id"] for info in spool.broken()] == [spool_id]
    assert json.load(open(os.path.join(spool.broken_dir, f"{spool_id}.reason")))["id"] == spool_id
