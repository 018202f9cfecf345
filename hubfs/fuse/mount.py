"""Run a mount: pyfuse3 init, the trio main loop, signals, and a clean unmount.

`serve()` blocks until the filesystem is unmounted (`hubfs umount`, `fusermount3 -u`) or
the process gets SIGTERM/SIGINT, and always leaves the mountpoint usable: a mount that
ends for any reason other than an external unmount is unmounted here, so no dead
"Transport endpoint is not connected" directory is left behind.
"""

import dataclasses
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pyfuse3
import trio

from hubfs.cache.blocks import BlockCache
from hubfs.cache.spool import entry_path
from hubfs.fuse.operations import HubfsOperations

log = logging.getLogger(__name__)

UNMOUNT_TIMEOUT = 5.0  # seconds fusermount3 may take before the daemon counts as hung
HUNG_PROBE = 1.0  # seconds a stuck request count is watched before the mount is aborted
SWITCH_INTERVAL = 0.0005  # seconds a thread holding the interpreter lock runs before a switch
FUSECTL = "/sys/fs/fuse/connections"


@dataclasses.dataclass
class MountEntry:
    """One line of /proc/self/mountinfo."""

    device: str  # "major:minor"; a FUSE connection is named by its minor number
    mountpoint: str
    fstype: str
    source: str
    options: str

    def owner_matches(self):
        """True when the FUSE mount was made by this user (its `user_id=` option)."""
        for option in self.options.split(","):
            if option.startswith("user_id="):
                return option[len("user_id="):] == str(os.getuid())
        return False


def mount_entry(mountpoint):
    """The mount at *mountpoint*, read from /proc (never stat the mount: a FUSE mount
    whose daemon is gone, hung, or is the caller itself would block the caller)."""
    from hubfs.runtime import canonical_mountpoint

    target = canonical_mountpoint(mountpoint)
    found = None
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4 and decode_mount_path(fields[4]) == target and " - " in line:
                tail = line.split(" - ", 1)[1].split()
                found = MountEntry(fields[2], target, tail[0], tail[1] if len(tail) > 1 else "",
                                   tail[2] if len(tail) > 2 else "")  # the last one is on top
    return found


def is_mounted(mountpoint):
    """True when *mountpoint* is a mount point (see `mount_entry`)."""
    return mount_entry(mountpoint) is not None


def unmount(mountpoint, lazy=False):
    """Unmount a FUSE mount without touching it; returns "ok", "busy" or the error.

    A daemon that does not answer (requests waiting on it that never complete, or a
    fusermount3 that does not return within `UNMOUNT_TIMEOUT`) has its connection
    aborted through fusectl, which fails the waiting calls, and the mount is then
    detached lazily: `hubfs umount` of a hung mount ends in seconds.
    """
    entry = mount_entry(mountpoint)
    if entry is None:
        return "ok"
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    command = [tool, "-u"] if tool else ["umount"]
    try:
        result = subprocess.run(command + (["-z"] if lazy else []) + [entry.mountpoint],
                                capture_output=True, text=True, timeout=UNMOUNT_TIMEOUT)
    except subprocess.TimeoutExpired:
        log.warning("%s: unmounting took over %.0fs: aborting the hung FUSE connection",
                    entry.mountpoint, UNMOUNT_TIMEOUT)
        return _abort_and_detach(entry, tool)
    if result.returncode == 0:
        return "ok"
    error = result.stderr.strip()
    if "busy" in error.lower():
        if _hung(entry):
            log.warning("%s: the daemon answers no request: aborting the FUSE connection",
                        entry.mountpoint)
            return _abort_and_detach(entry, tool)
        return "busy"
    return error or f"{command[0]} exited {result.returncode}"


def _connection(entry):
    """The fusectl directory of *entry*'s connection, mounting fusectl when we can."""
    if not os.path.isdir(FUSECTL):
        return None
    if not os.listdir(FUSECTL) and os.getuid() == 0:
        subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL], capture_output=True,
                       timeout=UNMOUNT_TIMEOUT)
    path = os.path.join(FUSECTL, entry.device.split(":")[-1])
    return path if os.path.isdir(path) else None


def _hung(entry):
    """True when requests wait on the daemon and none completes for `HUNG_PROBE`."""
    connection = _connection(entry)
    if connection is None:
        return False

    def waiting():
        try:
            with open(os.path.join(connection, "waiting")) as fh:
                return int(fh.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    first = waiting()
    time.sleep(HUNG_PROBE)
    return first > 0 and waiting() >= first


def _abort_and_detach(entry, tool):
    connection = _connection(entry)
    if connection is not None:
        try:
            with open(os.path.join(connection, "abort"), "w") as fh:
                fh.write("1")
        except OSError as exc:
            log.warning("%s: could not abort the FUSE connection: %s", entry.mountpoint, exc)
    command = [tool, "-u", "-z"] if tool else ["umount", "-l"]
    try:
        result = subprocess.run(command + [entry.mountpoint], capture_output=True, text=True,
                                timeout=UNMOUNT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"even a lazy unmount did not return within {UNMOUNT_TIMEOUT:.0f}s"
    return "ok" if result.returncode == 0 else (result.stderr.strip() or "lazy unmount failed")


def busy_holders(mountpoint):
    """`[(pid, command name)]` of processes with a file, directory or working directory
    under *mountpoint* (read from /proc link names; nothing under the mount is touched)."""
    from hubfs.runtime import canonical_mountpoint

    root = canonical_mountpoint(mountpoint)
    holders = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        links = []
        try:
            links.append(os.readlink(f"/proc/{pid}/cwd"))
            links += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            if any(link == root or link.startswith(root + "/") for link in links):
                with open(f"/proc/{pid}/comm") as fh:
                    holders.append((int(pid), fh.read().strip()))
        except OSError:
            continue
    return holders


def decode_mount_path(field):
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    return field.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def serve(root_node, mountpoint, content_cache, spool, remotes, read_only=False,
          remote_name=None, on_ready=None, drain_seconds=60.0, memory_budget=None,
          allow_other=False, set_times=None):
    """Mount *root_node* at *mountpoint* and serve until unmounted or signalled.

    *remotes* names the remotes served, whose pending journal entries this mount sends
    (at start, then retrying failures); after unmounting it keeps trying for up to
    *drain_seconds* so that `hubfs umount` returns with nothing left unsent if it can.
    *set_times* keeps times set by `utimensat` across mounts (`hubfs.cache.set_times`).
    """
    # Renders run in worker threads that hold the interpreter lock while they parse
    # HTTP; with Python's default 5 ms switch interval a FUSE request arriving then
    # waits up to 5 ms for the lock. A shorter interval keeps the FUSE thread answering
    # within a fraction of a millisecond while renders run.
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    operations = HubfsOperations(root_node, content_cache, spool, read_only=read_only,
                                 remote_name=remote_name,
                                 blocks=BlockCache(memory_budget) if memory_budget else None,
                                 set_times=set_times)
    # Not pyfuse3's default_permissions: with it the kernel asks getattr before every
    # open to check the mode bits, and for a file still rendering that getattr must wait
    # for the exact size, so `head -1` would wait for the whole render. The mount is
    # private to its user (no allow_other), and every write is refused or accepted by
    # the daemon itself (EROFS at open), so the kernel's mode check adds nothing.
    options = set(pyfuse3.default_options) - {"default_permissions"}
    # fsname is shown by `mount`/`df`; a bare "hubfs" would be taken for a relative path,
    # and a comma would split the FUSE options (two remotes are joined with "+").
    shown = "+".join(re.sub(r"[^A-Za-z0-9_.+-]", "_", name) for name in sorted(remotes))
    options |= {"fsname=hubfs:" + shown, "subtype=hubfs"}
    if read_only:
        options.add("ro")
    if allow_other:  # every local user may read (and write) what this mount's keys reach
        options.add("allow_other")
    pyfuse3.init(operations, mountpoint, options)
    try:
        if on_ready is not None:
            on_ready()
        trio.run(_main, operations, set(remotes))
    finally:
        still_mounted = is_mounted(mountpoint)
        pyfuse3.close(unmount=still_mounted)
        operations.close()
        operations.set_times.close()
        content_cache.close()
        log.info("unmounted %s", mountpoint)
        trio.run(_drain, operations, set(remotes), drain_seconds)


async def _main(operations, remotes):
    async with trio.open_nursery() as nursery:
        operations.background = nursery
        nursery.start_soon(_stop_on_signals)
        nursery.start_soon(operations.writer.resend_loop, remotes)
        await pyfuse3.main()
        nursery.cancel_scope.cancel()


async def _drain(operations, remotes, seconds):
    pending = [e for e in operations.writer.spool.pending() if e["remote"] in remotes]
    if not pending:
        return
    log.info("sending %d pending file(s) before exiting: %s", len(pending),
             ", ".join(entry_path(e) for e in pending))
    left = await operations.writer.resend(remotes, deadline=time.monotonic() + seconds)
    if left:
        log.warning("%d file(s) still pending; the next mount with this cache directory "
                    "sends them (see hubfs status)", left)


async def _stop_on_signals():
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("got %s, unmounting", signal.Signals(signum).name)
            pyfuse3.terminate()
            return
