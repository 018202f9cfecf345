"""Sized files through the core's reader, on a real mount of the small blob backend.

Byte-exact sequential, random and mmap reads of objects larger than the read-ahead
window; read-ahead that turns 128 KiB kernel reads into a few 1 MiB ranged GETs; one
open that never mixes two versions (the object replaced under an open descriptor gives
ESTALE, not new bytes); a server that answers short gives EIO, never a short file.
"""

import errno
import hashlib
import mmap
import os
import random

import pytest

from hubfs.emulation import start_in_thread
from tests.blobstore.emulator import create_server, remote_options
from tests.support import Mount, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

SIZE = 24 * 1024 * 1024 + 12345  # not a multiple of the block size


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    with start_in_thread(create_server(str(tmp_path_factory.mktemp("blobs")))) as handle:
        handle.server.state.put("big.bin", size=SIZE, seed=1)
        handle.server.state.put("small.bin", data=b"hello\n")
        yield handle


@pytest.fixture(scope="module")
def mount(blobs, tmp_path_factory):
    directory = tmp_path_factory.mktemp("sized")
    config = write_config(directory, {"b": remote_options(blobs.server)},
                          general={"retries": 3, "retry_backoff": 0.05, "timeout": 5})
    with Mount(directory, config) as live:
        yield live


def expected(blobs, name):
    with open(blobs.server.state.path(name), "rb") as fh:
        return fh.read()


def ranged_gets(blobs, name):
    return [r for r in blobs.server.requests.entries() if r["path"] == f"/objects/{name}"]


def test_sequential_read_is_byte_exact_with_few_large_requests(blobs, mount):
    blobs.server.requests.clear()
    path = os.path.join(mount.path, "b", "big.bin")
    assert os.stat(path).st_size == SIZE
    with open(path, "rb") as fh:
        data = fh.read()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(expected(blobs, "big.bin")).hexdigest()
    # 25 blocks of 1 MiB, not 193 kernel-sized reads
    assert len(ranged_gets(blobs, "big.bin")) <= 30


def test_random_reads_fetch_only_what_they_ask_for(blobs, mount):
    want = expected(blobs, "big.bin")
    rng = random.Random(7)
    path = os.path.join(mount.path, "b", "big.bin")
    with open(path, "rb", buffering=0) as fh:
        for _ in range(40):
            offset = rng.randrange(0, SIZE - 5000)
            fh.seek(offset)
            assert fh.read(4096) == want[offset:offset + 4096]


def test_mmap_of_a_sized_file_works(blobs, mount):
    want = expected(blobs, "big.bin")
    with open(os.path.join(mount.path, "b", "big.bin"), "rb") as fh:
        with mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as mapped:
            assert mapped[SIZE - 100:] == want[SIZE - 100:]
            assert mapped[5_000_000:5_000_100] == want[5_000_000:5_000_100]


def test_an_open_never_mixes_two_versions(blobs, mount):
    blobs.server.state.put("moving.bin", size=8 * 1024 * 1024, seed=2)
    path = os.path.join(mount.path, "b", "moving.bin")
    first = expected(blobs, "moving.bin")
    with open(path, "rb", buffering=0) as fh:
        assert fh.read(1024 * 1024) == first[:1024 * 1024]
        blobs.server.state.put("moving.bin", size=8 * 1024 * 1024, seed=3)  # a new version
        os.utime(blobs.server.state.path("moving.bin"), (1, 1))  # a new ETag for sure
        fh.seek(6 * 1024 * 1024)
        with pytest.raises(OSError) as raised:
            fh.read(1024 * 1024)
        assert raised.value.errno == errno.ESTALE


def test_a_short_answer_is_eio_not_a_short_file(blobs, mount):
    blobs.server.state.put("short.bin", size=3 * 1024 * 1024, seed=4)
    blobs.server.state.short_by = 10
    try:
        with pytest.raises(OSError) as raised:
            with open(os.path.join(mount.path, "b", "short.bin"), "rb") as fh:
                fh.read()
        assert raised.value.errno == errno.EIO
        assert "short read is never passed on" in mount.log()
    finally:
        blobs.server.state.short_by = 0
