"""Streamed renders through real mounts: first bytes before the render ends, sizes exact.

Job 101/1/3 of the demo seed has 2,000 items: hubfs fetches its first page of 1,000
records, then the stats and the rest. A fault rule delays the page at record 1000, so the
render cannot end before that delayed answer; the emulator logs a request only once it
answered, which tells, without timing anything, whether a tool got its bytes before the
render was complete. Expected bytes come from the official client.
"""

import hashlib
import os
import subprocess
import tarfile

import pytest

from backends.scrapinghub.emulator import DEMO_APIKEY
from tests.support import Mount, official_export, requires_fuse, scrapinghub_remote, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

JOB_KEY = "101/1/3"
JOB = ("zyte", "101", "spiders", "books", "3")
HOLD = 8.0  # seconds the second page is held back: far longer than a `head` takes


@pytest.fixture(scope="module")
def expected(sh_emulator):
    return official_export(sh_emulator.url, JOB_KEY)


def mount_with(tmp_path, emulator, **options):
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY,
                                                                **options)})
    return Mount(tmp_path, config)


def hold_second_page(emu):
    emu.server.faults.add(path=r"^/items/101/1/3$", query="%2F1000&", delay=HOLD)


def second_page_answered(emu):
    return any(e["path"] == "/items/101/1/3" and "%2F1000&" in e["query"]
               for e in emu.server.requests.entries())


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, check=True, timeout=120, **kwargs)


def test_head_gets_its_line_before_the_render_ends_and_stat_is_exact(tmp_path, sh_clean,
                                                                      expected):
    hold_second_page(sh_clean)
    with mount_with(tmp_path, sh_clean) as mount:
        items = os.path.join(mount.path, *JOB, "items.jl")
        first = run("head", "-1", items).stdout
        assert first == expected.split(b"\n", 1)[0] + b"\n"
        assert not second_page_answered(sh_clean)  # head did not wait for the render
        assert os.stat(items).st_size == len(expected)  # stat waited: exact
        assert second_page_answered(sh_clean)
        with open(items, "rb") as fh:
            assert fh.read() == expected


def test_tar_and_rsync_see_exact_sizes_while_a_render_runs(tmp_path, sh_clean, expected):
    hold_second_page(sh_clean)
    with mount_with(tmp_path, sh_clean) as mount:
        job = os.path.join(mount.path, *JOB)
        reader = subprocess.Popen(["head", "-c", "100", os.path.join(job, "items.jl")],
                                  stdout=subprocess.PIPE)
        assert reader.communicate(timeout=120)[0] == expected[:100]
        assert not second_page_answered(sh_clean)  # the render is still under way
        archive = tmp_path / "job.tar"
        run("tar", "-cf", str(archive), "-C", job, ".")
        with tarfile.open(archive) as tar:
            member = tar.getmember("./items.jl")
            assert member.size == len(expected)
            assert tar.extractfile(member).read() == expected
        target = tmp_path / "copy"
        run("rsync", "-a", job + "/", str(target))
        assert (target / "items.jl").read_bytes() == expected
        for name in os.listdir(job):
            assert (target / name).stat().st_size == os.stat(os.path.join(job, name)).st_size
        again = run("rsync", "-a", "--itemize-changes", job + "/", str(target)).stdout
        assert again == b""  # sizes and times stable: nothing to send


def test_partial_fstat_lets_cat_and_grep_start_at_once(tmp_path, sh_clean, expected):
    hold_second_page(sh_clean)
    with mount_with(tmp_path, sh_clean, fstat_during_render="partial") as mount:
        items = os.path.join(mount.path, *JOB, "items.jl")
        out = run("sh", "-c", f"cat '{items}' | head -c 500").stdout
        assert out == expected[:500]
        sku = expected.split(b"\n", 3)[2].split(b'"', 4)[3]  # a value of the third item
        found = run("grep", "-m1", "-F", sku.decode(), items).stdout
        assert found == expected.split(b"\n", 3)[2] + b"\n"
        assert not second_page_answered(sh_clean)  # both ran while the render was held
        # Any other process's stat still waits for the exact size.
        assert os.stat(items).st_size == len(expected)
        digest = run("sha256sum", items).stdout.split()[0].decode()
        assert digest == hashlib.sha256(expected).hexdigest()
