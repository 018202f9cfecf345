"""Dataflow Kit through a real FUSE mount made with `hubfs mount`: tasks, processes and
results files read with ordinary tools.

The emulator's clock is held still (the running demo process stays running) unless a test
moves it. Expected results bytes come from `getlink` + a GET of the link, done by hand.
"""

import errno
import json
import os

import openpyxl
import pytest

from backends.dataflowkit.emulator import RUNNING_SECONDS, create_server, remote_options
from hubfs.emulation import start_in_thread
from tests.dataflowkit_export import download
from tests.tree_copies import assert_copies_reproduce
from tests.support import Mount, requires_fuse, wait_until, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}
CLOCK = {"now": 1_750_000_000.0}


@pytest.fixture(scope="module")
def emulator():
    CLOCK["now"] = 1_750_000_000.0
    with start_in_thread(create_server("demo", clock=lambda: CLOCK["now"])) as handle:
        yield handle


@pytest.fixture(scope="module")
def config(emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("dfkcfg"), {"dfk": remote_options(emulator.server)},
                        general=FAST)


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("dfkmnt"), config) as live:
        yield live


def task_id(emulator, name):
    return next(t["id"] for t in emulator.state.tasks.values() if t["name"] == name)


def process_ids(emulator, name):
    tid = task_id(emulator, name)
    return [p.id for p in emulator.state.processes.values() if p.task_id == tid]


def at(mount, *parts):
    return os.path.join(mount.path, "dfk", *parts)


def process_path(mount, emulator, name, index):
    return at(mount, "tasks", task_id(emulator, name), "processes", process_ids(emulator, name)[index])


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def test_tree_layout(mount, emulator):
    assert os.listdir(at(mount)) == ["tasks"]
    assert os.listdir(at(mount, "tasks")) == list(emulator.state.tasks)
    books = task_id(emulator, "books")
    assert os.listdir(at(mount, "tasks", books)) == ["task.json", "processes"]
    assert json.loads(read(at(mount, "tasks", books, "task.json")))["name"] == "books"
    assert os.listdir(at(mount, "tasks", books, "processes")) == process_ids(emulator, "books")


@pytest.mark.parametrize("name,ext", [("books", "csv"), ("quotes", "json"), ("serp", "jsonl"),
                                      ("catalog", "xlsx"), ("feeds", "xml")])
def test_results_read_byte_exact_with_the_real_size(mount, emulator, name, ext):
    directory = process_path(mount, emulator, name, 0)
    assert sorted(os.listdir(directory)) == sorted(["process.json", f"results.{ext}"])
    expected = download(emulator.url, emulator.state.processes[process_ids(emulator, name)[0]].results_name)
    results = os.path.join(directory, f"results.{ext}")
    assert os.stat(results).st_size == len(expected)
    assert read(results) == expected


def test_xlsx_results_open_as_a_workbook(mount, emulator):
    path = os.path.join(process_path(mount, emulator, "catalog", 0), "results.xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert [c.value for c in sheet[1]] == ["Product_text", "Image_src", "Image_alt"]


@pytest.mark.parametrize("name,index,why", [("books", 1, "failed"), ("quotes", 1, "canceled"),
                                            ("serp", 1, "credits"), ("quotes", 2, "still running")])
def test_processes_without_results_have_only_process_json(mount, emulator, name, index, why):
    directory = process_path(mount, emulator, name, index)
    assert os.listdir(directory) == ["process.json"]
    assert why in json.loads(read(os.path.join(directory, "process.json")))["hubfs_results"]


def test_cp_tar_rsync_on_a_task_tree(mount, emulator, tmp_path):
    source = at(mount, "tasks", task_id(emulator, "books"))
    assert_copies_reproduce(source, tmp_path)


def test_running_process_gets_its_results_file_in_the_same_mount(mount, emulator):
    directory = process_path(mount, emulator, "quotes", 2)
    assert os.listdir(directory) == ["process.json"]
    CLOCK["now"] += RUNNING_SECONDS + 1
    try:
        # Listed again within seconds (the directory of an unfinished process has a short ttl).
        assert wait_until(lambda: "results.json" in os.listdir(directory), timeout=30)
        assert len(json.loads(read(os.path.join(directory, "results.json")))) == 80
    finally:
        CLOCK["now"] -= RUNNING_SECONDS + 1


def test_running_process_shows_its_results_once_finished(emulator, config, tmp_path):
    CLOCK["now"] += RUNNING_SECONDS + 1
    try:
        with Mount(tmp_path, config, name="later") as later:
            directory = process_path(later, emulator, "quotes", 2)
            assert sorted(os.listdir(directory)) == ["process.json", "results.json"]
            assert json.loads(read(os.path.join(directory, "process.json")))["status"] == "finished"
            assert len(json.loads(read(os.path.join(directory, "results.json")))) == 80
    finally:
        CLOCK["now"] -= RUNNING_SECONDS + 1


@pytest.mark.parametrize("missing", [("nothing",), ("tasks", "A" * 27), ("tasks", "{books}", "nothing"),
                                     ("tasks", "{books}", "processes", "B" * 27),
                                     ("tasks", "{books}", "processes", "{failed}", "results.csv")])
def test_missing_names_are_enoent(mount, emulator, missing):
    names = {"books": task_id(emulator, "books"), "failed": process_ids(emulator, "books")[1]}
    with pytest.raises(FileNotFoundError):
        os.stat(at(mount, *(part.format(**names) for part in missing)))


def test_everything_is_read_only(mount, emulator):
    directory = process_path(mount, emulator, "books", 0)
    for path, flags in ((os.path.join(directory, "results.csv"), os.O_WRONLY),
                        (os.path.join(directory, "new"), os.O_WRONLY | os.O_CREAT)):
        with pytest.raises(OSError) as raised:
            os.close(os.open(path, flags))
        assert raised.value.errno == errno.EROFS
