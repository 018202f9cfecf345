"""The mount daemon's life: start (foreground or forked), readiness, state file, umount.

A background `hubfs mount` forks; the child detaches, opens the remotes, checks their
credentials, mounts, and only then tells the waiting parent "ready" through a pipe (or
sends the error text, which the parent prints). A state file per mountpoint under the
runtime directory records the daemon's pid and log file, so `hubfs umount` can unmount
and then wait until the daemon has finished its work and exited.
"""

import logging
import os
import signal
import sys
import time

from hubfs import errors, stats
from hubfs.runtime import (all_states, canonical_mountpoint, daemon_pid, process_state, read_state,
                           runtime_dir, state_path, write_state)

__all__ = ["mount", "umount", "live_mounts", "read_state", "runtime_dir", "state_path"]

log = logging.getLogger(__name__)


def default_log_file(config, mountpoint):
    logs = os.path.join(config.cache_dir, "logs")
    os.makedirs(logs, mode=0o700, exist_ok=True)
    slug = canonical_mountpoint(mountpoint).strip("/").replace("/", "_") or "root"
    return os.path.join(logs, f"{slug}.log")


def check_mountpoint(mountpoint):
    """Refuse a mountpoint that is not a directory or holds a live mount; a dead hubfs
    mount of this user (its daemon gone: every access fails with ENOTCONN) is cleaned up
    first, since mounting over it is what the user asked for."""
    from hubfs.fuse.mount import mount_entry, unmount

    entry = mount_entry(mountpoint)
    if entry is not None:
        state = read_state(mountpoint)
        ours = entry.fstype == "fuse.hubfs" and entry.owner_matches()
        if ours and daemon_pid(state) is None:
            log.info("mountpoint %s: cleaning up a dead hubfs mount (its daemon is gone)", mountpoint)
            print(f"hubfs: {mountpoint}: cleaning up a dead hubfs mount left by a daemon that "
                  "died", file=sys.stderr)
            unmount(mountpoint, lazy=True)
        elif entry.fstype == "fuse.hubfs":
            raise errors.ConfigError(f"mountpoint {mountpoint}: a live hubfs mount is there "
                                     f"(daemon pid {daemon_pid(state)}); unmount it first: "
                                     f"hubfs umount {mountpoint}")
        else:
            raise errors.ConfigError(f"mountpoint {mountpoint}: something ({entry.fstype}) is "
                                     "already mounted there")
    if not os.path.isdir(mountpoint):
        raise errors.ConfigError(f"mountpoint {mountpoint}: not a directory")


def mount(config, mountpoint, foreground=False, read_only=False, only=None, log_file=None,
          debug=False, allow_other=False):
    """Mount and return an exit status; raises `HubfsError` on a failure before forking.
    *allow_other* lets every local user into the mount (off by default)."""
    from hubfs import sdnotify
    from hubfs.cli import setup_logging

    runtime_dir()  # refuse an unsafe runtime directory before anything is started
    check_mountpoint(mountpoint)
    mountpoint = canonical_mountpoint(mountpoint)
    if foreground:
        setup_logging(debug, filename=log_file)
        # Under systemd (Type=notify) the unit becomes active only now: the mount is live.
        run(config, mountpoint, read_only, only, log_file, allow_other=allow_other,
            on_ready=lambda: (log.info("mounted %s", mountpoint), sdnotify.notify("READY=1")))
        return 0
    log_file = os.path.abspath(log_file or default_log_file(config, mountpoint))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the daemon
        os.close(read_end)
        _detach(log_file)
        setup_logging(debug, filename=log_file)
        status = 0
        try:
            run(config, mountpoint, read_only, only, log_file, allow_other=allow_other,
                on_ready=lambda: _report(write_end, "ready"))
        except errors.HubfsError as exc:
            log.error("mount %s failed: %s", mountpoint, exc)
            _report(write_end, f"error {exc}")
            status = 1
        except BaseException as exc:  # report, never leave the parent waiting
            log.exception("mount %s failed", mountpoint)
            _report(write_end, f"error {type(exc).__name__}: {exc}")
            status = 1
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        message = pipe.read().strip()
    if message == "ready":
        print(f"hubfs: mounted at {mountpoint} (daemon pid {pid}, log {log_file}); "
              f"unmount with: hubfs umount {mountpoint}")
        return 0
    os.waitpid(pid, 0)
    raise errors.HubfsError(message.removeprefix("error ") or f"the daemon died; see {log_file}")


def _detach(log_file):
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(devnull)
    os.close(out)


def _report(fd, message):
    try:
        os.write(fd, message.encode() + b"\n")
        os.close(fd)
    except OSError:
        pass


def run(config, mountpoint, read_only, only, log_file, on_ready, allow_other=False):
    """Open remotes, check credentials, mount and serve (blocks until unmounted)."""
    from hubfs.cache.content import ContentCache
    from hubfs.cache.set_times import SetTimes
    from hubfs.cache.spool import Spool
    from hubfs.fuse.mount import serve
    from hubfs.remotes import check_all, mount_root, open_remotes

    remotes = open_remotes(config, only)
    try:
        check_all(remotes)
        cache = ContentCache(config.cache_dir, config.cache_max_bytes)
        spool = Spool(config.cache_dir, max_bytes=config.spool_max_bytes,
                      min_free=config.spool_min_free)
        clean_orphans(spool, config.cache_dir)
        pending = [e for e in spool.pending() if e["remote"] in remotes]
        if pending:
            log.info("%d file(s) pending from an earlier mount; sending them", len(pending))
        root = mount_root(remotes, only)
        state_file = state_path(mountpoint)
        stats_file = state_file.replace("mount-", "stats-")  # live figures for `hubfs status`
        publisher = stats.Publisher(stats_file, extra=lambda: {
            "uploads_pending": spool.pending_count()}).start()
        write_state(mountpoint, {"pid": os.getpid(), "mountpoint": mountpoint, "log": log_file,
                                 "cache_dir": config.cache_dir, "remotes": sorted(remotes),
                                 "stats": stats_file})
        try:
            log.info("mounting %s at %s (cache %s%s)", ", ".join(sorted(remotes)), mountpoint,
                     config.cache_dir, ", read-only" if read_only else "")
            serve(root, mountpoint, cache, spool, remotes, read_only=read_only,
                  memory_budget=config.memory_budget,
                  remote_name=only, on_ready=on_ready, allow_other=allow_other,
                  set_times=SetTimes(config.cache_dir))
        finally:
            publisher.stop()
            try:
                os.unlink(state_file)
            except FileNotFoundError:
                pass
    finally:
        for remote in remotes.values():
            remote.close()


def live_mounts():
    """State of every running hubfs mount of this user (a state file whose daemon is
    proven alive)."""
    return [state for state in all_states() if daemon_pid(state) is not None]


def clean_orphans(spool, cache_dir):
    """Remove spool files that were written but never closed by a daemon that died:
    nothing acknowledged them. Only when no live mount shares this cache directory."""
    if any(os.path.realpath(s.get("cache_dir", "")) == os.path.realpath(cache_dir)
           for s in live_mounts()):
        return
    for spool_id in spool.orphans():
        log.info("removing unclosed spool file %s left by an earlier daemon", spool_id)
        spool.discard(spool_id)


def umount(mountpoint, timeout=120.0, lazy=False):
    """Unmount *mountpoint* and wait for its daemon to exit; returns an exit status.

    Never touches the mountpoint itself (a hung mount would hang us too): a mount whose
    daemon does not answer the kernel within a few seconds is aborted. Only a process
    proven to be the daemon of this mount (`hubfs.runtime.daemon_pid`) is ever signalled.
    """
    from hubfs.fuse.mount import busy_holders, mount_entry, unmount

    mountpoint = canonical_mountpoint(mountpoint)
    state = read_state(mountpoint)
    pid = daemon_pid(state)
    if mount_entry(mountpoint) is None:
        if pid is None:
            raise errors.HubfsError(f"{mountpoint}: not mounted")
        os.kill(pid, signal.SIGTERM)  # mounted no more, but its daemon lingers
    else:
        result = unmount(mountpoint, lazy=lazy)
        if result == "busy":
            holders = busy_holders(mountpoint)
            who = ", ".join(f"{name} (pid {p})" for p, name in holders) or "some process"
            raise errors.HubfsError(f"{mountpoint}: busy: files or directories are open there by "
                                    f"{who}; close them, or unmount lazily with "
                                    f"hubfs umount --lazy {mountpoint} (it detaches now and "
                                    "finishes when they are closed)")
        if result != "ok":
            raise errors.HubfsError(f"{mountpoint}: unmount failed: {result}")
        if lazy:
            # Files may still be open there: the daemon serves them until they are closed,
            # then sends what is pending and exits. Nothing to wait for here.
            print(f"hubfs: detached {mountpoint}; daemon pid {pid} finishes once the files "
                  "open there are closed")
            return 0
    if pid is not None:
        started = time.monotonic()
        announced = None
        while daemon_pid(state) is not None:
            waited = time.monotonic() - started
            if waited > timeout:
                raise errors.HubfsError(f"{mountpoint}: daemon pid {pid} still busy after "
                                        f"{timeout:.0f}s; see {state.get('log')}")
            if process_state(pid) in ("T", "t"):
                raise errors.HubfsError(f"{mountpoint}: unmounted, but daemon pid {pid} is "
                                        "stopped (SIGSTOP or a debugger): it finishes sending "
                                        f"what is pending once continued (kill -CONT {pid})")
            if waited > 1.0:
                waiting = pending_paths(state)
                if waiting != announced:
                    what = (f"sending {len(waiting)} pending file(s): {', '.join(waiting)}"
                            if waiting else "finishing")
                    print(f"hubfs: waiting for daemon pid {pid}: {what}", file=sys.stderr)
                    announced = waiting
            time.sleep(0.1)
    print(f"hubfs: unmounted {mountpoint}")
    return 0


def pending_entries(cache_dir):
    """The journal entries (files not yet sent) kept in *cache_dir*."""
    from hubfs.cache.spool import Spool

    if not cache_dir or not os.path.isdir(os.path.join(cache_dir, "spool")):
        return []
    return Spool(cache_dir).pending()


def broken_entries(cache_dir):
    """Journal entries set aside as unsendable in *cache_dir* (see `hubfs.cache.spool`)."""
    from hubfs.cache.spool import Spool

    if not cache_dir or not os.path.isdir(os.path.join(cache_dir, "spool")):
        return []
    return Spool(cache_dir).broken()


def pending_paths(state):
    """Paths of the journal entries a mount's daemon still has to send."""
    from hubfs.cache.spool import entry_path

    return [entry_path(e) for e in pending_entries(state.get("cache_dir"))
            if e["remote"] in state.get("remotes", [])]
