"""`hubfs://` over every backend of the contract suite (`tests/contract/harnesses/`),
with no backend code in the adapter: the known file byte-exact (its expected bytes come
from the official client, never from hubfs), missing names, refused keys, read-only
files, and the writable and appendable places, read back without hubfs. A backend added
to the contract suite is covered here too."""

import errno

import fsspec
import pytest

from tests.contract.harness import load_all
from tests.support import write_config

REMOTE = "remote"


@pytest.fixture(scope="module", params=load_all(), ids=str)
def harness(request):
    return request.param


@pytest.fixture(scope="module")
def emulator(harness):
    with harness.start() as handle:
        yield handle


@pytest.fixture
def fs(harness, emulator, tmp_path):
    emulator.server.faults.clear()
    config = write_config(tmp_path, {REMOTE: harness.remote(emulator)},
                          general={"cache_dir": str(tmp_path / "cache"), "retries": 3,
                                   "retry_backoff": 0.05, "timeout": 5})
    return fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)


def at(*parts):
    return "/".join([REMOTE, *parts])


def test_the_known_file_is_byte_exact_whole_and_in_ranges(harness, emulator, fs):
    expected = harness.known_bytes(emulator)
    path = at(harness.known_file)
    assert fs.cat(path) == expected
    assert fs.info(path)["size"] == len(expected)
    middle = len(expected) // 3
    assert fs.cat_file(path, start=middle, end=middle + 4096) == expected[middle:middle + 4096]
    files = fs.find(at(harness.tree))  # the small immutable tree: every file readable
    assert files and all(len(fs.cat(name)) == fs.info(name)["size"] for name in files)


def test_missing_names_refused_keys_and_read_only_files(harness, emulator, fs, tmp_path):
    for missing in harness.missing:
        with pytest.raises(FileNotFoundError):
            fs.info(at(missing))
    if harness.read_only_file is not None:  # object stores have no read-only object
        with pytest.raises(PermissionError):
            fs.open(at(harness.read_only_file), "wb")
    (tmp_path / "bad").mkdir()
    bad = write_config(tmp_path / "bad",
                       {REMOTE: harness.bad_remote(emulator)},
                       general={"cache_dir": str(tmp_path / "cache-bad"), "retries": 2})
    refused = fsspec.filesystem("hubfs", config=bad, skip_instance_cache=True)
    with pytest.raises(PermissionError):
        refused.cat(at(harness.known_file))


def test_a_write_replaces_a_file_and_bad_content_is_einval(harness, emulator, fs):
    place = harness.writable
    if place is None:
        pytest.skip(f"{harness.type}: no file there is replaced by a write")
    fs.pipe(at(place.directory, place.existing), place.good(41))
    assert place.read_back(emulator, place.existing) == place.normalise(place.good(41))
    for content in place.bad[:3]:
        with pytest.raises(OSError) as raised:
            fs.pipe(at(place.directory, place.existing), content)
        assert raised.value.errno == errno.EINVAL
    assert place.read_back(emulator, place.existing) == place.normalise(place.good(41))


def test_appending_adds_records_and_bad_lines_are_einval(harness, emulator, fs):
    place = harness.appendable
    if place is None:
        pytest.skip(f"{harness.type}: no file there is appended to")
    with fs.open(at(place.directory, place.existing), "ab") as fh:
        fh.write(place.good(7001))
        fh.write(place.good(7002))
    held = place.read_back(emulator, place.existing)
    for n in (7001, 7002):
        assert place.normalise(place.good(n)) in held
    for content in place.bad[:3]:
        with pytest.raises(OSError) as raised:
            with fs.open(at(place.directory, place.existing), "ab") as fh:
                fh.write(content)
        assert raised.value.errno == errno.EINVAL
