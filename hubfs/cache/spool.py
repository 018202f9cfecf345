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

Thread-safe; blocking (callers run it from worker threads where it may wait on disk).
"""

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
import uuid

from hubfs.errors import SpoolFull

log = logging.getLogger(__name__)

DEFAULT_MIN_FREE = 64 * 1024 * 1024
ENTRY_FIELDS = {"id": str, "remote": str, "path": list, "mode": str, "journaled": (int, float)}


class Spool:
    def __init__(self, cache_dir, max_bytes=None, min_free=DEFAULT_MIN_FREE):
        self.dir = os.path.join(cache_dir, "spool")
        self.broken_dir = os.path.join(self.dir, "broken")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        os.chmod(self.dir, 0o700)
        self.max_bytes = max_bytes
        self.min_free = min_free
        self._lock = threading.Lock()
        self._used = sum(entry.stat().st_size for entry in os.scandir(self.dir)
                         if entry.name.endswith(".data"))

    # -- data files --------------------------------------------------------------------

    def data_path(self, spool_id):
        return os.path.join(self.dir, f"{spool_id}.data")

    def new_file(self):
        """Create an empty data file; returns `(spool_id, path)`."""
        spool_id = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        path = self.data_path(spool_id)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return spool_id, path

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
        self._remove(self.data_path(spool_id))

    def _remove(self, path):
        try:
            size = os.path.getsize(path)
            os.unlink(path)
        except FileNotFoundError:
            return
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
        try:
            os.unlink(os.path.join(self.dir, f"{spool_id}.json"))
        except FileNotFoundError:
            pass
        # No fsync: an entry that reappears after a power cut is sent again, harmlessly.
        if not keep_data:
            self._remove(self.data_path(spool_id))

    @contextlib.contextmanager
    def claim(self, spool_id):
        """Hold the right to send *spool_id*: yields True when this process has it, False
        when another process (a mount and an fsspec user share a cache directory) is
        sending it right now. An advisory `flock` on the data file: the kernel drops it
        when the holder dies, so a crash never leaves an entry claimed."""
        try:
            fd = os.open(self.data_path(spool_id), os.O_RDONLY)
        except FileNotFoundError:
            yield False  # sent and removed meanwhile
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def entry(self, spool_id):
        try:
            with open(os.path.join(self.dir, f"{spool_id}.json")) as fh:
                return json.load(fh)
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
                with open(path) as fh:
                    entry = json.load(fh)
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
        with open(temp, "w") as fh:
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
