"""Records of many small finished jobs read in one request while a walk goes through them.

`du`, `rsync` or `find -size` over a project render six files per job, and most jobs are
small: one request per file is most of a walk's time. The storage API serves a spider's
records across its jobs in key order (`GET items/P/S?start=P/S/J/0&meta=_key`), so once a
walk shows itself (two jobs of one spider rendered within `WALK_WINDOW` seconds), the
render of one job's stream reads one page of `BATCH` records from the start of its block
of `BLOCK` job numbers and keeps what it saw of the neighbours for their own renders;
only while the jobs read alone are small (a page would not reach past a big one). Records are cut into jobs by their `_key` (which the service appends last) and
kept as the service's bytes without it, so a file made from a batch is byte-identical to
one read alone. Only jobs the listing showed as finished are kept (a running job's
records would be a short snapshot), only jobs seen whole (a later job's record follows,
or the page ended the stream), and jobs between two seen ones are empty. A stream whose
records carry no splittable keys (samples are arrays) is never batched again. The kept
records live in one LRU bounded in bytes.
"""

import threading
import time

import cachetools

from .client import Unsplittable

WALK_WINDOW = 2.0       # seconds between two jobs' renders of one stream that make a walk
SMALL = 100             # records of the previous job below which a batch is worth reading
BATCH = 1000            # records per batch: the page size the service is known to honour
BLOCK = 25              # a batch starts at a multiple of this job number
KEEP_BYTES = 64 * 1024 * 1024
KNOWN_FINISHED = 200_000  # finished job keys remembered from listings
STREAMS = 1024          # streams whose last render time is remembered
FETCHED = 4096          # blocks remembered as read (a job they missed is read alone)


class JobBatches:
    def __init__(self, client):
        self.client = client
        self._kept = cachetools.LRUCache(KEEP_BYTES, getsizeof=lambda value: len(value[0]) + 64)
        self._finished = cachetools.LRUCache(KNOWN_FINISHED)
        self._streams = cachetools.LRUCache(STREAMS)  # (kind, P, S) -> (last job, time)
        self._sizes = cachetools.LRUCache(STREAMS)  # (kind, P, S) -> records of the last job
        self._fetched = cachetools.LRUCache(FETCHED)  # (kind, P, S, block) -> True
        self._inflight = {}  # (kind, P, S, block) -> threading.Event
        self._unsplittable = set()
        self._lock = threading.Lock()

    def finished(self, project, spider_id, job):
        """The listing showed job P/S/J finished (or deleted): its records are final."""
        with self._lock:
            self._finished[(project, spider_id, job)] = True

    def rendered(self, kind, project, spider_id, count):
        """A job of the stream was read alone and had *count* records: batches are for
        streams of small jobs (a page of 1,000 records would not reach past a big one)."""
        with self._lock:
            self._sizes[(kind, project, spider_id)] = count

    def records(self, kind, project, spider_id, job):
        """`(bytes, count)` of job P/S/J's *kind* stream from a batch, or None when this
        render should read the job alone (no walk under way, or nothing batchable).

        Batches are aligned on blocks of `BLOCK` job numbers, so renders of jobs of one
        block (whatever order a walk takes) wait for one request, and different blocks
        are read in parallel."""
        key = (kind, project, spider_id, job)
        stream = (kind, project, spider_id)
        block = (kind, project, spider_id, job // BLOCK)
        now = time.monotonic()
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None:
                return hit
            last = self._streams.get(stream)
            walking = (last is not None and last[0] != job and now - last[1] < WALK_WINDOW
                       and self._sizes.get(stream, 0) < SMALL)
            self._streams[stream] = (job, now)
            if not walking or kind in self._unsplittable or block in self._fetched:
                return None
            event = self._inflight.get(block)
            owner = event is None
            if owner:
                event = self._inflight[block] = threading.Event()
        if owner:
            try:
                self._fetch(kind, project, spider_id, block[3] * BLOCK, job)
            finally:
                with self._lock:
                    self._fetched[block] = True
                    del self._inflight[block]
                event.set()
        else:
            event.wait(self.client.http.policy.timeout[1])
        with self._lock:
            return self._kept.get(key)

    def _fetch(self, kind, project, spider_id, first, job):
        try:
            jobs, short = self.client.get_spider_lines(kind, project, spider_id, first, BATCH)
        except Unsplittable:
            with self._lock:
                self._unsplittable.add(kind)
            return
        seen = list(jobs)
        # Whole: every job seen but the last, which may go on past the page unless the
        # page ended the stream; jobs in between that were not seen have no records.
        whole_until = (seen[-1] + 1) if (short and seen) else (seen[-1] if seen else first)
        if short:
            whole_until = max(whole_until, first + BLOCK, job + 1)
        empty = (b"", 0)
        with self._lock:
            for number in range(first, whole_until):
                if (project, spider_id, number) in self._finished:
                    self._kept[(kind, project, spider_id, number)] = jobs.get(number, empty)
