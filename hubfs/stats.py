"""Live counters of what hubfs does, per remote, and the long operations in flight.

One process-wide `STATS` holds, per remote name, plain integer counters (requests,
retries, bytes fetched and sent, cache hits and misses) and errors counted by class, plus
the activities running now (a render or an upload, with bytes done and, where the
service says how many, records done of records expected). Updates are one call under
one lock (a dict add), cheap enough for every request and every rendered page; nothing
here knows HTTP, FUSE or a backend. A `Publisher` thread, started by the mount daemon,
writes `snapshot()` every second as a JSON file of mode 0600 in the runtime directory
(`hubfs status` reads it; it holds names, paths and numbers, never credentials; written
with `hubfs.runtime.write_private`, so never through a planted link) and logs
the progress of every activity older than a few seconds at INFO at a steady pace.
"""

import contextlib
import itertools
import json
import logging
import os
import threading
import time

from hubfs import runtime

log = logging.getLogger("hubfs.progress")

COUNTERS = ("requests", "retries", "waits", "errors", "bytes_fetched", "bytes_sent",
            "cache_hits", "cache_misses")
PROGRESS_AFTER = 5.0  # seconds before an activity's progress is logged at all
PROGRESS_EVERY = 5.0  # seconds between two progress lines of one activity


class Activity:
    """One render or upload in flight; `update()` is called by whoever makes progress."""

    def __init__(self, number, kind, remote, path, expected=None, clock=time.monotonic):
        self.number = number
        self.kind = kind
        self.remote = remote
        self.path = path
        self.records_expected = expected
        self.records_done = 0
        self.bytes_done = 0
        self.started = clock()
        self.logged = self.started

    def update(self, records=None, expected=None, nbytes=0):
        """Note progress: *records* done so far (absolute), *expected* when it becomes
        known, *nbytes* more bytes done."""
        if records is not None:
            self.records_done = records
        if expected is not None:
            self.records_expected = expected
        self.bytes_done += nbytes

    def describe(self):
        done = f"{self.records_done:,}"
        if self.records_expected:
            pct = 100.0 * self.records_done / self.records_expected
            done += f" of {self.records_expected:,} records ({pct:.0f}%)"
        elif self.records_done:
            done += " records"
        else:
            done = ""
        size = f"{self.bytes_done / 1048576:.1f} MiB"
        return f"{self.kind} {self.path}: " + (f"{done}, {size}" if done else size)

    def as_dict(self, now):
        return {"kind": self.kind, "remote": self.remote, "path": self.path,
                "seconds": round(now - self.started, 1), "records_done": self.records_done,
                "records_expected": self.records_expected, "bytes_done": self.bytes_done}


class Stats:
    """Counters per remote and the activities in flight; thread-safe."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._remotes = {}  # name -> {counter: int, "errors_by_class": {name: int}}
        self._activities = {}  # number -> Activity
        self._numbers = itertools.count(1)
        self._local = threading.local()

    def _remote(self, remote):
        entry = self._remotes.get(remote)
        if entry is None:
            entry = self._remotes[remote] = dict.fromkeys(COUNTERS, 0)
            entry["errors_by_class"] = {}
        return entry

    def count(self, remote, counter, n=1):
        """Add *n* to *counter* (one of `COUNTERS`) of *remote*."""
        if n:
            with self._lock:
                entry = self._remote(remote)
                entry[counter] = entry.get(counter, 0) + n

    def error(self, remote, exc):
        """Count a failure of *remote* under the class of *exc* (an exception or a name)."""
        name = exc if isinstance(exc, str) else type(exc).__name__
        with self._lock:
            entry = self._remote(remote)
            entry["errors"] += 1
            entry["errors_by_class"][name] = entry["errors_by_class"].get(name, 0) + 1

    @contextlib.contextmanager
    def activity(self, kind, remote, path, expected=None):
        """Track a render or upload for the duration of the block. It is this thread's
        current activity, so code deep below (a backend's render) can `report()` to it."""
        activity = Activity(next(self._numbers), kind, remote, path, expected, self._clock)
        with self._lock:
            self._activities[activity.number] = activity
        outer = getattr(self._local, "current", None)
        self._local.current = activity
        try:
            yield activity
        finally:
            self._local.current = outer
            with self._lock:
                self._activities.pop(activity.number, None)
            elapsed = self._clock() - activity.started
            if elapsed >= PROGRESS_AFTER:
                log.info("%s done in %.1fs", activity.describe(), elapsed)

    def report(self, records=None, expected=None, nbytes=0):
        """Progress of this thread's current activity (no-op outside of one)."""
        activity = getattr(self._local, "current", None)
        if activity is not None:
            activity.update(records, expected, nbytes)

    def report_cache(self, hit):
        """A disk cache lookup of this thread's current activity: a hit or a miss."""
        activity = getattr(self._local, "current", None)
        if activity is not None:
            self.count(activity.remote, "cache_hits" if hit else "cache_misses")

    def snapshot(self):
        """A JSON-able copy: {"remotes": {...}, "activities": [...]}."""
        now = self._clock()
        with self._lock:
            remotes = {name: {**entry, "errors_by_class": dict(entry["errors_by_class"])}
                       for name, entry in self._remotes.items()}
            activities = [a.as_dict(now) for a in self._activities.values()]
        return {"remotes": remotes, "activities": activities}

    def log_progress(self):
        """One INFO line per activity running longer than `PROGRESS_AFTER`, at most every
        `PROGRESS_EVERY` seconds each."""
        now = self._clock()
        with self._lock:
            due = [a for a in self._activities.values()
                   if now - a.started >= PROGRESS_AFTER and now - a.logged >= PROGRESS_EVERY]
            for activity in due:
                activity.logged = now
        for activity in due:
            log.info("%s (%.0fs so far)", activity.describe(), now - activity.started)

    def reset(self):
        with self._lock:
            self._remotes.clear()


STATS = Stats()
count = STATS.count
error = STATS.error
activity = STATS.activity
report = STATS.report
report_cache = STATS.report_cache


class Publisher:
    """Writes `STATS.snapshot()` (plus *extra()*, e.g. uploads pending) to *path* every
    *interval* seconds and logs progress; a daemon thread, stopped by `stop()`."""

    def __init__(self, path, extra=None, interval=1.0, stats=STATS):
        self.path = path
        self.extra = extra
        self.interval = interval
        self.stats = stats
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hubfs-stats", daemon=True)

    def start(self):
        self.publish()
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.publish()
                self.stats.log_progress()
            except Exception:  # a full disk must not end the mount; the next tick retries
                log.debug("publishing stats failed", exc_info=True)

    def publish(self):
        document = self.stats.snapshot()
        if self.extra is not None:
            document.update(self.extra())
        document["updated"] = time.time()
        runtime.write_private(self.path, json.dumps(document))

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def read(path):
    """The document a `Publisher` wrote at *path*, or None (missing, not ours, broken)."""
    text = runtime.read_private(path) if path else None
    try:
        document = json.loads(text) if text else None
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
