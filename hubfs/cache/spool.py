"""The write spool and its journal: written bytes stay on local disk until the service has
them.

Every file opened for writing gets a data file `<cache_dir>/spool/<id>.data` (the spool
directory is mode 0700). When a writer closes or fsyncs, a journal entry `<id>.json`
naming the remote and the path is written atomically (temp file, rename) before anything
is sent, and removed only once the service has accepted the content; when a send fails,
the data and the entry are fsynced, since that close told the app its data is kept. A
daemon that dies (even SIGKILL) therefore leaves every file it was sending, and every
file it failed to send, in the journal, and the next mount with the same cache directory
sends it (DESIGN.md semantics 3). Room is checked at every `write`: past
`max_bytes` of spooled data, or closer than `min_free` to a full disk, the write fails
with ENOSPC instead of accepting bytes that could not be kept.

An entry that cannot be sent as it stands (its data file is gone, its JSON is damaged,
or sending it hit a bug rather than a service error) is *set aside*: moved with its data
into `<cache_dir>/spool/broken/`, reported once in the log and listed by `hubfs status`,
so that one bad entry can never stop the daemon or be retried forever, and the bytes stay
with the user.

Files are recycled rather than created and unlinked: making an inode is the dearest
step of a small file's way through the spool (300 µs of kernel time on the ext4 the
benchmarks run on, against a few µs for a rename), and a `cp -r` of small files would
make two per file (its data file, its journal entry's temp file). A data file or entry
that is done with is emptied and renamed into `<cache_dir>/spool/free/` (at most
`FREE_MAX` of them), and the next data file or entry temp file is renamed out of it.
What is on disk for the journal is unchanged (`<id>.data`, `<id>.json`, written
atomically); `free/` holds nothing anyone needs. A data file is recycled under its
`flock` (the lock `claim` takes), and `claim` checks that the name still holds the file
it locked; a reader of an entry checks the same after reading. So a process that opened
a file just before it was recycled never takes what the recycled inode holds next for
what it held before.

Thread-safe; blocking (callers run it from worker threads where it may wait on disk).
"""

import contextlib
import fcntl
import itertools
import json
import logging
import os
import threading
import time
import uuid

from hubfs.errors import SpoolFull

log = logging.getLogger(__name__)

DEFAULT_MIN_FREE = 64 * 1024 * 1024
FREE_MAX = 64  # empty files kept in spool/free/ for reuse
ENTRY_FIELDS = {"id": str, "remote": str, "path": list, "mode": str, "journaled": (int, float)}


class Spool:
    def __init__(self, cache_dir, max_bytes=None, min_free=DEFAULT_MIN_FREE):
        self.dir = os.path.join(cache_dir, "spool")
        self.broken_dir = os.path.join(self.dir, "broken")
        self.free_dir = os.path.join(self.dir, "free")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        os.makedirs(self.free_dir, mode=0o700, exist_ok=True)
        self.max_bytes = max_bytes
        self.min_free = min_free
        self._lock = threading.Lock()
        self._used = sum(entry.stat().st_size for entry in os.scandir(self.dir)
                         if entry.name.endswith(".data"))
        # Names in free/ this process may take (another process sharing the directory
        # may take one first: the rename then fails and the next is tried).
        self._free = os.listdir(self.free_dir)[:FREE_MAX]
        self._free_names = itertools.count()
        self._free_prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}-"
        self._claimed = {}  # spool id -> [fd, name in free/] of this process's claim

    # -- data files --------------------------------------------------------------------

    def data_path(self, spool_id):
        return os.path.join(self.dir, f"{spool_id}.data")

    def new_file(self):
        """Create an empty data file; returns `(spool_id, path)`."""
        spool_id = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        path = self.data_path(spool_id)
        os.close(self._open_new(path))
        return spool_id, path

    # -- recycled inodes (see the module docstring) ------------------------------------

    def _open_new(self, path):
        """An fd open for writing on a new, empty file at *path*: a recycled one from
        free/ when there is one, else created (FileExistsError when *path* exists)."""
        while True:
            with self._lock:
                name = self._free.pop() if self._free else None
            if name is None:
                return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.rename(os.path.join(self.free_dir, name), path)
            except FileNotFoundError:
                continue  # another process sharing the directory took it
            fd = os.open(path, os.O_WRONLY)
            if os.fstat(fd).st_size:  # left by a process that died half-way through
                os.ftruncate(fd, 0)
            return fd

    def _to_free(self, path, fd):
        """Rename *path* (open as *fd*) into free/, emptied; returns its name there, to be
        offered (`_offer`) once nobody holds it, or None when the pool is full.

        The caller closes *fd* after this, before the file is written again: ext4 forces
        the blocks of a file written after a truncation to zero out to disk at its next
        close (its `auto_da_alloc` guard for truncate-and-rewrite); a close right after
        the truncation clears that, so a reused file costs no write to disk."""
        with self._lock:
            if len(self._free) >= FREE_MAX:
                return None
        name = self._free_prefix + str(next(self._free_names))
        if os.fstat(fd).st_size:
            os.truncate(path, 0)
        os.rename(path, os.path.join(self.free_dir, name))
        return name

    def _offer(self, name):
        with self._lock:
            self._free.append(name)

    def reserve(self, growth, where):
        """Account for *growth* more spooled bytes, or raise `SpoolFull` (ENOSPC)."""
        if growth <= 0:
            return
        with self._lock:
            if self.max_bytes is not None and self._used + growth > self.max_bytes:
                raise SpoolFull(f"{where}: the spool is full ({self._used} of "
                                f"{self.max_bytes} bytes in {self.dir})")
            stats = os.statvfs(self.dir)
            if stats.f_bavail * stats.f_frsize - growth < self.min_free:
                raise SpoolFull(f"{where}: the disk holding the spool ({self.dir}) is full")
            self._used += growth

    def release(self, size):
        """Give back *size* bytes of accounting (a data file was removed or shrunk)."""
        with self._lock:
            self._used = max(0, self._used - size)

    def discard(self, spool_id):
        """Remove a data file that was never journaled (nothing to send)."""
        self._remove(self.data_path(spool_id), spool_id)

    def _remove(self, path, spool_id=None):
        """Remove a data file: recycled into free/ under its flock (held by our own claim
        when this runs inside it), unlinked when the pool is full or another process holds
        the file."""
        claim = self._claimed.get(spool_id) if spool_id is not None else None
        try:
            fd = claim[0] if claim is not None else os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return
        name = None
        try:
            size = os.fstat(fd).st_size
            if (claim is not None or _try_lock(fd)) and os.fstat(fd).st_ino == _inode(path):
                name = self._to_free(path, fd)
            if name is None:
                os.unlink(path)
        except FileNotFoundError:
            return
        finally:
            if claim is None:
                os.close(fd)  # drops our flock
                if name is not None:
                    self._offer(name)
        if claim is not None and name is not None:
            claim[1] = name  # offered when the claim ends and its flock goes with it
        self.release(size)

    # -- journal -----------------------------------------------------------------------

    def journal(self, spool_id, remote, path, mode, durable=False):
        """Record the data as pending, before it is sent.

        Without *durable* the entry is written but not fsynced: it survives the daemon's
        death (even SIGKILL: the kernel keeps the page cache), and a `close` does not
        return success before the send completed anyway. A failed send calls `make_durable`,
        since then the app was told the data is kept, and it must outlive a power cut too.
        """
        entry = {"id": spool_id, "remote": remote, "path": list(path), "mode": mode,
                 "journaled": time.time(), "attempts": 0, "last_error": None}
        self._write_entry(entry, durable)
        return entry

    def make_durable(self, spool_id):
        """fsync a pending entry's data and journal entry (and the directory)."""
        with open(self.data_path(spool_id), "rb+") as data:
            os.fsync(data.fileno())
        entry = self.entry(spool_id)
        if entry is not None:
            self._write_entry(entry, durable=True)

    def update(self, spool_id, durable=True, **fields):
        """Change fields of a pending entry (a rename retargets it, a failure notes why,
        a commit records progress). Without *durable* the entry is replaced atomically
        but not fsynced: it survives the daemon's death, not a power cut."""
        entry = self.entry(spool_id)
        if entry is not None:
            entry.update(fields)
            self._write_entry(entry, durable=durable)
        return entry

    def done(self, spool_id, keep_data=False):
        """The service has the content (or it can never be sent): forget the entry and,
        unless *keep_data* (a writer still has the file open), its data."""
        entry_path = os.path.join(self.dir, f"{spool_id}.json")
        try:
            # Readers of entries check that the name still holds what they read
            # (`_load_entry`): the file can go to free/ at once.
            fd = os.open(entry_path, os.O_RDONLY)
            try:
                name = self._to_free(entry_path, fd)
                if name is None:
                    os.unlink(entry_path)
            finally:
                os.close(fd)
            if name is not None:
                self._offer(name)
        except FileNotFoundError:
            pass
        # No fsync: an entry that reappears after a power cut is sent again, harmlessly.
        if not keep_data:
            self._remove(self.data_path(spool_id), spool_id)

    @contextlib.contextmanager
    def claim(self, spool_id):
        """Hold the right to send *spool_id*: yields True when this process has it, False
        when another process (a mount and an fsspec user share a cache directory) is
        sending it right now. An advisory `flock` on the data file: the kernel drops it
        when the holder dies, so a crash never leaves an entry claimed."""
        path = self.data_path(spool_id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield False  # sent and removed meanwhile
            return
        claim = [fd, None]  # the fd, and the file's name in free/ once it was removed
        try:
            if not _try_lock(fd):
                yield False
            elif os.fstat(fd).st_ino != _inode(path):
                yield False  # sent and its file recycled between our open and our lock
            else:
                self._claimed[spool_id] = claim
                try:
                    yield True
                finally:
                    self._claimed.pop(spool_id, None)
        finally:
            os.close(fd)
            if claim[1] is not None:
                self._offer(claim[1])  # its flock is gone with the fd: free to reuse

    def entry(self, spool_id):
        try:
            return _load_entry(os.path.join(self.dir, f"{spool_id}.json"))
        except (FileNotFoundError, ValueError, UnicodeDecodeError):
            return None

    def pending(self):
        """Every well-formed journaled entry, oldest first. Damaged entries, and entries
        whose data file is gone, are set aside on the way (see the module docstring)."""
        entries = []
        for name in os.listdir(self.dir):
            if not name.endswith(".json"):
                continue
            spool_id = name[:-5]
            path = os.path.join(self.dir, name)
            try:
                entry = _load_entry(path)
            except FileNotFoundError:
                continue  # sent and removed while we listed
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                self.set_aside(spool_id, f"unreadable journal entry ({exc})")
                continue
            problem = _entry_problem(entry, spool_id)
            if problem is None and not os.path.exists(self.data_path(spool_id)):
                problem = "its data file is missing"
            if problem is not None:
                self.set_aside(spool_id, problem, entry if isinstance(entry, dict) else None)
                continue
            entry["size"] = _size(self.data_path(spool_id))
            entries.append(entry)
        return sorted(entries, key=lambda e: e["journaled"])

    def set_aside(self, spool_id, reason, entry=None):
        """Move an entry that cannot be sent, and its data, to `broken/` with *reason*;
        logged once, listed by `broken()`, never sent again by itself."""
        os.makedirs(self.broken_dir, mode=0o700, exist_ok=True)
        where = entry_path(entry) if entry and _entry_problem(entry, spool_id) is None else spool_id
        moved = False
        for suffix in (".json", ".data"):
            source = os.path.join(self.dir, spool_id + suffix)
            try:
                size = os.path.getsize(source) if suffix == ".data" else 0
                os.replace(source, os.path.join(self.broken_dir, spool_id + suffix))
            except FileNotFoundError:
                continue
            moved = True
            self.release(size)
        if not moved:
            return  # sent and removed meanwhile: nothing to set aside
        with open(os.path.join(self.broken_dir, spool_id + ".reason"), "w") as fh:
            json.dump({"id": spool_id, "where": where, "reason": reason, "set_aside": time.time()}, fh)
        log.error("journal entry %s (%s) set aside in %s: %s; its data is kept there, "
                  "nothing more is sent for it", spool_id, where, self.broken_dir, reason)

    def broken(self):
        """The entries set aside, as `{"id", "where", "reason", "set_aside", "data"}`."""
        if not os.path.isdir(self.broken_dir):
            return []
        found = []
        for name in sorted(os.listdir(self.broken_dir)):
            if name.endswith(".reason"):
                try:
                    with open(os.path.join(self.broken_dir, name)) as fh:
                        info = json.load(fh)
                except (OSError, ValueError):
                    info = {"id": name[:-7], "where": name[:-7], "reason": "unknown"}
                data = os.path.join(self.broken_dir, name[:-7] + ".data")
                info["data"] = data if os.path.exists(data) else None
                found.append(info)
        return found

    def pending_count(self):
        """How many entries the journal holds (names only: cheap enough every second)."""
        return sum(1 for name in os.listdir(self.dir) if name.endswith(".json"))

    def orphans(self):
        """Data files without a journal entry: written but never closed (not
        acknowledged), left by a crash. Returns their ids."""
        journaled = {name[:-5] for name in os.listdir(self.dir) if name.endswith(".json")}
        return [name[:-5] for name in os.listdir(self.dir)
                if name.endswith(".data") and name[:-5] not in journaled]

    def _write_entry(self, entry, durable):
        final = os.path.join(self.dir, f"{entry['id']}.json")
        temp = final + ".tmp"
        try:
            fd = self._open_new(temp)
        except FileExistsError:  # left by a write that died half-way
            os.unlink(temp)
            fd = self._open_new(temp)
        with os.fdopen(fd, "w") as fh:
            json.dump(entry, fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(temp, final)  # atomic: a reader sees the old entry or the new one
        if durable:
            _fsync_dir(self.dir)


def _entry_problem(entry, spool_id):
    """Why *entry* is not a journal entry this code can send, or None."""
    if not isinstance(entry, dict):
        return "the journal entry is not a JSON object"
    for field, kind in ENTRY_FIELDS.items():
        if not isinstance(entry.get(field), kind):
            return f"the journal entry has no valid {field!r}"
    if entry["id"] != spool_id:
        return "the journal entry names another spool file"
    if not all(isinstance(name, str) and name for name in entry["path"]) or not entry["path"]:
        return "the journal entry's path is not a list of names"
    if entry["mode"] not in ("replace", "append"):
        return f"unknown write mode {entry['mode']!r}"
    return None


def shown_path(remote, names):
    """How a journal entry's place is shown to users: the path under the mountpoint
    when every remote is mounted (`/remote/a/b`)."""
    return "/" + "/".join([remote, *names])


def entry_path(entry):
    return shown_path(entry["remote"], entry["path"])


def _load_entry(path):
    """The JSON of the entry at *path*; FileNotFoundError when it is gone, or went to
    free/ (and maybe on to hold something else) while it was read."""
    with open(path, "rb") as fh:
        raw = fh.read()
        if os.fstat(fh.fileno()).st_ino != _inode(path):
            raise FileNotFoundError(path)
    return json.loads(raw)


def _try_lock(fd):
    """Take the exclusive flock of *fd* if nobody holds it; True when taken."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _inode(path):
    """The inode number *path* names now (None when it names nothing)."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0
