"""`hubfs://` through fsspec and pandas against the Scrapinghub emulator over real HTTP.

Reads are compared with the official `scrapinghub` client's export of the same job;
writes are read back with the official client; faults come from the emulator's fault
injection, and the emulator's request log shows what was (not) sent or fetched.
"""

import errno
import json
import os
import subprocess
import sys

import fsspec
import pytest
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.cache.spool import Spool
from tests.python.conftest import logged
from tests.support import official_export, scrapinghub_remote, write_config

JOB = "101/1/2"  # books job 2: 1,000 finished items
ITEMS = "zyte/101/spiders/books/2/items.jl"


@pytest.fixture
def fs(config):
    fs = fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)
    yield fs
    fs.close()


@pytest.fixture
def official(emu):
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=emu.url + "api/", endpoint=emu.url)
    yield client
    client.close()


def test_ls_info_find_glob_walk_the_tree(fs):
    assert fs.ls("", detail=False) == ["zyte"]
    assert "zyte/101" in fs.ls("hubfs://zyte", detail=False)
    assert set(fs.ls("zyte/101", detail=False)) >= {"zyte/101/spiders", "zyte/101/collections"}
    assert fs.isdir("zyte/101/spiders/books/2") and fs.isfile(ITEMS)
    jobs = fs.glob("hubfs://zyte/101/spiders/books/*/items.jl")
    assert ITEMS in jobs and len(jobs) == 6
    found = fs.find("zyte/101/spiders/quotes")
    assert "zyte/101/spiders/quotes/1/meta.json" in found
    listed = {e["name"]: e for e in fs.ls("zyte/101/spiders/books/2")}
    assert listed[ITEMS]["size"] is None  # a listing renders nothing
    info = fs.info(ITEMS)
    assert info["type"] == "file" and info["size"] > 0 and info["mtime"] > 1.7e9


def test_open_and_cat_are_byte_exact_with_ranges(fs, emu):
    expected = official_export(emu.url, JOB)
    assert fs.cat(ITEMS) == expected
    assert fs.info(ITEMS)["size"] == len(expected)
    assert fs.cat_file(ITEMS, start=1000, end=5000) == expected[1000:5000]
    assert fs.cat_file(ITEMS, start=-100) == expected[-100:]
    with fs.open(ITEMS, "rb") as fh:
        fh.seek(12345)
        assert fh.read(777) == expected[12345:13122]
    with fs.open("hubfs://" + ITEMS, "r") as fh:
        assert json.loads(fh.readline()) == json.loads(expected.split(b"\n")[0])


def test_pandas_reads_a_url_without_importing_hubfs(emu, config):
    """The `fsspec.specs` entry point: a fresh interpreter imports only pandas."""
    script = ("import sys\nimport pandas\nassert 'hubfs' not in sys.modules\n"
              f"df = pandas.read_json('hubfs://{ITEMS}', lines=True)\n"
              "print(len(df))\nprint(df.iloc[0].to_json())\n")
    env = {**os.environ, "HUBFS_CONFIG": config}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = json.loads(official_export(emu.url, JOB).split(b"\n")[0])
    assert int(lines[0]) == 1000
    assert json.loads(lines[1])["url"] == first["url"]


def test_a_file_rendered_by_fsspec_is_not_rendered_again(fs, emu, config):
    fs.cat(ITEMS)
    assert logged(emu, "/items/101/1/2")
    requests_before = len(logged(emu, "/items/"))
    other = fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)
    assert other.cat(ITEMS) == fs.cat(ITEMS)
    assert len(logged(emu, "/items/")) == requests_before


def test_missing_names_and_refused_keys_are_python_errors(fs, emu, tmp_path):
    with pytest.raises(FileNotFoundError):
        fs.info("zyte/101/spiders/books/999/items.jl")
    with pytest.raises(FileNotFoundError):
        fs.open("zyte/101/spiders/nosuch/1/items.jl")
    with pytest.raises(FileNotFoundError):
        fs.ls("other-remote")
    assert not fs.exists("zyte/101/spiders/books/999")
    with pytest.raises(IsADirectoryError):
        fs.open("zyte/101/spiders/books/2")
    bad = write_config(_mkdir(tmp_path / "bad"),
                       {"zyte": scrapinghub_remote(emu.url, "0" * 32)},
                       general={"cache_dir": str(tmp_path / "cache2")})
    refused = fsspec.filesystem("hubfs", config=bad, skip_instance_cache=True)
    with pytest.raises(PermissionError):
        refused.ls("zyte")


def _mkdir(path):
    path.mkdir()
    return path


def test_read_only_files_refuse_writes_before_any_data(fs, emu):
    with pytest.raises(PermissionError):
        fs.open(ITEMS, "wb")
    with pytest.raises(PermissionError):
        fs.open("zyte/101/spiders/books/2/new.txt", "wb")
    assert Spool(fs.config.cache_dir).pending() == []


def test_write_a_collection_value_sends_at_close(fs, official, emu):
    path = "zyte/101/collections/prices/fsspec-key"
    with fs.open(path, "wb") as fh:
        fh.write(b'{"price": 12.5, ')
        assert logged(emu, "/collections/101/", method="POST") == []  # nothing before close
        fh.write(b'"currency": "EUR"}')
    assert official.get_project(101).collections.get_store("prices").get("fsspec-key") == {
        "price": 12.5, "currency": "EUR"}
    assert json.loads(fs.cat(path)) == {"price": 12.5, "currency": "EUR"}
    fs.pipe("zyte/101/collections/fresh_store/k1", b'{"v": 1}')  # a new store, made by the write
    assert official.get_project(101).collections.get_store("fresh_store").get("k1") == {"v": 1}
    fs.rm("zyte/101/collections/fresh_store/k1")
    with pytest.raises(Exception):
        official.get_project(101).collections.get_store("fresh_store").get("k1")


def test_a_jl_restore_through_fsspec(fs, official):
    lines = b"".join(json.dumps({"_key": f"r{i}", "value": {"n": i}}).encode() + b"\n"
                     for i in range(50))
    with fs.open("zyte/101/collections/restored_py.jl", "wb") as fh:
        fh.write(lines)
    store = official.get_project(101).collections.get_store("restored_py")
    assert store.count() == 50 and store.get("r7") == {"n": 7}


def test_malformed_content_fails_at_close_with_einval_and_sends_nothing(fs, emu):
    handle = fs.open("zyte/101/collections/prices/bad", "wb")
    handle.write(b"{not json")
    with pytest.raises(OSError) as caught:
        handle.close()
    assert caught.value.errno == errno.EINVAL and "bad" in str(caught.value)
    assert logged(emu, "/collections/101/", method="POST") == []
    assert Spool(fs.config.cache_dir).pending() == []  # dropped: it can never be sent


def test_a_failed_send_raises_at_close_and_is_kept_then_resent(fs, emu, official):
    emu.server.faults.add(method="POST", path=r"^/collections/101/s/prices$", status=503, times=-1)
    handle = fs.open("zyte/101/collections/prices/kept-py", "wb")
    handle.write(b'{"kept": true}')
    with pytest.raises(OSError) as caught:
        handle.close()
    assert caught.value.errno == errno.EIO
    pending = Spool(fs.config.cache_dir).pending()
    assert [e["path"] for e in pending] == [["101", "collections", "prices", "kept-py"]]
    assert pending[0]["attempts"] == 1 and "503" in pending[0]["last_error"]
    emu.server.faults.clear()
    assert fs.resend_pending() == []
    assert official.get_project(101).collections.get_store("prices").get("kept-py") == {"kept": True}
    assert Spool(fs.config.cache_dir).pending() == []


def test_an_exception_inside_with_sends_nothing(fs, emu):
    with pytest.raises(RuntimeError):
        with fs.open("zyte/101/collections/prices/aborted", "wb") as fh:
            fh.write(b'{"half": ')
            raise RuntimeError("the writer died")
    assert logged(emu, "/collections/101/", method="POST") == []
    assert Spool(fs.config.cache_dir).pending() == []


def test_pickled_filesystem_carries_no_secret(fs):
    import pickle

    data = pickle.dumps(fs)
    assert DEMO_APIKEY.encode() not in data
    assert pickle.loads(data).cat_file(ITEMS, 0, 10) == fs.cat_file(ITEMS, 0, 10)


def test_copy_within_hubfs_sends_the_bytes(fs, official):
    fs.pipe("zyte/101/collections/prices/orig", b'{"n": 1}')
    fs.cp_file("zyte/101/collections/prices/orig", "zyte/101/collections/prices/copy")
    assert official.get_project(101).collections.get_store("prices").get("copy") == {"n": 1}


def test_append_to_a_frontier_slot_and_a_new_slot(fs, official):
    slot = "zyte/102/frontier/products/example.com.jl"
    before = fs.cat(slot)
    with fs.open(slot, "ab") as fh:
        fh.write(b'{"fp": "/py/1"}\n')
    hcf = official.get_project(102).frontiers.get("products")
    queued = [fp for batch in hcf.get("example.com").q.iter() for fp, _ in batch["requests"]]
    assert "/py/1" in queued
    assert fs.cat(slot).startswith(before[:100])  # appended, nothing replaced
    fs.pipe("zyte/102/frontier/products/py-slot.jl", b'{"fp": "/py/2"}\n')
    assert "py-slot" in hcf.list()
    fs.rm("zyte/102/frontier/products/py-slot.jl")
    assert "py-slot" not in hcf.list()
    with pytest.raises(OSError) as raised:
        with fs.open(slot, "ab") as fh:
            fh.write(b"no json\n")
    assert raised.value.errno == errno.EINVAL


def test_growing_and_mutable_files_are_fresh_snapshots(fs, emu):
    from concurrent.futures import ThreadPoolExecutor

    running = "zyte/101/spiders/books/5/items.jl"  # a running job: a growing file
    expected = official_export(emu.url, "101/1/5")
    assert fs.info(running)["size"] == len(expected) and not fs.info(running)["immutable"]
    assert fs.cat(running) == expected
    meta = json.loads(fs.cat("zyte/101/spiders/books/5/meta.json"))
    assert meta["state"] == "running"
    # Many threads opening one mutable file at once each get the whole snapshot.
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: fs.cat(running), range(16)))
    assert set(results) == {expected}
    snapshots = os.path.join(fs.config.cache_dir, "snapshots", str(os.getpid()))
    assert os.listdir(snapshots) == []  # every snapshot removed once opened
