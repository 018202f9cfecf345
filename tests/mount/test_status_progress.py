"""What hubfs shows of itself: `hubfs status` (and `--json`) of a live mount with its
counters and renders in flight, and `hubfs cp` with a progress bar on a terminal only."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading

import fsspec

from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.fuse.mount import is_mounted
from tests.support import (REPO, hubfs, mounted, official_export, requires_fuse,
                           scrapinghub_remote, wait_until, write_config)

JOB_FILE = ("101", "spiders", "books", "3", "items.jl")  # 2,000 items


def status_json():
    return json.loads(hubfs("status", "--json").stdout)


def live_of(mountpoint):
    for mount in status_json()["mounts"]:
        if mount["mountpoint"] == mountpoint:
            return mount.get("live") or {}
    return None


@requires_fuse
def test_status_shows_counters_cache_and_a_render_in_flight(sh_clean, tmp_path):
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(sh_clean.url, DEMO_APIKEY)},
                          general={"cache_dir": str(tmp_path / "cache"), "retries": 3,
                                   "retry_backoff": 0.01})
    # Rendered by fsspec first: the mount finds it in the shared disk cache (a hit).
    fs = fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)
    fs.cat("zyte/101/spiders/books/4/items.jl")
    with mounted(tmp_path, config, "--cache-dir", str(tmp_path / "cache")) as mount:
        root = os.path.join(mount.path, "zyte")
        with open(os.path.join(root, "101", "spiders", "books", "4", "items.jl"), "rb") as fh:
            fh.read()
        # One page of the next job is slow and the first attempt fails: a retry, then
        # a render in flight long enough to be seen.
        sh_clean.server.faults.add(method="GET", path=r"^/items/101/1/3$", status=503, times=1)
        # Slow while the rule stays (every page request of the job waits 2 s): the render
        # is in flight until the checks below are done and the rule is cleared.
        sh_clean.server.faults.add(method="GET", path=r"^/items/101/1/3$", delay=2.0, times=-1)
        reader = threading.Thread(target=lambda: open(os.path.join(root, *JOB_FILE), "rb").read())
        reader.start()
        try:
            assert wait_until(lambda: any(a["path"] == "/zyte/" + "/".join(JOB_FILE)
                                          and a["records_expected"]
                                          for a in (live_of(mount.path) or {}).get("activities", [])),
                              timeout=30)
            [activity] = [a for a in live_of(mount.path)["activities"]
                          if a["path"] == "/zyte/" + "/".join(JOB_FILE)]
            assert activity["records_expected"] == 2000 and activity["records_done"] < 2000
            text = hubfs("status").stdout
            # The count is known after the first page (1,000 records, then the stats).
            assert "render /zyte/101/spiders/books/3/items.jl: 1,000 of 2,000 records" in text
        finally:
            sh_clean.server.faults.clear()
            reader.join()
        assert wait_until(lambda: not live_of(mount.path).get("activities"), timeout=10)
        figures = live_of(mount.path)["remotes"]["zyte"]
        assert figures["requests"] > 0 and figures["bytes_fetched"] > 100_000
        assert figures["retries"] >= 1
        assert figures["cache_hits"] >= 1 and figures["cache_misses"] >= 1
        assert live_of(mount.path)["uploads_pending"] == 0
        text = hubfs("status").stdout
        assert "zyte: " in text and "retries" in text and "uploads pending: 0" in text
        state = [m for m in status_json()["mounts"] if m["mountpoint"] == mount.path][0]
        assert os.stat(state["stats"]).st_mode & 0o777 == 0o600
        assert DEMO_APIKEY not in open(state["stats"]).read()
    assert not is_mounted(mount.path)


def test_cp_copies_exactly_and_leaves_nothing_on_failure(sh_config, sh_clean, tmp_path):
    expected = official_export(sh_clean.url, "101/1/2")
    dest = tmp_path / "items.jl"
    result = hubfs("cp", "--config", sh_config, "zyte:101/spiders/books/2/items.jl", str(dest))
    assert dest.read_bytes() == expected
    assert result.stderr == ""  # not a terminal: no progress bar
    into = tmp_path / "dir"
    into.mkdir()
    hubfs("cp", "--config", sh_config, "zyte:101/spiders/books/2/items.jl", str(into))
    assert (into / "items.jl").read_bytes() == expected
    sh_clean.server.faults.add(method="GET", path=r"^/items/101/1/3", status=500, times=-1)
    failed = hubfs("cp", "--config", sh_config, "zyte:101/spiders/books/3/items.jl",
                   str(tmp_path / "broken.jl"), check=False)
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    assert sorted(os.listdir(tmp_path)) == ["dir", "items.jl"]  # no short file, no .part


def test_cp_shows_a_progress_bar_on_a_terminal(sh_config, sh_clean, tmp_path):
    leader, follower = pty.openpty()
    # A terminal 100 columns wide, as a real one is (a new pty is 0x0: no room for a bar).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    dest = tmp_path / "items.jl"
    process = subprocess.Popen([sys.executable, "-m", "hubfs", "cp", "--config", sh_config,
                                "zyte:101/spiders/books/2/items.jl", str(dest)],
                               cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(leader)
    assert process.wait(timeout=60) == 0
    assert b"items.jl" in shown and b"B/s" in shown  # tqdm's bar: name, bytes, rate
    assert dest.read_bytes() == official_export(sh_clean.url, "101/1/2")


def test_cp_of_a_file_a_mount_or_fsspec_rendered_reads_the_disk_cache(sh_clean, tmp_path):
    import requests

    config = write_config(tmp_path, {"zyte": scrapinghub_remote(sh_clean.url, DEMO_APIKEY)},
                          general={"cache_dir": str(tmp_path / "cache")})
    path = "zyte/101/spiders/quotes/3/items.jl"
    expected = official_export(sh_clean.url, "101/2/3")
    fsspec.filesystem("hubfs", config=config, skip_instance_cache=True).cat(path)
    requests.delete(sh_clean.url + "__emulator__/requests", timeout=5)
    hubfs("cp", "--config", config, "zyte:" + path.split("/", 1)[1], str(tmp_path / "out.jl"))
    log = requests.get(sh_clean.url + "__emulator__/requests", timeout=5).json()
    assert [e for e in log if e["path"].startswith("/items/101/2/3")] == []
    assert (tmp_path / "out.jl").read_bytes() == expected
