"""Faults of a DS3 appliance (and of plain S3), seen through real mounts.

Chunks that stay not-ready for several rounds (tape), 503 and 307 answers in the middle
of a job, a connection cut in the middle of a blob: reads stay byte-exact and writes
complete. Refused keys, missing buckets and uploads that fail for good end with the
right errno and one log line; the refused upload stays in the spool and is sent by the
next mount.
"""

import errno
import hashlib
import os
import signal
import subprocess

import pytest

from backends.ds3.emulator import JobSettings, create_server, remote_options
from backends.ds3.emulator.seed import binary
from hubfs.daemon import read_state
from hubfs.emulation import start_in_thread
from tests.support import Mount, hubfs, requires_fuse, wait_until, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def emulator():
    settings = JobSettings(blob_size=MIB, chunk_blobs=2, retry_after=0)
    with start_in_thread(create_server("demo", mode="ds3", settings=settings)) as handle:
        yield handle


@pytest.fixture(autouse=True)
def reset(emulator):
    settings = emulator.state.jobs.settings
    saved = dict(vars(settings))
    yield  # fault rules are cleared by tests/faults/conftest.py
    vars(settings).update(saved)


@pytest.fixture(scope="module")
def config(emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("cfg"), {"tape": remote_options(emulator.server)}, general=FAST)


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("faults"), config) as live:
        yield live


def seeded(emulator, key, size):
    content = binary(key, size)
    emulator.state.store.put_bytes("data", key, content)
    return content


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def write(path, data):
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        return exc.errno
    return 0


def job_requests(emulator, key):
    return [r for r in emulator.server.requests.entries() if r["path"].endswith(key) and "job=" in r["query"]]


def test_chunks_not_ready_for_several_rounds(mount, emulator):
    content = seeded(emulator, "tape/slow.bin", 3 * MIB + 5)
    emulator.state.jobs.settings.ready_after = 4
    emulator.state.jobs.settings.window = 1
    emulator.server.requests.clear()
    assert read(os.path.join(mount.path, "tape", "data", "tape", "slow.bin")) == content
    polls = [r for r in emulator.server.requests.entries() if r["path"] == "/_rest_/job_chunk"]
    assert len(polls) >= 5 and all(r["status"] == 200 for r in polls)
    assert "no chunk of the job is ready yet" in mount.log()


@pytest.mark.parametrize("fault", [
    {"status": 503, "headers": {"Retry-After": "0"}, "times": 2},
    {"status": 307, "times": 3},
    {"cut_after": 5000, "times": 2},
], ids=["503", "307", "cut-mid-blob"])
def test_faults_mid_read_job_still_read_exact(mount, emulator, fault):
    key = f"mid/read-{fault.get('status', 'cut')}.bin"
    content = seeded(emulator, key, 2 * MIB + 99)
    rule = emulator.server.faults.add(method="GET", path=key, query="job=", skip=1, **fault)
    assert hashlib.sha256(read(os.path.join(mount.path, "tape", "data", *key.split("/")))).digest() == \
        hashlib.sha256(content).digest()
    assert rule.applied == fault["times"]


@pytest.mark.parametrize("fault", [
    {"status": 503, "headers": {"Retry-After": "0"}, "times": 2},
    {"status": 307, "times": 3},
], ids=["503", "307"])
def test_faults_mid_write_job_still_write_exact(mount, emulator, fault):
    key = f"written-{fault['status']}.bin"
    content = binary(key, 3 * MIB + 1)
    rule = emulator.server.faults.add(method="PUT", path=key, query="job=", skip=1, **fault)
    assert write(os.path.join(mount.path, "tape", "books", key), content) == 0
    assert rule.applied == fault["times"]
    assert read(emulator.state.store.get("books", key).path) == content


def test_missing_bucket_is_enoent(mount):
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(mount.path, "tape", "no-such-bucket"))
    with pytest.raises(FileNotFoundError):
        read(os.path.join(mount.path, "tape", "books", "no-such-object.txt"))


def test_key_revoked_after_mount_is_eacces_with_one_log_line(mount, emulator):
    saved = dict(emulator.state.credentials)
    emulator.state.credentials.clear()
    try:
        with pytest.raises(PermissionError):
            os.listdir(os.path.join(mount.path, "tape", "books", "folder", "folder2"))
    finally:
        emulator.state.credentials.update(saved)
    # The first name the kernel looks up on the way fails: one line, path and cause.
    lines = [line for line in mount.log().splitlines() if "HTTP 403" in line]
    assert len(lines) == 1 and "EACCES" in lines[0] and "/tape/books" in lines[0]


def test_bad_secret_key_refuses_the_mount(emulator, tmp_path):
    options = remote_options(emulator.server, secret_key="definitely-not-it")
    config = write_config(tmp_path, {"tape": options}, general=FAST)
    mount = Mount(tmp_path, config)
    with pytest.raises(AssertionError, match="refused the access key or secret key") as caught:
        mount.__enter__()
    assert "SignatureDoesNotMatch" in str(caught.value)
    assert "definitely-not-it" not in mount.log() and "definitely-not-it" not in str(caught.value)


def test_upload_failing_for_good_is_eio_kept_and_sent_after_remount(emulator, config, tmp_path):
    content = binary("kept", 2 * MIB + 3)
    emulator.server.faults.add(method="PUT", path="kept.bin", query="job=", status=500, times=-1)
    with Mount(tmp_path, config, name="first") as first:
        target = os.path.join(first.path, "tape", "books", "kept.bin")
        assert write(target, content) == errno.EIO
        assert "pending /tape/books/kept.bin" in hubfs("status").stdout
        lines = [line for line in first.log().splitlines() if "kept.bin" in line and "EIO" in line]
        assert len(lines) == 1
        pid = read_state(first.path)["pid"]
        os.kill(pid, signal.SIGKILL)  # no chance to resend in this mount
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=5)
        subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
    emulator.server.faults.clear()
    with Mount(tmp_path, config, name="second"):
        def sent():
            try:
                return read(emulator.state.store.get("books", "kept.bin").path) == content
            except Exception:
                return False
        assert wait_until(sent, timeout=30)


@pytest.mark.parametrize("mode", ["ds3", "s3"])
def test_sigkill_mid_upload_resends_only_unacknowledged_pieces(mode, tmp_path):
    """A daemon killed in the middle of a big upload: after a remount the object is
    complete and byte-exact, and the blobs (DS3) or parts (S3) the service acknowledged
    before the kill are not sent again: the resend sends exactly the others."""
    settings = JobSettings(blob_size=MIB, chunk_blobs=4, retry_after=0)
    with start_in_thread(create_server("demo", mode=mode, settings=settings)) as handle:
        options = remote_options(handle.server)
        if mode == "s3":
            options.update(part_size=5 * MIB, multipart_threshold=5 * MIB)
        piece = MIB if mode == "ds3" else 5 * MIB
        count = 24
        content = binary("killed", count * piece)
        source = tmp_path / "big.bin"
        source.write_bytes(content)
        config = write_config(tmp_path, {"tape": options}, general=FAST)
        query = "offset=" if mode == "ds3" else "partNumber="
        handle.server.faults.add(method="PUT", path="big.bin", query=query, delay=0.1, times=-1)

        def acknowledged():
            return {r["query"] for r in handle.server.requests.entries()
                    if r["method"] == "PUT" and query in r["query"] and r["status"] == 200}

        first = Mount(tmp_path, config, name="first")
        first.__enter__()
        try:
            copier = subprocess.Popen(["cp", str(source), os.path.join(first.path, "tape", "books", "big.bin")])
            assert wait_until(lambda: len(acknowledged()) >= 8, timeout=60)
            pid = read_state(first.path)["pid"]
            os.kill(pid, signal.SIGKILL)
            copier.wait(30)
            wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout=5)
        finally:
            subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
        # Pieces in flight at the kill still land on the server: count them in once the
        # server has answered every one of them (no handler left in its delay).
        snapshots = []
        assert wait_until(lambda: snapshots.append(acknowledged()) or
                          (len(snapshots) > 3 and snapshots[-1] == snapshots[-4]), timeout=10, interval=0.1)
        before = snapshots[-1]
        assert 8 <= len(before) < count
        handle.server.requests.clear()
        handle.server.faults.clear()
        with Mount(tmp_path, config, name="second"):
            def complete():
                try:
                    return handle.state.store.get("books", "big.bin").size == len(content)
                except Exception:
                    return False
            assert wait_until(complete, timeout=60)
        with open(handle.state.store.get("books", "big.bin").path, "rb") as stored:
            assert hashlib.sha256(stored.read()).digest() == hashlib.sha256(content).digest()
        key = (lambda q: q.split("offset=")[1]) if mode == "ds3" else (lambda q: q.split("partNumber=")[1].split("&")[0])
        resent = {key(q) for q in acknowledged()}
        acked_before = {key(q) for q in before}
        assert len(resent | acked_before) == count          # every piece arrived
        # Acknowledged pieces whose answer died with the daemon are found on resume (DS3:
        # InCache in the job's object list; S3: ListParts), so none is sent twice.
        assert resent & acked_before == set()
        assert len(resent) == count - len(acked_before)
