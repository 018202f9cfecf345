"""Shared test helpers: running emulators, writing configs, real FUSE mounts via the CLI.

Mounts are made the way a user makes them (`python -m hubfs mount ...`, which forks the
daemon and returns once the mount is live) and removed with `hubfs umount`, so the tests
exercise the daemon start, readiness and unmount paths too.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from hubfs.fuse.mount import is_mounted

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fuse_skip_reason():
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if not shutil.which("fusermount3"):
        return "no fusermount3 (install fuse3)"
    return None


requires_fuse = pytest.mark.skipif(fuse_skip_reason() is not None, reason=fuse_skip_reason() or "")


def write_config(directory, remotes, general=None):
    """Write a 0600 TOML config with *remotes* ({name: {key: value}}) and return its path."""
    lines = []
    if general:
        lines.append("[hubfs]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in general.items()]
    for name, options in remotes.items():
        lines.append(f"[remotes.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    path = os.path.join(str(directory), "hubfs.toml")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def scrapinghub_remote(url, apikey, **extra):
    return {"type": "scrapinghub", "apikey": apikey, "app_url": url + "api/",
            "storage_url": url, **extra}


def official_export(url, job_key, resource="items"):
    """The job's records as JSON lines, made with the official `scrapinghub` client: the
    bytes a user's own export script would write (and hubfs must serve)."""
    from scrapinghub import ScrapinghubClient

    from backends.scrapinghub.emulator import DEMO_APIKEY

    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=url + "api/", endpoint=url)
    records = getattr(client.get_job(job_key), resource).iter()
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                    for r in records)


def hubfs(*args, check=True, timeout=120, env=None):
    """Run the hubfs CLI as a user would; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, "-m", "hubfs", *args], capture_output=True,
                            text=True, timeout=timeout, cwd=REPO, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"hubfs {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


class Mount:
    """A live mount made with `hubfs mount`; `.path`, `.log()`, unmounted on exit."""

    def __init__(self, tmp_path, config_path, *extra_args, name="mnt"):
        self.path = os.path.join(str(tmp_path), name)
        self.cache_dir = os.path.join(str(tmp_path), "cache")
        self.log_file = os.path.join(str(tmp_path), f"{name}.log")
        os.makedirs(self.path, exist_ok=True)
        self.args = ["mount", "--config", config_path, "--cache-dir", self.cache_dir,
                     "--log-file", self.log_file, *extra_args, self.path]

    def __enter__(self):
        result = hubfs(*self.args, check=False)
        if result.returncode != 0:
            raise AssertionError(f"mount failed: {result.stderr}\nlog:\n{self.log()}")
        assert is_mounted(self.path)
        return self

    def log(self):
        try:
            with open(self.log_file) as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def unmount(self):
        if is_mounted(self.path):
            hubfs("umount", self.path)

    def __exit__(self, *exc):
        try:
            self.unmount()
        finally:
            if is_mounted(self.path):  # never leave a mount behind a failed test
                subprocess.run(["fusermount3", "-uz", self.path], capture_output=True)


@contextlib.contextmanager
def mounted(tmp_path, config_path, *extra_args, name="mnt"):
    with Mount(tmp_path, config_path, *extra_args, name=name) as mount:
        yield mount


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def pending_in(cache_dir, config=None):
    """The `hubfs status` lines of files still pending in *cache_dir* (other mounts of
    this user may have pending files of their own)."""
    args = ["status"] + (["--config", config] if config else [])
    return [line for line in hubfs(*args).stdout.splitlines()
            if line.startswith("pending") and line.endswith(" in " + str(cache_dir))]


@contextlib.contextmanager
def no_faults(handle):
    """*handle*'s emulator with no fault rules and an empty request log, and no fault
    rule left behind afterwards."""
    handle.server.faults.clear()
    handle.server.requests.clear()
    try:
        yield handle
    finally:
        handle.server.faults.clear()


def lets_other_threads_run(work, tries=10_000):
    """True when another thread gets to run while *work()* is called again and again
    under a switch interval of minutes: then only a release of the interpreter lock by
    *work* itself lets it run (a C call between Py_BEGIN/END_ALLOW_THREADS)."""
    go = threading.Lock()
    go.acquire()
    ran = []

    def other():
        go.acquire()
        ran.append(True)

    thread = threading.Thread(target=other)
    thread.start()
    old = sys.getswitchinterval()
    sys.setswitchinterval(300)
    try:
        go.release()  # `other` now waits only for the interpreter lock
        calls = 0
        while not ran and calls < tries:
            work()
            calls += 1
        return bool(ran)
    finally:
        sys.setswitchinterval(old)
        thread.join()
