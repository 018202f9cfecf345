"""The Dataflow Kit backend's tree against the emulator over real HTTP (no FUSE).

Expected results bytes come from the documented download path done by hand here
(`getlink` with the file name as the body, then a GET of the link). The emulator's clock
is moved by the tests, so a running process finishes without any sleep.
"""

import json

import pytest
import requests

from backends.dataflowkit import Remote
from backends.dataflowkit.emulator import DEMO_API_KEY, RUNNING_SECONDS, create_server, remote_options
from hubfs import errors
from hubfs.emulation import start_in_thread
from hubfs.http import RetryPolicy
from hubfs.tree import Kind
from tests.dataflowkit_export import download

FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.05, read_timeout=5)


@pytest.fixture
def emu():
    clock = {"now": 1_750_000_000.0}
    with start_in_thread(create_server("demo", clock=lambda: clock["now"])) as handle:
        handle.clock = clock
        yield handle


def remote(emu, **changes):
    return Remote("dfk", {**remote_options(emu.server), **changes}, policy=FAST)


def task_named(emu, name):
    return next(t for t in emu.state.tasks.values() if t["name"] == name)


def processes(emu, task):
    return [p for p in emu.state.processes.values() if p.task_id == task["id"]]


def process_dir(emu, task_name, index):
    task = task_named(emu, task_name)
    process = processes(emu, task)[index]
    return remote(emu).root().child("tasks").child(task["id"]).child("processes").child(process.id)


def read_all(node):
    if node.kind is Kind.SIZED:
        return node.read(0, node.size)
    return b"".join(chunk for chunk, _ in node.render())


def test_tree_layout(emu):
    root = remote(emu).root()
    assert [c.name for c in root.children()] == ["tasks"]
    tasks = root.child("tasks")
    assert [c.name for c in tasks.children()] == list(emu.state.tasks)
    books = tasks.child(task_named(emu, "books")["id"])
    assert [c.name for c in books.children()] == ["task.json", "processes"]
    assert json.loads(read_all(books.child("task.json"))) == task_named(emu, "books")
    assert [c.name for c in books.child("processes").children()] == [p.id for p in processes(emu, task_named(emu, "books"))]


@pytest.mark.parametrize("task,ext", [("books", "csv"), ("quotes", "json"), ("serp", "jsonl"),
                                      ("catalog", "xlsx"), ("feeds", "xml")])
def test_results_file_is_the_downloaded_file_with_its_real_size(emu, task, ext):
    node = process_dir(emu, task, 0)
    assert [c.name for c in node.children()] == ["process.json", f"results.{ext}"]
    results = node.child(f"results.{ext}")
    expected = download(emu.url, emu.state.processes[node.process["id"]].results_name)
    assert results.kind is Kind.SIZED and results.size == len(expected)
    assert results.read(0, results.size) == expected
    assert results.read(7, 100) == expected[7:107]
    assert results.read(results.size - 3, 100) == expected[-3:]
    assert results.read(results.size, 100) == b""
    assert results.immutable and node.immutable


@pytest.mark.parametrize("task,index,status,why", [
    ("books", 1, "failed", "failed"),
    ("quotes", 1, "canceled", "canceled"),
    ("quotes", 2, "running", "still running"),
    ("serp", 1, "pending", "250 more credits"),
])
def test_processes_without_results_say_why(emu, task, index, status, why):
    node = process_dir(emu, task, index)
    assert [c.name for c in node.children()] == ["process.json"]
    shown = json.loads(read_all(node.child("process.json")))
    assert shown["status"] == status and why in shown["hubfs_results"]
    assert node.immutable is (status in ("failed", "canceled"))
    with pytest.raises(errors.NotFound):
        node.child("results.json")


def test_finished_process_json_keeps_the_service_fields(emu):
    node = process_dir(emu, "books", 0)
    shown = json.loads(read_all(node.child("process.json")))
    assert shown.pop("hubfs_results") == "results.csv"
    info = requests.post(f"{emu.url}v1/processes/{node.process['id']}/info",
                         params={"api_key": DEMO_API_KEY}, timeout=5).json()
    assert shown == info
    assert node.mtime == float(info["finishedAt"])


def test_running_process_gets_its_results_when_the_clock_moves(emu):
    node = process_dir(emu, "quotes", 2)
    assert not node.immutable and [c.name for c in node.children()] == ["process.json"]
    emu.clock["now"] += RUNNING_SECONDS + 1
    assert json.loads(read_all(node.child("process.json")))["status"] == "finished"
    again = process_dir(emu, "quotes", 2)
    assert [c.name for c in again.children()] == ["process.json", "results.json"]
    assert again.immutable


def test_expired_link_is_fetched_again(emu):
    results = process_dir(emu, "books", 0).child("results.csv")
    expected = download(emu.url, results.results)
    emu.clock["now"] += 7200  # the link from the lookup has expired
    assert results.read(0, results.size) == expected


def test_missing_names(emu):
    root = remote(emu).root()
    books = task_named(emu, "books")
    quotes = task_named(emu, "quotes")
    for path in (["nothing"], ["tasks", "A" * 27], ["tasks", books["id"], "nothing"],
                 ["tasks", books["id"], "processes", "B" * 27],
                 ["tasks", books["id"], "processes", processes(emu, quotes)[0].id]):
        node = root
        with pytest.raises(errors.NotFound):
            for name in path:
                node = node.child(name)


def test_wrong_key_is_refused_naming_the_remote(emu):
    with pytest.raises(errors.AccessDenied, match="remote 'dfk'.*Invalid API key"):
        remote(emu, api_key="wrong").check()


def test_key_never_reaches_the_storage(emu):
    results = process_dir(emu, "feeds", 0).child("results.xml")
    results.read(0, results.size)
    storage = [r for r in emu.server.requests.entries() if r["path"].startswith("/storage/")]
    assert storage and all("api_key" not in r.get("query", "") for r in storage)


def test_getlink_answers_in_json_are_understood(emu):
    r = remote(emu)
    name = processes(emu, task_named(emu, "books"))[0].results_name
    real = r.client.getlink(name)
    for body in (json.dumps(real), json.dumps({"link": real}), json.dumps({"url": real})):
        emu.server.faults.add(path=r"^/v1/getlink$", status=200, body=body, times=1)
        assert r.client.getlink(name) == real
    emu.server.faults.add(path=r"^/v1/getlink$", status=200, body="no link here", times=1)
    with pytest.raises(errors.ServiceError):
        r.client.getlink(name)


def test_a_read_pinned_to_another_version_is_a_conflict(emu):
    results = process_dir(emu, "books", 0).child("results.csv")
    assert results.version and results.read(0, 10, version=results.version)
    with pytest.raises(errors.Conflict):
        results.read(0, 10, version='"not-this-one"')


def test_spec_builds_and_mounts_the_emulator_and_its_demo_paths_exist():
    from backends.dataflowkit.emulator import SPEC

    assert SPEC.type == "dataflowkit" and set(SPEC.datasets) == {"demo", "bench"}
    with start_in_thread(SPEC.create_server(data="bench", port=0)) as handle:
        options = SPEC.remote_options(handle.server)
        assert options.pop("type") == "dataflowkit"
        root = Remote("demo", options, policy=FAST).root()
        for path in SPEC.demo_paths:
            node = root
            for name in path.split("/"):
                node = node.child(name)
            assert len(list(node.children())) == 6  # the five demo tasks and `bulk`
