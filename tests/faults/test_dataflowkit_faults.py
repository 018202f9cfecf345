"""Faults injected into the Dataflow Kit emulator, seen through a real mount.

Results files read byte-exact (retried) or fail with EIO and one log line, never short;
API errors on listings are EIO or EACCES; a wrong key refuses the mount naming the remote.
Each read test uses a results file of its own, so none reads what another one cached.
"""

import errno
import os
import time

import pytest
import requests

from backends.dataflowkit.emulator import DEMO_API_KEY, create_server, remote_options
from hubfs.emulation import start_in_thread
from tests.support import Mount, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 4, "retry_backoff": 0.05, "timeout": 2}
CLOCK = {"now": 1_750_000_000.0}
FAULT_TASKS = ("f503", "f500", "cut", "slow", "f429", "never", "cutall", "link503")


@pytest.fixture(scope="module")
def emulator():
    with start_in_thread(create_server("demo", clock=lambda: CLOCK["now"])) as handle:
        state = handle.state
        payload = next(iter(state.tasks.values()))["payload"]
        for name in FAULT_TASKS:
            task = state.create_task({"name": name, "payload": {**payload, "format": "csv"}})
            state.run_task(task["id"], "finished", 10, 30, started=1_700_000_000)
        yield handle


@pytest.fixture(scope="module")
def mount(emulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("dfkf")
    config = write_config(directory, {"dfk": remote_options(emulator.server)}, general=FAST)
    with Mount(directory, config) as live:
        yield live


def results_of(emulator, name):
    """(mounted path parts, results file name, expected bytes) of task *name*'s run."""
    task = next(t for t in emulator.state.tasks.values() if t["name"] == name)
    process = next(p for p in emulator.state.processes.values() if p.task_id == task["id"])
    emulator.state.view(process)  # makes the results file
    return (("tasks", task["id"], "processes", process.id, "results.csv"), process.results_name,
            emulator.state.files[process.results_name])


def storage_path(file_name):
    return "^/storage/results/" + file_name.replace(".", r"\.") + "$"


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


@pytest.mark.parametrize("name,fault", [
    ("f503", {"status": 503, "times": 2, "body": "<Error><Code>SlowDown</Code></Error>"}),
    ("f500", {"status": 500, "times": 1}),
    ("cut", {"cut_after": 500, "times": 2}),
    ("slow", {"delay": 3.0, "times": 1}),  # past the 2 s timeout: retried
])
def test_transient_storage_faults_still_read_byte_exact(mount, emulator, name, fault):
    parts, file_name, expected = results_of(emulator, name)
    path = os.path.join(mount.path, "dfk", *parts)
    assert os.stat(path).st_size == len(expected)
    rule = emulator.server.faults.add(method="GET", path=storage_path(file_name), **fault)
    assert read(path) == expected
    assert rule.applied >= 1


def test_429_with_retry_after_is_honoured(mount, emulator):
    parts, _file_name, expected = results_of(emulator, "f429")
    rule = emulator.server.faults.add(method="POST", path=rf"^/v1/processes/{parts[3]}/info$",
                                      status=429, headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    assert read(os.path.join(mount.path, "dfk", *parts)) == expected
    assert rule.applied == 1 and time.monotonic() - started >= 1.0


def test_getlink_failing_once_is_retried(mount, emulator):
    parts, _file_name, expected = results_of(emulator, "link503")
    rule = emulator.server.faults.add(method="GET", path=r"^/v1/getlink$", status=503, times=1)
    assert read(os.path.join(mount.path, "dfk", *parts)) == expected
    assert rule.applied == 1


def test_storage_failing_for_good_is_eio_with_one_log_line(mount, emulator):
    parts, file_name, expected = results_of(emulator, "never")
    path = os.path.join(mount.path, "dfk", *parts)
    os.stat(path)
    emulator.server.faults.add(method="GET", path=storage_path(file_name), status=503, times=-1)
    with pytest.raises(OSError) as raised:
        read(path)
    assert raised.value.errno == errno.EIO
    lines = [line for line in mount.log().splitlines() if parts[-2] in line and "results.csv" in line]
    # One line per failed FUSE read: when an asynchronous read-ahead fails, the kernel
    # asks once more with a synchronous read before it returns EIO, so there may be two.
    assert 1 <= len(lines) <= 2 and all("503" in line and "EIO" in line for line in lines)
    emulator.server.faults.clear()
    assert read(path) == expected


def test_body_cut_on_every_attempt_is_eio_not_short(mount, emulator):
    parts, file_name, expected = results_of(emulator, "cutall")
    path = os.path.join(mount.path, "dfk", *parts)
    os.stat(path)
    emulator.server.faults.add(method="GET", path=storage_path(file_name), cut_after=200, times=-1)
    with pytest.raises(OSError) as raised:
        read(path)
    assert raised.value.errno == errno.EIO
    emulator.server.faults.clear()
    assert read(path) == expected


def test_server_errors_on_listings_are_eio(mount, emulator):
    emulator.server.faults.add(method="POST", path=r"^/v1/tasks$", status=500, times=-1)
    with pytest.raises(OSError) as raised:
        os.listdir(os.path.join(mount.path, "dfk", "tasks"))
    assert raised.value.errno == errno.EIO


def test_key_revoked_after_mount_gives_eacces(mount, emulator):
    task = next(iter(emulator.state.tasks))
    emulator.server.faults.add(method="POST", path=r"^/v1/task/[^/]+/results$", status=401,
                               body="Invalid API key", times=-1)
    with pytest.raises(PermissionError):
        os.listdir(os.path.join(mount.path, "dfk", "tasks", task, "processes"))


def test_wrong_key_refuses_the_mount_with_the_remote_named(emulator, tmp_path):
    bad = write_config(tmp_path, {"dfk": {**remote_options(emulator.server), "api_key": "revoked-key"}})
    mount = Mount(tmp_path, bad)
    with pytest.raises(AssertionError, match="remote 'dfk'.*refused.*Invalid API key"):
        mount.__enter__()
    assert "revoked-key" not in mount.log()


def test_emulator_really_refuses_bad_keys(emulator):
    url = f"{emulator.url}v1/tasks"
    assert requests.post(url, params={"api_key": "x"}, timeout=5).text == "Invalid API key"
    assert requests.post(url, timeout=5).text == "No API Key provided"
    assert requests.post(url, params={"api_key": DEMO_API_KEY}, timeout=5).status_code == 200
