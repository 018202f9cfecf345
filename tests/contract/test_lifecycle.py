"""Contract: the mount's life around the data: journal damage, crashes, hung and dead
mounts, hostile runtime files, and secrets, for every backend through real mounts.

A damaged journal entry is set aside (reported once, listed by `hubfs status`) and never
stops or hangs a daemon; nothing in the daemon or in `hubfs umount` touches the
mountpoint of a mount that may be dead; `hubfs umount` of a hung mount ends in seconds;
`hubfs mount` over a dead hubfs mount cleans it up; a runtime directory or file planted
by someone else is refused, never followed; a forged state file never makes `hubfs
umount` signal a process; no log line, state file, `hubfs status` output or argv holds a
configured secret.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import backends
from hubfs.fuse.mount import is_mounted
from hubfs.runtime import read_state
from tests.contract.conftest import FAST, REMOTE, at
from tests.support import REPO, Mount, hubfs, requires_fuse, wait_until, write_config

pytestmark = [requires_fuse, pytest.mark.mount]


def plant_journal(cache_dir):
    """Three damaged entries: data file missing, not JSON, fields of the wrong type."""
    spool = os.path.join(cache_dir, "spool")
    os.makedirs(spool, mode=0o700, exist_ok=True)
    entry = {"id": "0-missing", "remote": REMOTE, "path": ["x", "y"], "mode": "replace",
             "journaled": time.time(), "attempts": 0, "last_error": None}
    with open(os.path.join(spool, "0-missing.json"), "w") as fh:
        json.dump(entry, fh)
    with open(os.path.join(spool, "1-garbage.json"), "w") as fh:
        fh.write("{not json")
    with open(os.path.join(spool, "2-fields.json"), "w") as fh:
        json.dump(dict(entry, id="2-fields", path="not a list"), fh)
    with open(os.path.join(spool, "2-fields.data"), "wb") as fh:
        fh.write(b"kept for the user")


def test_damaged_journal_entries_are_set_aside_and_never_hang_a_mount(harness, emulator, config, tmp_path):
    plant_journal(str(tmp_path / "cache"))
    for round_ in range(2):  # a later mount with the same cache directory as well
        with Mount(tmp_path, config, name=f"m{round_}") as live:
            assert os.listdir(at(live, "")) and os.listdir(at(live, ""))
            status = hubfs("status", "--config", config).stdout
            assert "set aside" in status and "its data file is missing" in status, status
            assert os.listdir(live.path) == [REMOTE]
        assert not is_mounted(live.path)
    broken = os.listdir(tmp_path / "cache" / "spool" / "broken")
    assert "2-fields.data" in broken  # the user's bytes are kept
    log = (tmp_path / "m0.log").read_text()
    assert log.count("0-missing") == 1, log  # reported once, then left alone


def test_nothing_stats_the_mountpoint_when_naming_it(monkeypatch, tmp_path):
    """A `stat` of a dead or hung FUSE mount blocks (the daemon deadlocked on its own
    mount that way): the helpers that name mountpoints must never make one."""
    from hubfs import daemon, runtime
    from hubfs.fuse import mount

    target = str(tmp_path / "mnt")
    touched = []
    real_stat, real_lstat = os.stat, os.lstat

    def watch(real):
        def call(path, *args, **kwargs):
            if os.fspath(path) == target if isinstance(path, (str, bytes, os.PathLike)) else False:
                touched.append(path)
                raise OSError(107, "Transport endpoint is not connected")
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "stat", watch(real_stat))
    monkeypatch.setattr(os, "lstat", watch(real_lstat))
    runtime.canonical_mountpoint(target)
    runtime.state_path(target)
    mount.is_mounted(target)
    mount.busy_holders(target)
    daemon.read_state(target)
    config = type("Config", (), {"cache_dir": str(tmp_path / "cache")})()
    daemon.default_log_file(config, target)
    assert touched == []


def test_umount_of_a_hung_mount_ends_in_seconds(harness, config, tmp_path):
    with Mount(tmp_path, config, name="hung") as live:
        pid = read_state(live.path)["pid"]
        os.kill(pid, signal.SIGSTOP)  # the daemon answers nothing from now on
        try:
            reader = subprocess.Popen(["cat", at(live, harness.known_file)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = time.monotonic()
            result = hubfs("umount", live.path, check=False, timeout=60)
            took = time.monotonic() - started
            assert not is_mounted(live.path), result.stderr
            assert took < 30, took
            reader.wait(timeout=30)  # the blocked reader is released, not left hanging
        finally:
            os.kill(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGCONT)


def test_mount_over_a_dead_mount_cleans_it_up(harness, emulator, config, tmp_path):
    with Mount(tmp_path, config, name="dead") as first:
        pid = read_state(first.path)["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline") or
                          open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")
        with pytest.raises(OSError):
            os.listdir(first.path)  # ENOTCONN: dead
        result = hubfs("mount", "--config", config, "--cache-dir", first.cache_dir, first.path)
        assert "dead hubfs mount" in result.stderr
        assert os.listdir(first.path) == [REMOTE]


def test_a_live_mount_is_never_mounted_over(harness, config, tmp_path):
    with Mount(tmp_path, config, name="live") as live:
        result = hubfs("mount", "--config", config, live.path, check=False)
        assert result.returncode != 0 and "live hubfs mount" in result.stderr
        assert os.listdir(live.path) == [REMOTE]


@pytest.mark.parametrize("plant", ["symlink", "world-writable", "other-owner"])
def test_a_planted_runtime_directory_is_refused(harness, config, tmp_path, plant):
    base = tmp_path / "run"
    base.mkdir()
    runtime = base / f"hubfs-{os.getuid()}"
    if plant == "symlink":
        (tmp_path / "elsewhere").mkdir()
        runtime.symlink_to(tmp_path / "elsewhere")
    else:
        runtime.mkdir()
        if plant == "world-writable":
            os.chmod(runtime, 0o777)
        else:
            os.chown(runtime, 65534, 65534)
    target = tmp_path / "mnt"
    target.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(base))
    result = hubfs("mount", "--config", config, str(target), check=False, env=env)
    assert result.returncode != 0 and "runtime directory" in result.stderr, result.stderr
    assert not is_mounted(str(target))
    if plant == "symlink":
        assert os.listdir(tmp_path / "elsewhere") == []  # nothing written through the link


def test_a_symlink_planted_as_state_file_is_replaced_not_followed(harness, config, tmp_path):
    base = tmp_path / "run"
    base.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(base))
    target = tmp_path / "mnt"
    target.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    code = ("import sys; sys.path.insert(0, sys.argv[2]); from hubfs.runtime import state_path; "
            "print(state_path(sys.argv[1]))")
    state_file = subprocess.run([sys.executable, "-c", code, str(target), REPO], env=env,
                                capture_output=True, text=True, check=True).stdout.strip()
    os.symlink(victim, state_file)
    hubfs("mount", "--config", config, "--cache-dir", str(tmp_path / "c"), str(target), env=env)
    try:
        assert victim.read_text() == "precious\n"
        assert not os.path.islink(state_file)
    finally:
        hubfs("umount", str(target), env=env)


def test_a_forged_state_file_never_makes_umount_signal_a_process(harness, tmp_path):
    base = tmp_path / "run"
    base.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(base))
    target = tmp_path / "mnt"
    target.mkdir()
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        code = ("import sys, json; sys.path.insert(0, sys.argv[3]); from hubfs.runtime import "
                "runtime_dir, state_path, write_private; runtime_dir(); write_private(state_path(sys.argv[1]), "
                "json.dumps({'pid': int(sys.argv[2]), 'mountpoint': sys.argv[1], 'started': None}))")
        subprocess.run([sys.executable, "-c", code, str(target), str(bystander.pid), REPO], env=env,
                       check=True)
        result = hubfs("umount", str(target), check=False, env=env)
        assert result.returncode != 0 and "not mounted" in result.stderr
        assert bystander.poll() is None  # still alive: never signalled
    finally:
        bystander.kill()


def test_no_secret_in_logs_state_status_or_argv(harness, emulator, tmp_path):
    options = harness.remote(emulator)
    declared = backends.load(harness.type).OPTIONS
    secrets = [str(options[name]) for name, option in declared.items()
               if getattr(option, "secret", False) and options.get(name)]
    assert secrets, "the harness's remote has no secret option"
    config = write_config(tmp_path, {REMOTE: options}, general=FAST)
    with Mount(tmp_path, config, "-v", name="secret") as live:
        os.listdir(at(live, ""))
        with open(at(live, harness.known_file), "rb") as fh:
            fh.read()
        exposed = [live.log(), hubfs("status").stdout, hubfs("status", "--config", config).stdout]
        from hubfs.runtime import state_path
        with open(state_path(live.path)) as fh:
            exposed.append(fh.read())
        # The argv of every hubfs process (the daemon included): what `ps` shows of us.
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if b"hubfs" in argv or int(pid) == read_state(live.path)["pid"]:
                exposed.append(b" ".join(argv).decode(errors="replace"))
    for text in exposed:
        for secret in secrets:
            assert secret not in text
