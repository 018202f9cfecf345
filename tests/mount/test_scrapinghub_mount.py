"""Real FUSE mounts of the Scrapinghub emulator, checked with the tools users run.

Expected bytes come from the official `scrapinghub` client (PyPI) exporting the same job
as JSON lines, never from hubfs code. Job keys below are the emulator's demo seed:
101/1 "books" has finished jobs 1-4 (120, 1000, 2000, 37 items), running job 5 and
pending job 6; 102/3 "prices" has 1,500 finished jobs.
"""

import errno
import json
import os
import subprocess
import sys
import time

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY, create_server
from hubfs.emulation import start_in_thread
from hubfs.fuse.mount import is_mounted
from tests.support import (Mount, hubfs, official_export, requires_fuse, scrapinghub_remote,
                           wait_until, write_config)

pytestmark = [requires_fuse, pytest.mark.mount]

JOB = "101/spiders/books/2"  # finished, 1,000 items, with errors in its log
JOB_KEY = "101/1/2"


def emulator_requests(url):
    return requests.get(url + "__emulator__/requests", timeout=10).json()


def clear_requests(url):
    requests.delete(url + "__emulator__/requests", timeout=10)


@pytest.fixture(scope="module")
def emulator(sh_emulator):
    return sh_emulator


@pytest.fixture(scope="module")
def config(sh_config):
    return sh_config


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("m"), config) as live:
        yield live


def path(mount, *parts):
    return os.path.join(mount.path, "zyte", *parts)


def test_tree_lists_projects_spiders_jobs(mount):
    assert os.listdir(mount.path) == ["zyte"]
    assert sorted(os.listdir(path(mount))) == ["101", "102", "103"]
    assert os.listdir(path(mount, "101")) == ["spiders", "collections", "frontier", "activity.jl"]
    assert sorted(os.listdir(path(mount, "101", "spiders"))) == ["authors", "books", "quotes"]
    assert os.listdir(path(mount, "101", "spiders", "books")) == ["6", "5", "4", "3", "2", "1"]
    assert sorted(os.listdir(path(mount, JOB))) == sorted(
        ["meta.json", "items.jl", "logs.jl", "log.txt", "requests.jl", "samples.jl", "tags"])


def test_ls_recursive_of_demo_tree(mount):
    result = subprocess.run(["ls", "-R", mount.path], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{path(mount, '102', 'spiders', 'prices', '1500')}:" in result.stdout
    assert result.stdout.count("items.jl") >= 1500


@pytest.mark.parametrize("resource", ["items", "logs", "requests", "samples"])
def test_cat_is_byte_identical_to_official_export(mount, emulator, resource):
    expected = official_export(emulator.url, JOB_KEY, resource)
    assert expected  # the seed has records of every kind
    with open(path(mount, JOB, f"{resource}.jl"), "rb") as fh:
        assert fh.read() == expected


def test_stat_reports_exact_size_before_first_read(emulator, config, tmp_path):
    expected = official_export(emulator.url, "101/1/3", "items")
    with Mount(tmp_path, config) as fresh:  # empty disk cache: nothing rendered yet
        items = path(fresh, "101", "spiders", "books", "3", "items.jl")
        st = os.stat(items)
        assert st.st_size == len(expected)
        assert st.st_blocks == (len(expected) + 511) // 512
        assert st.st_mtime > 1.7e9  # the job's finish time, not the epoch
        with open(items, "rb") as fh:
            assert fh.read() == expected


def test_log_txt_has_one_line_per_record(mount, emulator):
    records = [json.loads(line) for line in official_export(emulator.url, JOB_KEY, "logs").splitlines()]
    with open(path(mount, JOB, "log.txt"), encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    assert lines[-1] == "" and len(lines) - 1 == len(records)
    assert any(" ERROR " in line for line in lines)
    assert lines[0].split(" ", 3)[2] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def test_meta_json_is_the_job_metadata(mount, emulator):
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=emulator.url + "api/", endpoint=emulator.url)
    expected = dict(client.get_job(JOB_KEY).metadata.iter())
    with open(path(mount, JOB, "meta.json"), encoding="utf-8") as fh:
        assert json.load(fh) == expected


def test_cp_tar_rsync_reproduce_a_finished_job(mount, tmp_path):
    source = path(mount, JOB)
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", source, str(copy)], check=True)
    assert subprocess.run(["diff", "-r", source, str(copy)]).returncode == 0
    for name in os.listdir(source):
        a, b = os.stat(os.path.join(source, name)), os.stat(copy / name)
        assert (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)

    def tar(directory):
        return subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                               "-C", directory, "-cf", "-", "."], check=True, capture_output=True).stdout

    archive = tar(source)
    assert archive == tar(str(copy)) == tar(source)  # stable sizes and times

    target = tmp_path / "rsync"
    subprocess.run(["rsync", "-a", source + "/", str(target)], check=True)
    assert subprocess.run(["diff", "-r", source, str(target)]).returncode == 0
    again = subprocess.run(["rsync", "-a", "--itemize-changes", source + "/", str(target)],
                           check=True, capture_output=True, text=True)
    assert again.stdout == ""  # the second run transfers nothing


def test_listing_ten_thousand_jobs_renders_nothing_and_costs_a_request_per_page(tmp_path):
    with start_in_thread(create_server(data="demo")) as emulator:
        state = emulator.state
        spider = state.add_spider(101, "crawler")
        for number in range(1, 10_001):
            t = 1767225600000 + number * 60_000
            state.add_job(101, spider.id, number, {
                "project": 101, "spider": "crawler", "state": "finished", "pending_time": t,
                "running_time": t + 1000, "finished_time": t + 50_000, "close_reason": "finished"})
        config = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY)})
        with Mount(tmp_path, config) as live:
            clear_requests(emulator.url)
            names = os.listdir(path(live, "101", "spiders", "crawler"))
            made = emulator_requests(emulator.url)
            assert len(names) == 10_000 and names[:3] == ["10000", "9999", "9998"]
            # No job was looked at one by one, nothing was rendered.
            assert not [r for r in made if r["path"].startswith(("/items", "/logs", "/jobs/"))]
            pages = [r for r in made if r["path"] == "/jobq/101/list"]
            assert 1 < len(pages) <= 20 and len(made) <= len(pages) + 2


def test_finished_job_is_served_from_disk_cache_by_a_later_mount(emulator, config, tmp_path):
    with Mount(tmp_path, config) as first:
        with open(path(first, "101", "spiders", "books", "4", "items.jl"), "rb") as fh:
            expected = fh.read()
    clear_requests(emulator.url)
    with Mount(tmp_path, config) as second:  # same --cache-dir
        with open(path(second, "101", "spiders", "books", "4", "items.jl"), "rb") as fh:
            assert fh.read() == expected
    # (Other mounts of this module may still be rendering ahead of an earlier walk.)
    assert not [r for r in emulator_requests(emulator.url) if r["path"].startswith("/items/101/1")]


def test_running_job_reads_consistent_snapshots(mount, emulator):
    items = path(mount, "101", "spiders", "books", "5", "items.jl")
    with open(items, "rb") as old:
        before = old.read()
        count = before.count(b"\n")
        assert count == 50
        new = [{"title": f"added {i}", "price": i} for i in range(7)]
        body = "".join(json.dumps(r) + "\n" for r in new)
        response = requests.post(emulator.url + f"items/101/1/5?start={count}", data=body,
                                 auth=(DEMO_APIKEY, ""), timeout=10)
        assert response.status_code == 200
        # Seen once the one-second attribute timeout of growing files has passed.
        assert wait_until(lambda: os.stat(items).st_size > len(before), timeout=10)
        with open(items, "rb") as fresh:
            after = fresh.read()
        old.seek(0)
        assert old.read() == before  # the first open still sees its own snapshot
    assert after.startswith(before)
    assert after[len(before):] == b"".join(
        json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in new)


@pytest.mark.parametrize("missing", ["999", "101/spiders/nope", "101/spiders/books/99999",
                                     "101/spiders/books/abc", "101/nothing", f"{JOB}/nothing.jl"])
def test_missing_names_are_enoent(mount, missing):
    with pytest.raises(FileNotFoundError):
        os.stat(path(mount, *missing.split("/")))


def test_every_write_is_refused_with_erofs(mount):
    job = path(mount, JOB)
    attempts = [
        lambda: open(os.path.join(job, "items.jl"), "ab"),
        lambda: open(os.path.join(job, "items.jl"), "r+b"),
        lambda: open(os.path.join(job, "new.jl"), "wb"),
        lambda: os.mkdir(os.path.join(job, "dir")),
        lambda: os.unlink(os.path.join(job, "items.jl")),
        lambda: os.rename(os.path.join(job, "items.jl"), os.path.join(job, "x.jl")),
        lambda: os.utime(os.path.join(job, "items.jl")),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as raised:
            attempt()
        assert raised.value.errno == errno.EROFS
    assert "read-only" in mount.log()


def test_wrong_key_refuses_to_mount_and_leaves_nothing(emulator, tmp_path):
    bad = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, "0" * 32)})
    target = tmp_path / "mnt"
    target.mkdir()
    result = hubfs("mount", "--config", bad, "--cache-dir", str(tmp_path / "c"), str(target), check=False)
    assert result.returncode != 0
    assert "remote 'zyte'" in result.stderr and "refused" in result.stderr
    assert "0" * 32 not in result.stderr + result.stdout
    assert not is_mounted(str(target))


def test_remote_option_and_read_only_flag(config, tmp_path):
    with Mount(tmp_path, config, "--remote", "zyte", "--read-only") as single:
        assert sorted(os.listdir(single.path)) == ["101", "102", "103"]
        with pytest.raises(OSError) as raised:
            open(os.path.join(single.path, "101", "x"), "wb")
        assert raised.value.errno == errno.EROFS


def test_foreground_mount_and_clean_unmount(config, tmp_path):
    target = tmp_path / "fg"
    target.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "hubfs", "mount", "--foreground", "--config", config,
         "--cache-dir", str(tmp_path / "c"), str(target)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        deadline = time.monotonic() + 20
        while not is_mounted(str(target)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(target / "zyte")
        hubfs("umount", str(target))
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not is_mounted(str(target))
    assert "mounted" in process.stderr.read()
