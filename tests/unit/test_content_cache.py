"""The disk content cache: atomic stores, reuse across instances, LRU bound."""

import os

import pytest

from hubfs.cache.content import ContentCache


def chunks(*parts):
    return ((part, index) for index, part in enumerate(parts))


def test_store_and_reuse_across_instances(tmp_path):
    cache = ContentCache(str(tmp_path), 1 << 20)
    path, size = cache.store("k1", chunks(b"ab", b"cd"))
    assert size == 4 and open(path, "rb").read() == b"abcd"
    again = ContentCache(str(tmp_path), 1 << 20)  # a later mount
    assert again.lookup("k1") == (path, 4)
    assert again.lookup("other") is None
    assert oct(os.stat(tmp_path).st_mode & 0o777) == "0o700"


def test_failed_render_leaves_nothing(tmp_path):
    cache = ContentCache(str(tmp_path), 1 << 20)

    def broken():
        yield b"partial", 0
        raise RuntimeError("cut")

    with pytest.raises(RuntimeError):
        cache.store("k", broken())
    assert cache.lookup("k") is None
    assert os.listdir(cache.content_dir) == []


def test_lru_eviction_keeps_recent(tmp_path):
    cache = ContentCache(str(tmp_path), 25)
    cache.store("a", chunks(b"x" * 10))
    cache.store("b", chunks(b"y" * 10))
    assert cache.lookup("a")  # a is now the most recently used
    cache.store("c", chunks(b"z" * 10))  # 30 > 25: the oldest (b) goes
    assert cache.lookup("b") is None
    assert cache.lookup("a") and cache.lookup("c")
    assert cache.total_bytes == 20


def test_snapshots_removed_on_close(tmp_path):
    cache = ContentCache(str(tmp_path), 100)
    snap = cache.new_snapshot()
    assert os.path.exists(snap)
    cache.close()
    assert not os.path.exists(snap)
