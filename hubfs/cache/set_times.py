"""Modification times set with `utimensat`, kept across mounts while the file is unchanged.

Object stores cannot store a time a user sets: an S3 object's LastModified is the time of
its upload. So `rsync -a` into a bucket sets its times on the mount, and a second
`rsync -a` after a remount would see every file with a new time and send it all again
(the nightly-backup case). rclone and s3fs keep the time in object metadata and pay a
HEAD per object in every listing for it; hubfs keeps it here instead, in
`<cache_dir>/set-times.jl`, for the files this cache directory's mounts set, and shows it
only while the file is the one it was set on:

- at `utimensat`, the record holds the time and the file's size;
- the first time a later mount sees the file (from the service's listing), the record
  is bound to what the service reports of that version: its mtime and version token
  (ETag);
- from then on the time is shown only while size, service mtime and version match; a
  file changed by anyone else, renamed or removed loses its record.

A file rewritten through this mount loses its record at once (a new write gives it the
service's time again, as without hubfs). Between the upload and the first later mount the
record is trusted on size alone: a same-size overwrite by another client in that window
would keep the set time (documented in docs/semantics.md). The file is a journal of JSON
lines (one `os.write` of an `O_APPEND` descriptor each, so two processes sharing a cache
directory do not interleave lines), compacted when it is loaded; losing it costs only a
re-send. Blocking and thread-safe; nothing here knows FUSE.
"""

import json
import logging
import os
import secrets
import threading
from collections import OrderedDict

log = logging.getLogger(__name__)

FILE_NAME = "set-times.jl"
MAX_ENTRIES = 200_000  # about 40 MiB of memory at most; the oldest records go first


class SetTimes:
    def __init__(self, cache_dir=None, max_entries=MAX_ENTRIES):
        """*cache_dir* None keeps the records in memory only (for one mount's life)."""
        self.max_entries = max_entries
        self.mount_id = secrets.token_hex(8)  # records made by this mount are not bound yet
        self._lock = threading.Lock()
        self._records = OrderedDict()  # (remote, names tuple) -> record dict
        self._last_names = {}  # last name -> count of records ending in it (a cheap pre-check)
        self._fd = None
        self._path = os.path.join(cache_dir, FILE_NAME) if cache_dir else None
        if self._path:
            self._load()
            self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # -- what the FUSE layer asks ---------------------------------------------------------

    def may_hold(self, name):
        """False when no record ends in *name*: the common case answers without a path."""
        return name in self._last_names

    def set(self, place, mtime_ns, size):
        """Record that *place* `(remote, names)` was given *mtime_ns* while *size* bytes long."""
        self._put(_key(place), {"t": int(mtime_ns), "s": size, "by": self.mount_id})

    def move(self, old_place, new_place):
        with self._lock:
            record = self._records.get(_key(old_place))
        self.drop(old_place)
        if record is not None and record.get("by") == self.mount_id:
            self._put(_key(new_place), dict(record))
        else:
            self.drop(new_place)  # a renamed file is a new object on the service

    def drop(self, place):
        key = _key(place)
        with self._lock:
            if key not in self._records:
                return
            self._forget(key)
        self._append({"k": list(key), "drop": True})

    def shown(self, place, node, size):
        """The time to show for *node* at *place* with *size* bytes, or None."""
        key = _key(place)
        with self._lock:
            record = self._records.get(key)
        if record is None:
            return None
        if record["s"] != size:
            self.drop(place)
            return None
        service = (node.mtime, node.version)
        if "m" in record:
            if (record["m"], record.get("v")) == service:
                return record["t"]
            self.drop(place)  # the file changed on the service since the time was set
            return None
        if record["by"] != self.mount_id:
            # The first sight of the file after the mount that set its time: bind it.
            bound = dict(record, m=service[0], v=service[1], by=None)
            self._put(key, bound)
        return record["t"]

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # -- the journal ----------------------------------------------------------------------

    def _put(self, key, record):
        with self._lock:
            if key in self._records:
                self._forget(key)
            self._remember(key, record)
            while len(self._records) > self.max_entries:
                self._forget(next(iter(self._records)))
        self._append(dict(record, k=list(key)))

    def _remember(self, key, record):
        self._records[key] = record
        self._last_names[key[-1]] = self._last_names.get(key[-1], 0) + 1

    def _forget(self, key):
        del self._records[key]
        left = self._last_names[key[-1]] - 1
        if left:
            self._last_names[key[-1]] = left
        else:
            del self._last_names[key[-1]]

    def _append(self, entry):
        if self._fd is None:
            return
        try:
            os.write(self._fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())
        except OSError as exc:  # a full disk costs a re-send later, not the utimensat
            log.warning("could not record a set time in %s: %s", self._path, exc)

    def _load(self):
        lines = 0
        try:
            with open(self._path, encoding="utf-8") as journal:
                for line in journal:
                    lines += 1
                    try:
                        entry = json.loads(line)
                        key = tuple(entry.pop("k"))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line cut by a crash
                    if key in self._records:
                        self._forget(key)
                    if not entry.get("drop"):
                        self._remember(key, entry)
        except FileNotFoundError:
            return
        while len(self._records) > self.max_entries:
            self._forget(next(iter(self._records)))
        if lines > 2 * len(self._records) + 1000:
            self._compact()

    def _compact(self):
        temporary = self._path + ".new"
        with open(temporary, "w", encoding="utf-8") as out:
            os.chmod(temporary, 0o600)
            for key, record in self._records.items():
                out.write(json.dumps(dict(record, k=list(key)), separators=(",", ":")) + "\n")
        os.replace(temporary, self._path)


def _key(place):
    remote, names = place
    return (remote, *names)
