"""Faults injected into the SLS emulator, seen through real mounts.

Each failure ends one of two ways: the hour file still reads byte-exact (retried), or the
syscall fails with the right errno and the daemon log names the mounted path and the
cause. Never a silently short file, never a quota error shown as a permission problem,
never a log sent twice.
"""

import errno
import os
import signal
import subprocess
import time

import pytest

from backends.aliyun_log.emulator import create_server, quota_fault
from hubfs.daemon import read_state
from hubfs.emulation import start_in_thread
from tests.support import Mount, hubfs, requires_fuse, wait_until, write_config
from tests.support_aliyun_log import remote, sdk_client, sdk_hour

pytestmark = [requires_fuse, pytest.mark.mount]

DAY, HOUR = 86400, 3600
FAST_RETRIES = {"retries": 4, "retry_backoff": 0.05, "timeout": 2}
PULLS = r"^/logstores/nginx-access/shards/\d+$"


@pytest.fixture(scope="module")
def emulator():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture(scope="module")
def config(emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("cfg"), {"sls": remote(emulator.url)},
                        general=FAST_RETRIES)


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("faults"), config) as live:
        yield live


def hour(offset):
    """(start, path parts) of the all-shards nginx-access hour *offset* hours before today."""
    now = int(time.time())
    start = now - now % DAY - offset * HOUR
    return start, ("web-shop", "nginx-access", time.strftime("%Y-%m-%d", time.gmtime(start)),
                   time.strftime("%H.jl", time.gmtime(start)))


def at(mount, *parts):
    return os.path.join(mount.path, "sls", *parts)


def read(file):
    with open(file, "rb") as fh:
        return fh.read()


def expected(emulator, start):
    return sdk_hour(sdk_client(emulator.url), "web-shop", "nginx-access", start)


@pytest.mark.parametrize("offset,fault", [
    (1, {"status": 503, "times": 2, "query": "type=log"}),
    (2, {"status": 500, "times": 1, "query": "type=log"}),
    (3, {"cut_after": 300, "times": 2, "query": "type=log"}),
    (4, {"delay": 3.0, "times": 1, "query": "type=log"}),  # past the 2 s timeout: retried
    (5, quota_fault("ReadQuotaExceed", path="", times=3, query="type=log")),
    (6, quota_fault("ExceedQPSLimit", path="", times=2, query="type=cursor")),
    (7, {"status": 400, "times": 1, "query": "type=log", "headers": {"Content-Type": "application/json"},
         "body": '{"errorCode":"InvalidCursor","errorMessage":"cursor is invalid"}'}),
])
def test_transient_faults_still_read_byte_exact(mount, emulator, offset, fault):
    start, parts = hour(offset)
    want = expected(emulator, start)
    fault = dict(fault, path=PULLS)
    rule = emulator.server.faults.add(fault)
    assert read(at(mount, *parts)) == want
    assert rule.applied >= 1  # the fault really happened


@pytest.mark.parametrize("offset,fault,reason", [
    (8, {"status": 503, "times": -1, "query": "type=log"}, "503"),
    (9, quota_fault("ExceedQPSLimit", path="", times=-1, query="type=log"), "ExceedQPSLimit"),
    (10, quota_fault("ReadQuotaExceed", path="", times=-1, query="type=log"), "ReadQuotaExceed"),
    (11, {"status": 400, "times": -1, "query": "type=log", "headers": {"Content-Type": "application/json"},
          "body": '{"errorCode":"InvalidCursor","errorMessage":"cursor is invalid"}'}, "InvalidCursor"),
    (12, {"cut_after": 500, "times": -1, "query": "type=log"}, "cut"),
])
def test_lasting_faults_fail_with_eio_and_one_log_line(mount, emulator, offset, fault, reason):
    start, parts = hour(offset)
    emulator.server.faults.add(dict(fault, path=PULLS))
    file = at(mount, *parts)
    with pytest.raises(OSError) as raised:
        os.stat(file)  # a closed hour renders at stat, so its size is exact
    assert raised.value.errno == errno.EIO  # a quota refusal is not EACCES
    shown = "/sls/" + "/".join(parts)
    lines = [line for line in mount.log().splitlines() if shown in line]
    assert len(lines) == 1 and reason in lines[0] and "EIO" in lines[0]
    # Nothing short was kept: once the service recovers the file reads whole.
    emulator.server.faults.clear()
    assert read(file) == expected(emulator, start)


@pytest.mark.parametrize("fault", [
    {"cut_after": 200, "times": -1, "query": "type=log"},
    {"status": 400, "times": -1, "query": "type=log", "headers": {"Content-Type": "application/json"},
     "body": '{"errorCode":"InvalidCursor","errorMessage":"cursor is invalid"}'},
    quota_fault("ReadQuotaExceed", path="", times=-1, query="type=log"),
], ids=["cut", "InvalidCursor", "quota"])
def test_a_stream_failing_after_its_first_bytes_fails_reads_and_caches_nothing(emulator, config,
                                                                              tmp_path, fault):
    """Shard 0 streams into the hour file while shard 2 fails for good: a reader that
    does not fstat (no wait for the size) gets a prefix of the right bytes, then EIO,
    never an early EOF; the next mount on the same cache directory renders it anew."""
    start, parts = hour(13 if fault.get("cut_after") else 14 if "body" in fault else 15)
    want = expected(emulator, start)
    emulator.server.faults.add(dict(fault, path=r"^/logstores/nginx-access/shards/2$"))
    got, error = b"", None
    with Mount(tmp_path, config) as live:
        try:
            fd = os.open(at(live, *parts), os.O_RDONLY)  # open(2) alone does not fstat
            try:
                while True:
                    block = os.read(fd, 4096)
                    assert block, f"EOF after {len(got)} of {len(want)} bytes: a short file"
                    got += block
            finally:
                os.close(fd)
        except OSError as exc:
            error = exc.errno
    emulator.server.faults.clear()
    assert error == errno.EIO
    assert want.startswith(got) and len(got) < len(want)
    with Mount(tmp_path, config, name="again") as again:  # same cache directory
        assert read(at(again, *parts)) == want


def test_unknown_project_and_logstore_are_enoent(mount):
    with pytest.raises(FileNotFoundError):
        os.listdir(at(mount, "no-such-project"))
    with pytest.raises(FileNotFoundError):
        os.listdir(at(mount, "web-shop", "no-such-logstore"))


def test_wrong_secret_refuses_the_mount_with_a_clear_message(emulator, tmp_path):
    config = write_config(tmp_path, {"sls": remote(emulator.url, access_key_secret="wrong-secret-123")})
    mount = Mount(tmp_path, config)
    with pytest.raises(AssertionError) as raised:
        mount.__enter__()
    message = str(raised.value)
    assert "refused the access key" in message and "SignatureNotMatch" in message
    assert "wrong-secret-123" not in message and "wrong-secret-123" not in mount.log()


def _children(pid):
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as fh:
            found += [int(child) for child in fh.read().split()]
    return found


def _kill_daemon(live):
    pid = read_state(live.path)["pid"]
    workers = _children(pid)  # processes of its own, if any (renders run in threads)
    os.kill(pid, signal.SIGKILL)  # no chance to resend here
    subprocess.run(["fusermount3", "-uz", live.path], capture_output=True)
    # A killed daemon leaves no worker behind.
    assert wait_until(lambda: not any(os.path.exists(f"/proc/{w}/cmdline")
                                      and open(f"/proc/{w}/cmdline", "rb").read()
                                      for w in workers), timeout=10)


def _write(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, data)
    try:
        os.close(fd)
    except OSError as exc:
        return exc.errno
    return 0


def test_put_logs_failure_is_eio_kept_and_sent_once_after_remount(emulator, config, tmp_path):
    logstore = emulator.server.state.projects["iot-fleet"].logstores["archive"]
    before = sum(s.count() for s in logstore.shards)
    emulator.server.faults.add(method="POST", path=r"^/logstores/archive/shards/lb$", status=503,
                               times=-1)
    lines = b"".join(b'{"msg": "kept %d"}\n' % i for i in range(10))
    with Mount(tmp_path, config) as first:
        assert _write(at(first, "iot-fleet", "archive", "append.jl"), lines) == errno.EIO
        assert "pending /sls/iot-fleet/archive/append.jl" in hubfs("status").stdout
        assert sum(s.count() for s in logstore.shards) == before
        _kill_daemon(first)
    emulator.server.faults.clear()
    with Mount(tmp_path, config):
        assert wait_until(lambda: sum(s.count() for s in logstore.shards) == before + 1, timeout=30)
    assert "/sls/iot-fleet/archive/append.jl" not in hubfs("status", "--config", config).stdout
    sdk = sdk_client(emulator.url)
    now = int(time.time())
    sent = [line for line in sdk_hour(sdk, "iot-fleet", "archive", now - HOUR, now + 60).splitlines()
            if b'"kept ' in line]
    assert len(sent) == 10  # each line once


def test_resend_after_a_crash_sends_only_the_batches_not_acknowledged(emulator, config, tmp_path):
    logstore = emulator.server.state.projects["web-shop"].logstores["app-events"]
    marker = f"resume-{time.time_ns()}"
    # 10,000 lines are three PutLogs batches (at most 4,096 logs each); the first is
    # acknowledged, the second refused for good in this mount.
    lines = b"".join(b'{"msg": "%s", "n": %d}\n' % (marker.encode(), i) for i in range(10_000))
    emulator.server.faults.add(method="POST", path=r"^/logstores/app-events/shards/lb$",
                               status=503, skip=1, times=-1)
    before = sum(s.count() for s in logstore.shards)
    with Mount(tmp_path, config) as first:
        assert _write(at(first, "web-shop", "app-events", "append.jl"), lines) == errno.EIO
        assert sum(s.count() for s in logstore.shards) == before + 1
        _kill_daemon(first)
    emulator.server.faults.clear()
    with Mount(tmp_path, config):
        assert wait_until(lambda: sum(s.count() for s in logstore.shards) == before + 3, timeout=30)
    sdk = sdk_client(emulator.url)
    now = int(time.time())
    sent = [line for line in sdk_hour(sdk, "web-shop", "app-events", now - HOUR, now + 60).splitlines()
            if marker.encode() in line]
    assert len(sent) == 10_000  # every line once: batch 1 was not sent again
    numbers = sorted(int(line.rsplit(b'"n":"', 1)[1].split(b'"')[0]) for line in sent)
    assert numbers == list(range(10_000))
