"""Faults injected into the Scrapinghub emulator, seen through a real mount.

Each injected failure must end in one of two ways: the file still reads byte-exact
(retried, resumed), or the syscall fails with the right errno and the daemon log has one
line naming the mounted path and the cause. Never a silently short file.
"""

import errno
import os
import time

import pytest
import requests

from backends.scrapinghub.emulator import DEMO_APIKEY
from tests.support import Mount, official_export, requires_fuse, scrapinghub_remote, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

# Finished demo jobs of 101/1 "books": 1 (120 items), 2 (1,000), 3 (2,000), 4 (37);
# 102/1 "products": 1 (300), 2 (800), 3 (1,200); 103/1 "news": 1 (150), 2 (500).
FAST_RETRIES = {"retries": 4, "retry_backoff": 0.05, "timeout": 2}


@pytest.fixture(scope="module")
def emulator(sh_emulator):
    return sh_emulator


@pytest.fixture(scope="module")
def mount(emulator, tmp_path_factory):
    directory = tmp_path_factory.mktemp("faults")
    config = write_config(directory, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY)},
                          general=FAST_RETRIES)
    with Mount(directory, config) as live:
        yield live


def job_file(mount, project, spider, number, name="items.jl"):
    return os.path.join(mount.path, "zyte", str(project), "spiders", spider, str(number), name)


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


@pytest.mark.parametrize("fault,job", [
    ({"status": 503, "times": 2, "body": "<html><body><h1>503 Service Unavailable</h1></body></html>"},
     ("101", "books", 2)),
    ({"status": 500, "times": 1}, ("101", "books", 3)),
    ({"status": 502, "times": 3}, ("102", "products", 1)),
    ({"cut_after": 700, "times": 2}, ("102", "products", 2)),
    ({"delay": 0.4, "times": 3}, ("103", "news", 1)),
    ({"delay": 3.0, "times": 1}, ("103", "news", 2)),  # past the 2 s timeout: retried
])
def test_transient_faults_on_item_pages_still_read_byte_exact(mount, emulator, fault, job):
    project, spider, number = job
    spider_id = {"books": 1, "products": 1, "news": 1}[spider]
    expected = official_export(emulator.url, f"{project}/{spider_id}/{number}")
    # Reads of jobs of one spider in a row may come as one page across the spider's jobs
    # (a walk: backends/scrapinghub/job_batches.py): the fault hits that page then.
    rule = emulator.server.faults.add(method="GET", path=rf"^/items/{project}/{spider_id}(/{number})?$",
                                      **fault)
    assert read(job_file(mount, project, spider, number)) == expected
    assert rule.applied >= 1  # the fault really happened


def test_429_with_retry_after_is_honoured(mount, emulator):
    expected = official_export(emulator.url, "102/1/3")
    rule = emulator.server.faults.add(method="GET", path=r"^/items/102/1/3$", status=429,
                                      headers={"Retry-After": "1"}, times=1)
    started = time.monotonic()
    assert read(job_file(mount, 102, "products", 3)) == expected
    assert rule.applied == 1 and time.monotonic() - started >= 1.0


def test_fault_that_never_clears_fails_with_eio_and_one_log_line(mount, emulator):
    path = job_file(mount, 101, "books", 1)
    emulator.server.faults.add(method="GET", path=r"^/items/101/1/1$", status=503, times=-1)
    with pytest.raises(OSError) as raised:
        read(path)
    assert raised.value.errno == errno.EIO
    lines = [line for line in mount.log().splitlines() if "/zyte/101/spiders/books/1/items.jl" in line]
    assert len(lines) == 1 and "503" in lines[0] and "EIO" in lines[0]
    # Nothing short was kept: once the service recovers the file reads whole.
    emulator.server.faults.clear()
    assert read(path) == official_export(emulator.url, "101/1/1")


def test_stream_cut_on_every_attempt_is_eio_not_short(mount, emulator):
    path = job_file(mount, 101, "quotes", 3)
    emulator.server.faults.add(method="GET", path=r"^/items/101/2/3$", cut_after=100, times=-1)
    with pytest.raises(OSError) as raised:
        os.stat(path)
    assert raised.value.errno == errno.EIO
    emulator.server.faults.clear()
    assert os.stat(path).st_size == len(official_export(emulator.url, "101/2/3"))


def test_key_revoked_after_mount_gives_eacces(mount, emulator):
    emulator.server.faults.add(method="GET", path=r"^/jobq/103/list$", status=401,
                               body="Unauthorized\n", times=-1)
    with pytest.raises(PermissionError):
        os.listdir(os.path.join(mount.path, "zyte", "103", "spiders", "feeds"))


def test_server_errors_on_listings_are_eio(mount, emulator):
    emulator.server.faults.add(method="GET", path=r"^/api/spiders/list\.json$", status=500, times=-1)
    with pytest.raises(OSError) as raised:
        os.listdir(os.path.join(mount.path, "zyte", "102", "spiders"))
    assert raised.value.errno == errno.EIO


def test_wrong_key_in_config_fails_with_the_service_reason(emulator, tmp_path):
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, "f" * 32)})
    mount = Mount(tmp_path, config)
    with pytest.raises(AssertionError, match="refused"):
        mount.__enter__()
    assert "f" * 32 not in mount.log()


def test_emulator_really_refuses_bad_keys(emulator):
    assert requests.get(emulator.url + "jobq/101/list", auth=("f" * 32, ""), timeout=5).status_code == 401
    assert requests.get(emulator.url + "jobq/101/list", timeout=5).status_code == 401
