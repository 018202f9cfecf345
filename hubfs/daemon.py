"""The mount daemon's life: start (foreground or forked), readiness, state file, umount.

A background `hubfs mount` forks; the child detaches, opens the remotes, checks their
credentials, mounts, and only then tells the waiting parent "ready" through a pipe (or
sends the error text, which the parent prints). A state file per mountpoint under the
runtime directory records the daemon's pid and log file, so `hubfs umount` can unmount
and then wait until the daemon has finished its work and exited.
"""

import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from hubfs import errors

log = logging.getLogger(__name__)


def runtime_dir():
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = os.path.join(base, f"hubfs-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def state_path(mountpoint):
    digest = hashlib.sha1(os.path.realpath(mountpoint).encode()).hexdigest()[:16]
    return os.path.join(runtime_dir(), f"mount-{digest}.json")


def read_state(mountpoint):
    try:
        with open(state_path(mountpoint)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def default_log_file(config, mountpoint):
    logs = os.path.join(config.cache_dir, "logs")
    os.makedirs(logs, mode=0o700, exist_ok=True)
    slug = os.path.realpath(mountpoint).strip("/").replace("/", "_") or "root"
    return os.path.join(logs, f"{slug}.log")


def check_mountpoint(mountpoint):
    from hubfs.fuse.mount import is_mounted

    if not os.path.isdir(mountpoint):
        raise errors.ConfigError(f"mountpoint {mountpoint}: not a directory")
    if is_mounted(mountpoint):
        raise errors.ConfigError(f"mountpoint {mountpoint}: something is already mounted there")


def mount(config, mountpoint, foreground=False, read_only=False, only=None, log_file=None,
          debug=False, allow_other=False):
    """Mount and return an exit status; raises `HubfsError` on a failure before forking.
    *allow_other* lets every local user into the mount (off by default)."""
    from hubfs import sdnotify
    from hubfs.cli import setup_logging

    check_mountpoint(mountpoint)
    mountpoint = os.path.abspath(mountpoint)
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
        with open(state_file, "w") as fh:
            json.dump({"pid": os.getpid(), "mountpoint": mountpoint, "log": log_file,
                       "cache_dir": config.cache_dir, "remotes": sorted(remotes)}, fh)
        try:
            log.info("mounting %s at %s (cache %s%s)", ", ".join(sorted(remotes)), mountpoint,
                     config.cache_dir, ", read-only" if read_only else "")
            serve(root, mountpoint, cache, spool, remotes, read_only=read_only,
                  remote_name=only, on_ready=on_ready, allow_other=allow_other)
        finally:
            try:
                os.unlink(state_file)
            except FileNotFoundError:
                pass
    finally:
        for remote in remotes.values():
            remote.close()


def live_mounts():
    """State of every running hubfs mount of this user."""
    states = []
    for name in os.listdir(runtime_dir()):
        if name.startswith("mount-") and name.endswith(".json"):
            try:
                with open(os.path.join(runtime_dir(), name)) as fh:
                    state = json.load(fh)
            except (OSError, ValueError):
                continue
            if _alive(state.get("pid", 0)):
                states.append(state)
    return states


def clean_orphans(spool, cache_dir):
    """Remove spool files that were written but never closed by a daemon that died:
    nothing acknowledged them. Only when no live mount shares this cache directory."""
    if any(os.path.realpath(s.get("cache_dir", "")) == os.path.realpath(cache_dir)
           for s in live_mounts()):
        return
    for spool_id in spool.orphans():
        log.info("removing unclosed spool file %s left by an earlier daemon", spool_id)
        spool.discard(spool_id)


def umount(mountpoint, timeout=120.0):
    """Unmount *mountpoint* and wait for its daemon to exit; returns an exit status."""
    from hubfs.fuse.mount import is_mounted

    mountpoint = os.path.abspath(mountpoint)
    state = read_state(mountpoint)
    if not is_mounted(mountpoint):
        if state and _alive(state["pid"]):
            os.kill(state["pid"], signal.SIGTERM)
        else:
            raise errors.HubfsError(f"{mountpoint}: not mounted")
    else:
        tool = shutil.which("fusermount3") or shutil.which("fusermount")
        command = [tool, "-u", mountpoint] if tool else ["umount", mountpoint]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise errors.HubfsError(f"{mountpoint}: unmount failed: {result.stderr.strip()}")
    if state:
        started = time.monotonic()
        announced = None
        while _alive(state["pid"]):
            waited = time.monotonic() - started
            if waited > timeout:
                raise errors.HubfsError(f"{mountpoint}: daemon pid {state['pid']} still busy after "
                                        f"{timeout:.0f}s; see {state.get('log')}")
            if waited > 1.0:
                waiting = pending_paths(state)
                if waiting != announced:
                    what = (f"sending {len(waiting)} pending file(s): {', '.join(waiting)}"
                            if waiting else "finishing")
                    print(f"hubfs: waiting for daemon pid {state['pid']}: {what}", file=sys.stderr)
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


def pending_paths(state):
    """Paths of the journal entries a mount's daemon still has to send."""
    from hubfs.cache.spool import entry_path

    return [entry_path(e) for e in pending_entries(state.get("cache_dir"))
            if e["remote"] in state.get("remotes", [])]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
