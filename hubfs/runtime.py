"""Runtime files: the per-user runtime directory, mount state files, and who a pid is.

The runtime directory (`$XDG_RUNTIME_DIR/hubfs-<uid>`, else `/tmp/hubfs-<uid>`) may sit
in a directory other users can write to, so nothing in it is trusted by name alone: the
directory is created 0700 and refused unless it is a real directory (not a symlink)
owned by this user with no access for others; files are written through a temp file
opened with `O_CREAT | O_EXCL | O_NOFOLLOW` and renamed into place (a rename replaces a
planted symlink instead of writing through it), and read with `O_NOFOLLOW`. A state file
names the daemon of a mount by pid *and* by the kernel's start time of that process, so
a pid that was reused, or a state file forged to name another process, never makes
`hubfs umount` signal anything: `daemon_pid()` answers only for a live process of this
user that started when the daemon did and runs hubfs.

Mountpoints are named with `canonical_mountpoint()`, which resolves the parent directory
but never touches the mountpoint itself: a `stat` of a FUSE mount whose daemon is dead,
hung, or is the caller itself, blocks (the daemon deadlocked on its own mount that way).
"""

import hashlib
import json
import os
import stat

from hubfs import errors


def runtime_dir():
    """The checked runtime directory (created when missing)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = os.path.join(base, f"hubfs-{os.getuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    check_private_dir(path)
    return path


def check_private_dir(path):
    """Raise `ConfigError` unless *path* is a directory (not a link) owned by this user
    that nobody else can read or write."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise errors.ConfigError(f"runtime directory {path} is a symbolic link; refusing it "
                                 "(remove it, or set XDG_RUNTIME_DIR to a private directory)")
    if not stat.S_ISDIR(info.st_mode):
        raise errors.ConfigError(f"runtime directory {path} is not a directory; refusing it")
    if info.st_uid != os.getuid():
        raise errors.ConfigError(f"runtime directory {path} belongs to uid {info.st_uid}, "
                                 f"not to you (uid {os.getuid()}); refusing it (remove it, or "
                                 "set XDG_RUNTIME_DIR to a private directory)")
    if info.st_mode & 0o077:
        raise errors.ConfigError(f"runtime directory {path} is accessible to others "
                                 f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 700 {path}")


def write_private(path, text):
    """Write *text* to *path* (mode 0600) without following any link planted there."""
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.unlink(temp)  # a leftover of ours, or something planted: never written through
    except FileNotFoundError:
        pass
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def read_private(path):
    """The text of *path*, or None when missing, a link, or not ours."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd) as fh:
        if os.fstat(fh.fileno()).st_uid != os.getuid():
            return None
        return fh.read()


def canonical_mountpoint(mountpoint):
    """An absolute name for *mountpoint* with its parent resolved, without touching the
    mountpoint itself (see the module docstring)."""
    absolute = os.path.abspath(mountpoint)
    parent, name = os.path.split(absolute)
    return os.path.join(os.path.realpath(parent), name) if name else absolute


def state_path(mountpoint):
    digest = hashlib.sha1(canonical_mountpoint(mountpoint).encode()).hexdigest()[:16]
    return os.path.join(runtime_dir(), f"mount-{digest}.json")


def write_state(mountpoint, state):
    state = dict(state, started=process_start(os.getpid()))
    write_private(state_path(mountpoint), json.dumps(state))


def read_state(mountpoint):
    return _parse_state(read_private(state_path(mountpoint)))


def _parse_state(text):
    try:
        state = json.loads(text) if text else None
    except ValueError:
        return None
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int):
        return None
    return state


def all_states():
    """Every parseable state file in the runtime directory (live or not)."""
    directory = runtime_dir()
    states = []
    for name in sorted(os.listdir(directory)):
        if name.startswith("mount-") and name.endswith(".json"):
            state = _parse_state(read_private(os.path.join(directory, name)))
            if state is not None:
                states.append(state)
    return states


def process_state(pid):
    """The one-letter state of *pid* (R, S, D, T, Z ...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def process_start(pid):
    """The kernel's start time of *pid* (clock ticks since boot), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie has finished
        return None
    return int(fields[19])  # field 22 of stat(5); fields[0] is field 3


def daemon_pid(state):
    """The pid of the live daemon *state* describes, or None when no process matches it
    (gone, reused by another process, another user's, or not hubfs)."""
    if not state:
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or pid <= 1 or pid == os.getpid():
        return None
    started = process_start(pid)
    if started is None or started != state.get("started"):
        return None
    try:
        if os.stat(f"/proc/{pid}").st_uid != os.getuid():
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return None
    if not any(b"hubfs" in arg for arg in argv):
        return None
    return pid
