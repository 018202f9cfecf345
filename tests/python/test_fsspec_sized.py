"""`hubfs://` over SIZED files (the small blob backend of the tests): ranged reads are
byte-exact, one open never mixes two versions of an object (ESTALE), a short answer from
the server is an error, never a short read."""

import errno
import random

import fsspec
import pytest

from hubfs.emulation import start_in_thread
from tests.blobstore.emulator import create_server, remote_options
from tests.support import write_config

SIZE = 7 * 1024 * 1024 + 321


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    with start_in_thread(create_server(str(tmp_path_factory.mktemp("blobs")))) as handle:
        handle.server.state.put("big.bin", size=SIZE, seed=3)
        yield handle


@pytest.fixture
def fs(blobs, tmp_path):
    config = write_config(tmp_path, {"b": remote_options(blobs.server)},
                          general={"cache_dir": str(tmp_path / "cache"), "retries": 2,
                                   "retry_backoff": 0.01})
    return fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)


def content(blobs, name):
    with open(blobs.server.state.path(name), "rb") as fh:
        return fh.read()


def test_ranged_reads_are_byte_exact(fs, blobs):
    data = content(blobs, "big.bin")
    assert fs.info("b/big.bin")["size"] == SIZE  # from the listing, nothing rendered
    rng = random.Random(5)
    with fs.open("b/big.bin", "rb", block_size=1 << 20) as fh:
        for _ in range(20):
            start = rng.randrange(SIZE)
            length = rng.randrange(1, 3 << 20)
            fh.seek(start)
            assert fh.read(length) == data[start:start + length]
    assert fs.cat_file("b/big.bin", start=SIZE - 1000) == data[-1000:]
    assert fs.cat("b/big.bin") == data


def test_an_object_replaced_under_an_open_file_is_estale(fs, blobs):
    blobs.server.state.put("moving.bin", size=3 << 20, seed=1)
    old = content(blobs, "moving.bin")
    with fs.open("b/moving.bin", "rb", block_size=1 << 20) as fh:
        first = fh.read(1000)
        blobs.server.state.put("moving.bin", size=3 << 20, seed=2)
        fh.seek(2 << 20)
        with pytest.raises(OSError) as raised:
            fh.read(1000)
    assert raised.value.errno == errno.ESTALE
    assert first == old[:1000]


def test_a_cut_response_is_eio_never_a_short_read_and_is_counted(fs, blobs):
    from hubfs import stats

    before = stats.STATS.snapshot()["remotes"].get("b", {})
    blobs.server.faults.add(method="GET", path=r"^/objects/big.bin$", cut_after=1000, times=-1)
    try:
        with pytest.raises(OSError) as raised:
            fs.cat_file("b/big.bin", start=0, end=2 << 20)
        assert raised.value.errno == errno.EIO
    finally:
        blobs.server.faults.clear()
    after = stats.STATS.snapshot()["remotes"]["b"]
    assert after["retries"] > before.get("retries", 0)  # what `hubfs status` shows
    assert after["errors_by_class"]["Transient"] > before.get("errors_by_class", {}).get("Transient", 0)
