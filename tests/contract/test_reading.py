"""Contract: what every backend promises a reader, through real mounts.

Listings, ENOENT for missing names, exact sizes before the first read, `cp -a`/`tar`/
`rsync -a` reproducing a tree (and a second `rsync` sending nothing), faults on the data
path giving byte-exact reads or EIO (never short), wrong credentials refusing the mount
with a message naming the remote, writes where the backend allows none refused with
EROFS at open, hard links refused with EPERM without harming the daemon, and two remotes
mounted side by side by one daemon.
"""

import errno
import hashlib
import os
import subprocess
import time

import pytest

from hubfs.emulation import FaultRule
from hubfs.fuse.mount import is_mounted
from tests.contract.conftest import FAST, REMOTE, at
from tests.support import Mount, hubfs, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def test_listing_shows_the_known_file(harness, mount):
    directory, name = os.path.split(harness.known_file)
    assert name in os.listdir(at(mount, directory))
    assert os.listdir(mount.path) == [REMOTE]


def test_missing_names_are_enoent(harness, mount):
    for missing in harness.missing:
        with pytest.raises(FileNotFoundError):
            os.stat(at(mount, missing))


def test_size_is_exact_before_the_first_read_and_bytes_are_the_services(harness, emulator, tmp_path, config):
    expected = harness.known_bytes(emulator)
    assert expected
    with Mount(tmp_path, config, name="fresh") as fresh:  # a cold mount: nothing read yet
        assert os.stat(at(fresh, harness.known_file)).st_size == len(expected)
        assert read(at(fresh, harness.known_file)) == expected


def _tree_digest(root):
    digest = {}
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            digest[os.path.relpath(path, root)] = (hashlib.sha256(read(path)).hexdigest(),
                                                   int(os.stat(path).st_mtime))
    return digest


def test_cp_tar_rsync_reproduce_the_tree_and_a_second_rsync_sends_nothing(harness, mount, tmp_path):
    source = at(mount, harness.tree)
    expected = _tree_digest(source)
    assert expected
    subprocess.run(["cp", "-a", source, str(tmp_path / "cp")], check=True, timeout=300)
    assert _tree_digest(tmp_path / "cp") == expected
    (tmp_path / "tar").mkdir()
    archive = tmp_path / "tree.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", source, "."], check=True, timeout=300)
    subprocess.run(["tar", "-xf", str(archive), "-C", str(tmp_path / "tar")], check=True, timeout=300)
    assert _tree_digest(tmp_path / "tar") == expected
    subprocess.run(["rsync", "-a", source + "/", str(tmp_path / "rsync")], check=True, timeout=300)
    assert _tree_digest(tmp_path / "rsync") == expected
    again = subprocess.run(["rsync", "-a", "--itemize-changes", source + "/", str(tmp_path / "rsync")],
                           check=True, capture_output=True, text=True, timeout=300)
    assert again.stdout == ""


@pytest.mark.parametrize("fault", [
    {"status": 503, "times": 2},
    {"status": 500, "times": 1},
    {"status": 429, "times": 1, "headers": {"Retry-After": "1"}},
    {"cut_after": 300, "times": 2},
    {"delay": 0.3, "times": 2},
])
def test_transient_faults_on_the_data_path_still_read_byte_exact(harness, clean, config, tmp_path, fault):
    expected = harness.known_bytes(clean)
    with Mount(tmp_path, config, name="faulty") as fresh:
        clean.server.faults.add(FaultRule(path=harness.fault_path, **fault))
        assert read(at(fresh, harness.known_file)) == expected
        assert clean.server.faults.rules[0].applied >= 1


@pytest.mark.parametrize("fault", [{"status": 503, "times": -1}, {"cut_after": 200, "times": -1}])
def test_faults_that_never_clear_are_eio_with_one_log_line_never_short(harness, clean, config, tmp_path, fault):
    with Mount(tmp_path, config, name="broken") as fresh:
        clean.server.faults.add(FaultRule(path=harness.fault_path, **fault))
        target = at(fresh, harness.known_file)
        with pytest.raises(OSError) as raised:
            os.stat(target)
            read(target)
        assert raised.value.errno == errno.EIO
        lines = [line for line in fresh.log().splitlines()
                 if os.path.basename(harness.known_file) in line and "EIO" in line]
        assert len(lines) >= 1 and len(lines) <= 2, fresh.log()


def test_wrong_credentials_refuse_the_mount_naming_the_remote(harness, emulator, tmp_path):
    bad = harness.bad_remote(emulator)
    config = write_config(tmp_path, {REMOTE: bad}, general=FAST)
    target = tmp_path / "mnt"
    target.mkdir()
    result = hubfs("mount", "--config", config, "--cache-dir", str(tmp_path / "c"), str(target), check=False)
    assert result.returncode != 0
    assert f"remote {REMOTE!r}" in result.stderr
    secrets = [value for value in bad.values() if isinstance(value, str) and len(value) >= 8
               and value not in harness.remote(emulator).values()]
    for secret in secrets:
        assert secret not in result.stderr + result.stdout
    assert not is_mounted(str(target))


def test_writes_where_none_are_allowed_are_erofs_at_open(harness, mount):
    if harness.read_only_file is None:
        pytest.skip(f"{harness.type}: every file accepts writes")
    target = at(mount, harness.read_only_file)
    for mode in ("ab", "r+b", "wb"):
        with pytest.raises(OSError) as raised:
            open(target, mode)
        assert raised.value.errno == errno.EROFS


def test_hard_links_are_eperm_and_the_daemon_lives_on(harness, mount, tmp_path):
    source = at(mount, harness.writable.directory, harness.writable.existing) \
        if harness.writable else at(mount, harness.known_file)
    for target in (source + ".link", at(mount, harness.known_file) + ".link"):
        with pytest.raises(OSError) as raised:
            os.link(source, target)
        assert raised.value.errno in (errno.EPERM, errno.EROFS, errno.EXDEV)
    assert os.listdir(mount.path) == [REMOTE]  # still answering


def test_two_remotes_of_one_type_mount_side_by_side(harness, emulator, tmp_path):
    config = write_config(tmp_path, {"one": harness.remote(emulator), "two": harness.remote(emulator)},
                          general=FAST)
    with Mount(tmp_path, config, name="pair") as pair:
        assert sorted(os.listdir(pair.path)) == ["one", "two"]
        expected = harness.known_bytes(emulator)
        for name in ("one", "two"):
            assert read(os.path.join(pair.path, name, harness.known_file)) == expected


def test_a_service_that_says_nothing_fails_within_the_deadline_naming_why(harness, clean, tmp_path):
    config = write_config(tmp_path, {REMOTE: harness.remote(clean)},
                          general=dict(FAST, timeout=2, deadline=4))
    with Mount(tmp_path, config, name="silent") as fresh:
        clean.server.faults.add(FaultRule(path=harness.fault_path, delay=1000, times=-1))
        started = time.monotonic()
        with pytest.raises(OSError) as raised:
            os.stat(at(fresh, harness.known_file))
            read(at(fresh, harness.known_file))
        waited = time.monotonic() - started
        assert raised.value.errno == errno.EIO
        assert waited < 60, waited  # a hang detector: the deadline is 4 s
        assert "did not answer within" in fresh.log(), fresh.log()


def test_a_service_down_at_mount_time_fails_the_mount_naming_it(harness, emulator, tmp_path):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = {key: (value.replace(f":{emulator.server.port}", f":{port}") if isinstance(value, str)
                     else value) for key, value in harness.remote(emulator).items()}
    config = write_config(tmp_path, {REMOTE: options}, general=dict(FAST, deadline=5))
    target = tmp_path / "mnt"
    target.mkdir()
    result = hubfs("mount", "--config", config, "--cache-dir", str(tmp_path / "c"), str(target),
                   check=False, timeout=120)
    assert result.returncode != 0
    assert f"remote {REMOTE!r}" in result.stderr and f"127.0.0.1:{port}" in result.stderr, result.stderr
    assert not is_mounted(str(target))


def test_umount_of_a_busy_mount_names_who_holds_it_and_lazy_detaches(harness, config, tmp_path):
    with Mount(tmp_path, config, name="busy") as live:
        holder = subprocess.Popen(["sleep", "60"], cwd=at(live, os.path.dirname(harness.known_file)))
        try:
            result = hubfs("umount", live.path, check=False)
            assert result.returncode != 0 and "busy" in result.stderr
            assert f"sleep (pid {holder.pid})" in result.stderr and "--lazy" in result.stderr
            assert is_mounted(live.path)
            hubfs("umount", "--lazy", live.path)
            assert not is_mounted(live.path)
        finally:
            holder.kill()
            holder.wait()
