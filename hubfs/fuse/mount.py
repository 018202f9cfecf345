"""Run a mount: pyfuse3 init, the trio main loop, signals, and a clean unmount.

`serve()` blocks until the filesystem is unmounted (`hubfs umount`, `fusermount3 -u`) or
the process gets SIGTERM/SIGINT, and always leaves the mountpoint usable: a mount that
ends for any reason other than an external unmount is unmounted here, so no dead
"Transport endpoint is not connected" directory is left behind.
"""

import logging
import os
import signal
import time

import pyfuse3
import trio

from hubfs.cache.spool import entry_path
from hubfs.fuse.operations import HubfsOperations

log = logging.getLogger(__name__)


def is_mounted(mountpoint):
    """True when *mountpoint* is a mount point, read from /proc (never stat the mount:
    a FUSE mount whose daemon is gone or busy would block the caller)."""
    target = os.path.realpath(mountpoint)
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) > 4 and decode_mount_path(fields[4]) == target:
                return True
    return False


def decode_mount_path(field):
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    return field.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def serve(root_node, mountpoint, content_cache, spool, remotes, read_only=False,
          remote_name=None, on_ready=None, drain_seconds=60.0):
    """Mount *root_node* at *mountpoint* and serve until unmounted or signalled.

    *remotes* names the remotes served, whose pending journal entries this mount sends
    (at start, then retrying failures); after unmounting it keeps trying for up to
    *drain_seconds* so that `hubfs umount` returns with nothing left unsent if it can.
    """
    operations = HubfsOperations(root_node, content_cache, spool, read_only=read_only,
                                 remote_name=remote_name)
    # Not pyfuse3's default_permissions: with it the kernel asks getattr before every
    # open to check the mode bits, and for a file still rendering that getattr must wait
    # for the exact size, so `head -1` would wait for the whole render. The mount is
    # private to its user (no allow_other), and every write is refused or accepted by
    # the daemon itself (EROFS at open), so the kernel's mode check adds nothing.
    options = set(pyfuse3.default_options) - {"default_permissions"}
    # fsname is shown by `mount`/`df`; a bare "hubfs" would be taken for a relative path.
    options |= {"fsname=hubfs:" + ",".join(sorted(remotes)), "subtype=hubfs"}
    if read_only:
        options.add("ro")
    pyfuse3.init(operations, mountpoint, options)
    try:
        if on_ready is not None:
            on_ready()
        trio.run(_main, operations, set(remotes))
    finally:
        still_mounted = is_mounted(mountpoint)
        pyfuse3.close(unmount=still_mounted)
        operations.close()
        content_cache.close()
        log.info("unmounted %s", mountpoint)
        trio.run(_drain, operations, set(remotes), drain_seconds)


async def _main(operations, remotes):
    async with trio.open_nursery() as nursery:
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
