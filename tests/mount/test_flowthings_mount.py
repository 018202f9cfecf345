"""flowthings through a real FUSE mount made with `hubfs mount`: reading flows and drops with
ordinary tools, appending drops, making flows.

Expected drops.jl bytes are built from plain `requests` paging of the emulator's API (no
hubfs code). The read-only tests use the `weather` tree; the writing tests use flows of
their own so that the trees the copies compare never change under them.
"""

import errno
import json
import os
import subprocess

import pytest
import requests

from backends.flowthings.emulator import DEMO_TOKEN, create_server, remote_options
from hubfs.emulation import start_in_thread
from tests.flowthings_export import expected_drops
from tests.tree_copies import assert_copies_reproduce
from tests.support import Mount, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}


@pytest.fixture(scope="module")
def emulator():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture(scope="module")
def config(emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("ftcfg"), {"ft": remote_options(emulator.server)},
                        general=FAST)


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("ftmnt"), config) as live:
        yield live


def at(mount, *parts):
    return os.path.join(mount.path, "ft", *parts)


def api(emulator, method, where, **kwargs):
    return requests.request(method, f"{emulator.url}v4.0/demo{where}",
                            headers={"X-Auth-Token": DEMO_TOKEN}, timeout=5, **kwargs).json()["body"]


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def append(path, data):
    """Open for append, write, close; the errno of the first failing step, or 0."""
    try:
        with open(path, "ab") as fh:
            fh.write(data)
    except OSError as exc:
        return exc.errno
    return 0


def test_tree_mirrors_the_flow_paths(mount):
    assert sorted(os.listdir(at(mount))) == ["orders", "sensors", "weather"]
    assert os.listdir(at(mount, "weather")) == ["flow.json", "drops.jl", "berlin", "lisbon"]
    assert sorted(os.listdir(at(mount, "sensors"))) == ["garage", "kitchen"]


def test_cat_drops_and_flow_json(mount, emulator):
    for path in ("/demo/weather", "/demo/weather/berlin", "/demo/orders"):
        drops = at(mount, *path.split("/")[2:], "drops.jl")
        expected = expected_drops(emulator, path)
        assert os.stat(drops).st_size == len(expected)  # exact before the first read
        assert read(drops) == expected
    flow = json.loads(read(at(mount, "weather", "flow.json")))
    assert flow["id"] == emulator.state.paths["/demo/weather"] and flow["description"] == "Hourly readings"


def test_cp_tar_rsync_on_a_flow_tree(mount, tmp_path):
    source = at(mount, "weather")
    assert_copies_reproduce(source, tmp_path)


def test_appended_lines_become_drops(mount, emulator):
    path = at(mount, "sensors", "kitchen", "drops.jl")
    before = read(path)
    assert append(path, b'{"reading": 100, "note": "caf\xc3\xa9"}\n{"elems": {"reading": 101}}\n') == 0
    flow = emulator.state.paths["/demo/sensors/kitchen"]
    drops = emulator.state.drops[flow]
    assert [d["elems"] for d in drops[-2:]] == [{"reading": 100, "note": "café"}, {"reading": 101}]
    after = read(path)
    assert after.startswith(before) and after == expected_drops(emulator, "/demo/sensors/kitchen")
    subprocess.run(f"echo '{{\"reading\": 102}}' >> {path}", shell=True, check=True)
    assert drops[-1]["elems"] == {"reading": 102}


@pytest.mark.parametrize("data,reason", [
    (b'{"ok": 1}\n[1, 2]\n', "line 2: not a JSON object"),
    (b"not json\n", "line 1: not JSON"),
    (b'{"elems": {}, "extra": 1}\n', "unexpected drop field"),
])
def test_bad_lines_are_einval_at_close_and_send_nothing(mount, emulator, data, reason):
    path = at(mount, "sensors", "garage", "drops.jl")
    flow = emulator.state.paths["/demo/sensors/garage"]
    count = len(emulator.state.drops[flow])
    emulator.server.requests.clear()
    assert append(path, data) == errno.EINVAL
    assert len(emulator.state.drops[flow]) == count
    assert [r for r in emulator.server.requests.entries() if r["method"] == "POST"] == []
    lines = [line for line in mount.log().splitlines()
             if "/ft/sensors/garage/drops.jl" in line and reason in line]
    assert len(lines) == 1 and "EINVAL" in lines[0]


def test_mkdir_creates_a_flow_to_append_to(mount, emulator, config, tmp_path):
    os.mkdir(at(mount, "sensors", "attic"))
    assert "/demo/sensors/attic" in emulator.state.paths
    assert os.listdir(at(mount, "sensors", "attic")) == ["flow.json", "drops.jl"]
    assert append(at(mount, "sensors", "attic", "drops.jl"), b'{"first": true}\n') == 0
    flow = emulator.state.paths["/demo/sensors/attic"]
    assert [d["elems"] for d in emulator.state.drops[flow]] == [{"first": True}]
    assert read(at(mount, "sensors", "attic", "drops.jl")).count(b"\n") == 1
    with Mount(tmp_path, config, name="again") as fresh:
        assert os.listdir(at(fresh, "sensors", "attic")) == ["flow.json", "drops.jl"]
    with pytest.raises(OSError) as raised:
        os.mkdir(at(mount, "sensors", "bad name"))
    assert raised.value.errno == errno.EINVAL


@pytest.mark.parametrize("missing", [("nothing",), ("weather", "nothing"), ("sensors", "drops.jl"),
                                     ("weather", "berlin", "nothing.jl")])
def test_missing_names_are_enoent(mount, missing):
    with pytest.raises(FileNotFoundError):
        os.stat(at(mount, *missing))


def test_files_other_than_drops_are_read_only(mount):
    for path, flags in ((at(mount, "weather", "flow.json"), os.O_WRONLY),
                        (at(mount, "weather", "new.txt"), os.O_WRONLY | os.O_CREAT)):
        with pytest.raises(OSError) as raised:
            os.close(os.open(path, flags))
        assert raised.value.errno == errno.EROFS
