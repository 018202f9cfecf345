"""hubfs mounted like other filesystems: `mount.hubfs`, `mount -t fuse.hubfs`, an fstab
line (`mount -T <temp fstab>`), `umount` waiting for pending uploads, systemd readiness.

mount(8) finds helpers only in /sbin: the `helpers` fixture links this venv's
`mount.hubfs` as /sbin/mount.fuse.hubfs and `umount.hubfs` as /sbin/umount.fuse for the
module (as docs/mounting.md tells an admin to), and removes exactly what it made.
"""

import errno
import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.fuse.mount import is_mounted
from tests.support import REPO, requires_fuse, scrapinghub_remote, wait_until, write_config

pytestmark = requires_fuse
BIN = os.path.dirname(sys.executable)
ITEMS = ("101", "spiders", "books", "1", "items.jl")


@pytest.fixture
def config(sh_clean, tmp_path):
    return write_config(tmp_path, {"zyte": scrapinghub_remote(sh_clean.url, DEMO_APIKEY)})


@pytest.fixture
def mnt(tmp_path):
    path = tmp_path / "mnt"
    path.mkdir()
    yield str(path)
    if is_mounted(str(path)):
        subprocess.run(["fusermount3", "-uz", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def helpers():
    if os.geteuid() != 0:
        pytest.skip("installing mount helpers in /sbin needs root")
    made = []
    for name, target in (("mount.fuse.hubfs", "mount.hubfs"), ("umount.fuse", "umount.hubfs")):
        link = os.path.join("/sbin", name)
        if os.path.lexists(link):
            if os.path.realpath(link) != os.path.realpath(os.path.join(BIN, target)):
                pytest.skip(f"{link} exists and is not this venv's {target}")
            made.append(link)  # left by an interrupted run of this fixture: ours to remove
            continue
        os.symlink(os.path.join(BIN, target), link)
        made.append(link)
    try:
        yield
    finally:
        for link in made:
            os.unlink(link)


def mountinfo_options(path):
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            if line.split()[4] == path:
                return line.split(" - ", 1)[1].split()[2].split(",")
    return None


def run(*command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, **kwargs)


def test_helper_mounts_with_fstab_options_and_umount_helper_unmounts(config, mnt, tmp_path):
    result = run(os.path.join(BIN, "mount.hubfs"), "zyte", mnt, "-o",
                 f"config={config},cache_dir={tmp_path / 'cache'},ro,_netdev,nofail,x-systemd.automount")
    assert result.returncode == 0, result.stderr
    assert is_mounted(mnt)
    with open(os.path.join(mnt, *ITEMS), "rb") as fh:
        assert fh.readline().startswith(b"{")
    with pytest.raises(OSError) as raised:
        open(os.path.join(mnt, "101", "collections", "prices", "k"), "wb")
    assert raised.value.errno == errno.EROFS
    assert "allow_other" not in mountinfo_options(mnt)  # off unless asked
    result = run(os.path.join(BIN, "umount.hubfs"), mnt)
    assert result.returncode == 0, result.stderr
    assert not is_mounted(mnt)


def test_unknown_options_and_remotes_are_refused_clearly(config, mnt):
    result = run(os.path.join(BIN, "mount.hubfs"), "zyte", mnt, "-o", f"config={config},sync")
    assert result.returncode == 1 and "unknown mount option 'sync'" in result.stderr
    result = run(os.path.join(BIN, "mount.hubfs"), "nosuch", mnt, "-o", f"config={config}")
    assert result.returncode == 32 and "no remote 'nosuch'" in result.stderr
    assert not is_mounted(mnt)


def test_mount_t_fuse_hubfs_with_allow_other(helpers, config, mnt, tmp_path):
    result = run("mount", "-t", "fuse.hubfs", "zyte", mnt, "-o",
                 f"config={config},cache_dir={tmp_path / 'cache'},allow_other")
    assert result.returncode == 0, result.stderr
    try:
        assert "allow_other" in mountinfo_options(mnt)
        assert sorted(os.listdir(os.path.join(mnt, "101"))) == ["activity.jl", "collections",
                                                               "frontier", "spiders"]
    finally:
        assert run("umount", mnt).returncode == 0
    assert not is_mounted(mnt)


def test_fstab_line_mounts_and_umount_waits_for_pending_uploads(helpers, sh_clean, config, mnt,
                                                                 tmp_path):
    fstab = tmp_path / "fstab"
    fstab.write_text(f"# a hubfs line as an admin writes it\n"
                     f"hubfs {mnt} fuse.hubfs config={config},remote=zyte,"
                     f"cache_dir={tmp_path / 'cache'},_netdev,noauto 0 0\n")
    result = run("mount", "-T", str(fstab), mnt)
    assert result.returncode == 0, result.stderr
    assert is_mounted(mnt)
    sh_clean.server.faults.add(method="POST", path=r"^/collections/101/s/prices$", status=503,
                               times=-1)
    target = os.path.join(mnt, "101", "collections", "prices", "from-fstab")
    with pytest.raises(OSError) as raised:
        with open(target, "wb") as fh:
            fh.write(b'{"fstab": true}')
    assert raised.value.errno == errno.EIO  # kept in the journal, sent later
    sh_clean.server.faults.clear()
    sh_clean.server.faults.add(method="POST", path=r"^/collections/101/s/prices$", delay=2.0,
                               times=-1)  # back, but slow: the send happens during umount
    # umount from another environment than the mount's (a login shell's runtime dir).
    other_runtime = tmp_path / "run-user"
    other_runtime.mkdir(mode=0o700)
    result = run("umount", mnt, env={**os.environ, "XDG_RUNTIME_DIR": str(other_runtime)})
    assert result.returncode == 0, result.stderr
    assert "sending 1 pending file(s): /zyte/101/collections/prices/from-fstab" in result.stderr
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=sh_clean.url + "api/",
                               endpoint=sh_clean.url)
    assert client.get_project(101).collections.get_store("prices").get("from-fstab") == {"fstab": True}
    client.close()
    requests.delete(sh_clean.url + "__emulator__/requests", timeout=5)


def test_foreground_mount_notifies_systemd_only_once_live(config, mnt, tmp_path):
    """`Type=notify`: READY=1 arrives on $NOTIFY_SOCKET when the mount answers."""
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(60)
        daemon = subprocess.Popen([sys.executable, "-m", "hubfs", "mount", "--foreground",
                                   "--config", config, "--cache-dir", str(tmp_path / "cache"), mnt],
                                  cwd=REPO, env={**os.environ, "NOTIFY_SOCKET": address},
                                  stderr=subprocess.PIPE)
        try:
            message = sock.recv(4096)
            assert message == b"READY=1"
            assert is_mounted(mnt) and os.listdir(mnt) == ["zyte"]
        finally:
            daemon.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
            daemon.wait(timeout=60)
    assert daemon.returncode == 0
    assert wait_until(lambda: not is_mounted(mnt))


def test_the_systemd_unit_example_is_valid(tmp_path):
    """contrib/systemd/hubfs.service as `systemd-analyze verify` sees it (with the
    paths of this checkout); running it needs a systemd this CI machine does not boot."""
    import shutil

    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    with open(os.path.join(REPO, "contrib", "systemd", "hubfs.service")) as fh:
        unit = fh.read()
    assert "Type=notify" in unit and "--foreground" in unit and "ExecStop=" in unit
    unit = unit.replace("/usr/local/bin/hubfs", os.path.join(BIN, "hubfs"))
    path = tmp_path / "hubfs.service"
    path.write_text(unit)
    result = run("systemd-analyze", "verify", str(path))
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
