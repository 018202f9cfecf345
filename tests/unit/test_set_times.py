"""Times set by utimensat across mounts: bound to the version the next mount sees, dropped
when the file changes, moved by a rename, bounded, and read back from a cut journal."""

import os
import types

from hubfs.cache.set_times import FILE_NAME, SetTimes

PLACE = ("store", ["bucket", "dir", "a.txt"])


def node(mtime=100.0, version='"etag-1"'):
    return types.SimpleNamespace(mtime=mtime, version=version)


def test_the_mount_that_set_a_time_shows_it_while_the_size_holds(tmp_path):
    times = SetTimes(str(tmp_path))
    times.set(PLACE, 5_000_000_000, 6)
    assert times.may_hold("a.txt") and not times.may_hold("b.txt")
    assert times.shown(PLACE, node(), 6) == 5_000_000_000
    assert times.shown(PLACE, node(mtime=200.0), 6) == 5_000_000_000  # not bound yet
    assert times.shown(PLACE, node(), 7) is None  # rewritten elsewhere: a new size
    assert times.shown(PLACE, node(), 6) is None  # and the record is gone


def test_a_later_mount_binds_the_first_version_it_sees_and_drops_it_on_change(tmp_path):
    first = SetTimes(str(tmp_path))
    first.set(PLACE, 7, 6)
    first.close()
    second = SetTimes(str(tmp_path))
    assert second.shown(PLACE, node(), 6) == 7  # binds mtime 100.0, etag-1
    assert second.shown(PLACE, node(), 6) == 7
    second.close()
    third = SetTimes(str(tmp_path))
    assert third.shown(PLACE, node(), 6) == 7  # the binding was kept on disk
    assert third.shown(PLACE, node(version='"etag-2"'), 6) is None  # replaced by someone
    third.close()
    assert SetTimes(str(tmp_path)).shown(PLACE, node(), 6) is None  # ... for good


def test_a_new_service_mtime_alone_also_ends_the_record(tmp_path):
    SetTimes(str(tmp_path)).set(PLACE, 7, 6)
    later = SetTimes(str(tmp_path))
    assert later.shown(PLACE, node(version=None), 6) == 7
    assert later.shown(PLACE, node(mtime=101.0, version=None), 6) is None


def test_rename_moves_a_record_of_this_mount_and_unlink_drops_it(tmp_path):
    times = SetTimes(str(tmp_path))
    temp = ("store", ["bucket", "dir", ".a.txt.Xy12"])
    times.set(temp, 9, 6)
    times.move(temp, PLACE)  # rsync: times set on the temp file, then renamed
    assert times.shown(temp, node(), 6) is None
    assert times.shown(PLACE, node(), 6) == 9
    assert SetTimes(str(tmp_path)).shown(PLACE, node(), 6) == 9
    times.drop(PLACE)
    assert SetTimes(str(tmp_path)).shown(PLACE, node(), 6) is None


def test_renaming_a_file_an_earlier_mount_timed_drops_the_time(tmp_path):
    SetTimes(str(tmp_path)).set(PLACE, 9, 6)
    later = SetTimes(str(tmp_path))
    other = ("store", ["bucket", "dir", "b.txt"])
    later.move(PLACE, other)  # a copy on the service: a new object with its own time
    assert later.shown(other, node(), 6) is None


def test_records_are_bounded_and_the_journal_is_compacted(tmp_path):
    times = SetTimes(str(tmp_path), max_entries=10)
    for i in range(3000):
        times.set(("store", ["b", f"f{i % 20}"]), i, 1)
    assert len(times._records) == 10
    times.close()
    path = tmp_path / FILE_NAME
    assert sum(1 for _ in open(path)) == 3000
    again = SetTimes(str(tmp_path), max_entries=10)
    assert sum(1 for _ in open(path)) == 10  # compacted at load
    assert again.shown(("store", ["b", "f19"]), node(), 1) == 2999
    assert again.shown(("store", ["b", "f0"]), node(), 1) is None  # the oldest went first
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_line_cut_by_a_crash_is_skipped(tmp_path):
    times = SetTimes(str(tmp_path))
    times.set(PLACE, 11, 6)
    times.close()
    with open(tmp_path / FILE_NAME, "a") as journal:
        journal.write('{"t":12,"s":6,"k":["store","bucket"')
    assert SetTimes(str(tmp_path)).shown(PLACE, node(), 6) == 11


def test_without_a_cache_dir_nothing_is_written(tmp_path):
    times = SetTimes()
    times.set(PLACE, 1, 6)
    assert times.shown(PLACE, node(), 6) == 1
    assert list(tmp_path.iterdir()) == []
