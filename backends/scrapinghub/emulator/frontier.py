"""Frontier (HCF) state of the Scrapinghub emulator: frontiers, slots, request batches, no HTTP.

A project has named frontiers, each split into named slots. A slot keeps the set of every
fingerprint it has seen (with optional `fdata`) and a queue of request batches. Adding
requests ignores fingerprints already seen (also duplicates inside one write) and reports
how many were new. How batches form is the emulator's choice, since the service does not
document it: the new requests of one write are grouped by priority `p` (default 0) and cut
into batches of at most 100 in arrival order; a batch never changes afterwards and keeps its
id until deleted, so a reader can delete exactly what it consumed. The queue is served
lowest priority first (as the service's docs say), then oldest batch first, so with one
priority it is plain insertion order. Batch ids are hex like the service's:
2 digits of priority, 12 of the write time in ms, then a per-slot sequence (4 digits or
more). Deleting a batch keeps its fingerprints (they stay "seen"); deleting the slot drops
everything, and a frontier with no slot left no longer exists.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

BATCH_SIZE = 100


class InvalidRequest(ValueError):
    """A written request that is not an object with a string `fp` and an integer `p`."""


@dataclass
class Batch:
    id: str
    priority: int
    seq: int
    requests: list  # [[fp, qdata], ...]


class Slot:
    def __init__(self) -> None:
        self.fingerprints: dict[str, Any] = {}  # fp -> fdata (None when not given)
        self.batches: dict[str, Batch] = {}
        self.seq = 0

    def queue(self) -> list[Batch]:
        return sorted(self.batches.values(), key=lambda b: (b.priority, b.seq))

    def add(self, requests: list[dict], now: int) -> int:
        by_priority: dict[int, list] = {}
        for request in requests:
            fp = request["fp"]
            if fp in self.fingerprints:
                continue
            self.fingerprints[fp] = request.get("fdata")
            by_priority.setdefault(request.get("p") or 0, []).append([fp, request.get("qdata")])
        added = 0
        for priority, pending in by_priority.items():
            for lo in range(0, len(pending), BATCH_SIZE):
                self.seq += 1
                batch_id = f"{min(max(priority, 0), 255):02x}{now:012x}{self.seq:04x}"
                self.batches[batch_id] = Batch(batch_id, priority, self.seq, pending[lo:lo + BATCH_SIZE])
            added += len(pending)
        return added


def check_requests(requests: Iterable[Any]) -> list[dict]:
    """The written requests, validated as a whole; raises InvalidRequest for the first bad
    one so the caller stores nothing of the write."""
    out = []
    for request in requests:
        if not isinstance(request, dict):
            raise InvalidRequest("Error parsing data, expected a JSON object")
        if not isinstance(request.get("fp"), str):
            raise InvalidRequest("Error parsing data, missing value for fp field")
        p = request.get("p")
        if p is not None and (isinstance(p, bool) or not isinstance(p, int)):
            raise InvalidRequest("Error parsing data, p must be an integer")
        out.append(request)
    return out


class ProjectFrontiers:
    """Every frontier of one project. *lock* guards all of them (the state's lock);
    *clock()* gives the time in ms used in new batch ids."""

    def __init__(self, lock: Optional[threading.RLock] = None,
                 clock: Optional[Callable[[], int]] = None):
        self.lock = lock or threading.RLock()
        self.clock = clock or (lambda: 0)
        self.frontiers: dict[str, dict[str, Slot]] = {}

    def names(self) -> list[str]:
        with self.lock:
            return sorted(name for name, slots in self.frontiers.items() if slots)

    def slot_names(self, frontier: str) -> list[str]:
        with self.lock:
            return sorted(self.frontiers.get(frontier) or ())

    def slot(self, frontier: str, slot: str) -> Optional[Slot]:
        return (self.frontiers.get(frontier) or {}).get(slot)

    def add(self, frontier: str, slot: str, requests: Iterable[Any], now: Optional[int] = None) -> int:
        """Queue the requests with unseen fingerprints; returns that number ("newcount").
        Raises InvalidRequest (nothing stored). A slot appears with its first new request."""
        checked = check_requests(requests)
        with self.lock:
            target = self.slot(frontier, slot)
            fresh = target is None
            if fresh:
                target = Slot()
            added = target.add(checked, self.clock() if now is None else now)
            if fresh and added:
                self.frontiers.setdefault(frontier, {})[slot] = target
            return added

    def batches(self, frontier: str, slot: str, mincount: Optional[int] = None) -> list[Batch]:
        """The queue in serving order; with *mincount*, only the first whole batches that
        together hold at least that many requests (all of them when fewer are queued)."""
        with self.lock:
            target = self.slot(frontier, slot)
            queue = target.queue() if target is not None else []
        if mincount is None:
            return queue
        out, total = [], 0
        for batch in queue:
            if total >= mincount:
                break
            out.append(batch)
            total += len(batch.requests)
        return out

    def delete_batches(self, frontier: str, slot: str, ids: Iterable[str]) -> int:
        with self.lock:
            target = self.slot(frontier, slot)
            if target is None:
                return 0
            return sum(target.batches.pop(batch_id, None) is not None for batch_id in ids)

    def fingerprints(self, frontier: str, slot: str) -> list[tuple[str, Any]]:
        """(fp, fdata) pairs sorted by fingerprint, as the service lists them."""
        with self.lock:
            target = self.slot(frontier, slot)
            return sorted(target.fingerprints.items()) if target is not None else []

    def delete_slot(self, frontier: str, slot: str) -> bool:
        with self.lock:
            slots = self.frontiers.get(frontier)
            if not slots or slots.pop(slot, None) is None:
                return False
            if not slots:
                del self.frontiers[frontier]
            return True
