"""Records of many small finished jobs read in one request while a walk goes through them.

`du`, `rsync` or `find -size` over a project render six files per job, and most jobs are
small: one request per file is most of a walk's time. The storage API serves a spider's
records across its jobs in key order (`GET items/P/S?start=P/S/J/0&meta=_key`), so once a
walk shows itself (two jobs of one spider rendered within `WALK_WINDOW` seconds), the
render of one job's stream reads one page of `BATCH` records from the start of its block
of `BLOCK` job numbers and keeps what it saw of the neighbours for their own renders;
only once a job of the stream read alone has shown them small (a page would not reach
past a big one, and renders of big jobs started together, four `cat`s at once, would
each read a page for nothing). The
next block in the walk's direction is read meanwhile in a thread of its own, so that
the walk does not stop at each block's first job. Records are cut into jobs by their
`_key` (which the service appends last) and
kept as the service's bytes without it, so a file made from a batch is byte-identical to
one read alone. Only jobs the listing showed as finished are kept (a running job's
records would be a short snapshot), only jobs seen whole (a later job's record follows,
or the page ended the stream), and jobs between two seen ones are empty. A stream whose
records carry no splittable keys (samples are arrays) is never batched again. The kept
records live in one LRU bounded in bytes.
"""

import logging
import threading
import time

import cachetools

from .client import Unsplittable

log = logging.getLogger(__name__)

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
        self._steps = cachetools.LRUCache(STREAMS)  # (kind, P, S) -> -1 or 1: the walk's way
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
                ahead = self._claim_next(stream, block)
            else:
                last = self._streams.get(stream)
                walking = (last is not None and last[0] != job and now - last[1] < WALK_WINDOW
                           and self._sizes.get(stream, SMALL) < SMALL)
                self._streams[stream] = (job, now)
                if not walking or kind in self._unsplittable or block in self._fetched:
                    return None
                self._steps[stream] = -1 if job < last[0] else 1
                event = self._inflight.get(block)
                owner = event is None
                if owner:
                    event = self._inflight[block] = threading.Event()
                ahead = self._claim_next(stream, block)
        if ahead is not None:
            threading.Thread(target=self._fetch_block, args=(ahead, ahead[3] * BLOCK, True),
                             name="batch ahead", daemon=True).start()
        if hit is not None:
            return hit
        if owner:
            self._fetch_block(block, job)
        else:
            event.wait(self.client.http.policy.timeout[1])
        with self._lock:
            return self._kept.get(key)

    def _claim_next(self, stream, block):
        """The block after *block* in the walk's direction, marked in flight, when the
        walk will need it and nobody reads it yet; else None. Called with the lock held.

        A batch costs the service a page of 1,000 records, several milliseconds: read
        one block ahead of the walk, the next block's records are there (or on the way)
        when the walk reaches its first job, instead of every render of that job's
        neighbours waiting for them."""
        step = self._steps.get(stream)
        following = block[:3] + (block[3] + step,) if step else None
        if (following is None or following[3] < 0 or stream[0] in self._unsplittable
                or following in self._fetched or following in self._inflight):
            return None
        self._inflight[following] = threading.Event()
        return following

    def _fetch_block(self, block, job, ahead=False):
        """Read *block* (claimed in flight by this thread) for the render of *job*, or
        *ahead* of the walk, where a failure only means its jobs are read alone."""
        try:
            self._fetch(*block[:3], block[3] * BLOCK, job)
        except Exception as exc:
            if not ahead:
                raise
            log.debug("%s of %s/%s, jobs %d-%d, read ahead of a walk: %s: %s", block[0],
                      block[1], block[2], block[3] * BLOCK, block[3] * BLOCK + BLOCK - 1,
                      type(exc).__name__, exc)
        finally:
            with self._lock:
                self._fetched[block] = True
                event = self._inflight.pop(block)
            event.set()

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
