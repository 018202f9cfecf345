"""Collections state of the Scrapinghub emulator: the key/value stores of a project, without HTTP.

A project holds stores addressed by (type, name); the four types `s`, `cs`, `vs` and `vcs`
share one API. Keys are kept in a sorted list next to a dict, so a scan bisects to its first
key (`start`, `startafter`, `prefix`) and walks forward, and a page of a 100,000-key store
costs only its own length. Each key maps to its versions, newest last, each a (value, write
time in ms) pair: one version for `s`/`cs`, up to three for the versioned `vs`/`vcs`, where
reads see the newest. Cached types (`cs`, `vcs`) would expire entries after about a month
in the real service; the emulator keeps them forever, because tests and demos must not
depend on the date they run. Writes are all-or-nothing: every record of a batch is checked
(object, string `_key`, serialized value within 1 MiB) before any is stored, so a rejected
batch leaves the store unchanged. The real service's behaviour for mixed batches is not
recorded; this is the emulator's documented choice, and what hubfs relies on. Also ours: a
write creates its store even when the batch is empty, and a store whose keys were all
deleted stays listed until it is truncated.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from .records import matches

STORE_TYPES = ("s", "cs", "vs", "vcs")
VERSIONED_TYPES = frozenset({"vs", "vcs"})
MAX_VERSIONS = 3
MAX_VALUE_BYTES = 1024 * 1024
# A count request walks at most this many keys, then answers with `nextstart` so the
# client sums several requests (as the real service does for big stores).
COUNT_PAGE = 10_000
# Above this many new keys in one write, appending and re-sorting beats one insort each.
_BULK_INSERT = 32
_NAME = re.compile(r"\w+")
_LAST_CHAR = "\U0010ffff"
_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class InvalidRecord(ValueError):
    """A written record is not an object with a non-empty string `_key`."""


class ValueTooLarge(ValueError):
    """A written value serializes to more than `MAX_VALUE_BYTES`."""


class InvalidName(ValueError):
    """A store name that is not `^\\w+$`, or an unknown store type."""


def check_store(type_: str, name: str) -> None:
    """Raise InvalidName unless (*type_*, *name*) can address a store."""
    if type_ not in STORE_TYPES:
        raise InvalidName(f"Invalid collection type: {type_}")
    if not _NAME.fullmatch(name):
        raise InvalidName(f"Invalid collection name {name!r}, only alphanumeric characters")


def parse_records(records: Iterable[Any]) -> list[tuple[str, dict]]:
    """(key, value) pairs of written records, the value being the record without `_key`.
    Raises InvalidRecord or ValueTooLarge for the first bad record, so the caller stores
    nothing of the batch."""
    parsed = []
    for record in records:
        if not isinstance(record, dict):
            raise InvalidRecord("Error parsing data, expected a JSON object")
        key = record.get("_key")
        if key is None or key == "":
            raise InvalidRecord("Error parsing data, missing value for _key field")
        if not isinstance(key, str):
            raise InvalidRecord("Error parsing data, _key field must be a string")
        value = {k: v for k, v in record.items() if k != "_key"}
        if len(_ENCODE(value).encode("utf-8")) > MAX_VALUE_BYTES:
            raise ValueTooLarge(
                f"Error parsing data, Serialized value too large - max {MAX_VALUE_BYTES} bytes")
        parsed.append((key, value))
    return parsed


@dataclass
class ScanQuery:
    """What a scan (or count) selects; output shaping (meta, nodata) is the caller's."""

    keys: Optional[list[str]] = None   # exact keys; absent ones are skipped
    prefixes: list[str] = field(default_factory=list)
    prefixcount: Optional[int] = None  # at most this many records per prefix
    start: Optional[str] = None        # inclusive
    startafter: Optional[str] = None   # exclusive
    count: Optional[int] = None
    startts: Optional[int] = None      # ms, inclusive
    endts: Optional[int] = None        # ms, exclusive
    filters: list = field(default_factory=list)


@dataclass
class ScanResult:
    rows: list[tuple[str, Any, int]]   # (key, newest value, its write time)
    scanned: int
    nextstart: Optional[str] = None    # set when a scan limit stopped the walk early


def _prefix_end(keys: list[str], prefix: str) -> int:
    """Index just past the last key starting with *prefix* in sorted *keys*."""
    stem = prefix.rstrip(_LAST_CHAR)
    if not stem:
        return len(keys)
    # Every key with the prefix sorts below the prefix with its last character bumped.
    return bisect_left(keys, stem[:-1] + chr(ord(stem[-1]) + 1))


class Store:
    """One (type, name) store. Not locked itself: `ProjectCollections` holds the lock."""

    def __init__(self, type_: str, name: str):
        self.type = type_
        self.name = name
        self.max_versions = MAX_VERSIONS if type_ in VERSIONED_TYPES else 1
        self.keys: list[str] = []
        self.entries: dict[str, list[tuple[Any, int]]] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def put(self, pairs: list[tuple[str, Any]], ts: int) -> None:
        added = []
        for key, value in pairs:
            versions = self.entries.get(key)
            if versions is None:
                self.entries[key] = [(value, ts)]
                added.append(key)
            else:
                versions.append((value, ts))
                del versions[:-self.max_versions]
        if len(added) > _BULK_INSERT:
            self.keys.extend(added)
            self.keys.sort()
        else:
            for key in added:
                insort(self.keys, key)

    def delete(self, keys: Iterable[str]) -> int:
        gone = [key for key in keys if self.entries.pop(key, None) is not None]
        if len(gone) > _BULK_INSERT:
            self.keys = [key for key in self.keys if key in self.entries]
        else:
            for key in gone:
                del self.keys[bisect_left(self.keys, key)]
        return len(gone)

    def latest(self, key: str) -> Optional[tuple[Any, int]]:
        versions = self.entries.get(key)
        return versions[-1] if versions else None

    def versions(self, key: str) -> list[tuple[Any, int]]:
        return list(self.entries.get(key) or ())

    # ------------------------------------------------------------------ scans

    def _lowest(self, q: ScanQuery) -> int:
        lo = 0
        if q.start is not None:
            lo = bisect_left(self.keys, q.start)
        if q.startafter is not None:
            lo = max(lo, bisect_right(self.keys, q.startafter))
        return lo

    def _intervals(self, q: ScanQuery, prefixes: list[str]) -> list[tuple[int, int]]:
        """Merged [lo, hi) index ranges of the keys with one of *prefixes* (all keys when
        none), above the start bounds."""
        lo = self._lowest(q)
        if not prefixes:
            return [(lo, len(self.keys))]
        ranges = sorted((max(lo, bisect_left(self.keys, p)), _prefix_end(self.keys, p))
                        for p in set(prefixes))
        merged: list[list[int]] = []
        for a, b in ranges:
            if a >= b:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        return [(a, b) for a, b in merged]

    def _candidates(self, q: ScanQuery, prefixes: list[str]) -> Iterator[str]:
        """Keys a scan visits, in order."""
        if q.keys is not None:
            for key in sorted(set(q.keys)):
                if key not in self.entries:
                    continue
                if q.start is not None and key < q.start:
                    continue
                if q.startafter is not None and key <= q.startafter:
                    continue
                if prefixes and not any(key.startswith(p) for p in prefixes):
                    continue
                yield key
            return
        keys = self.keys
        for a, b in self._intervals(q, prefixes):
            for i in range(a, b):
                yield keys[i]

    def _accepts(self, q: ScanQuery, value: Any, ts: int) -> bool:
        if q.startts is not None and ts < q.startts:
            return False
        if q.endts is not None and ts >= q.endts:
            return False
        return not q.filters or matches(value, q.filters)

    def scan(self, q: ScanQuery, limit: Optional[int] = None) -> ScanResult:
        """Rows selected by *q* in key order. *limit* caps the keys walked; when it stops
        the walk early, `nextstart` names the first key not walked."""
        if q.prefixcount is not None and q.prefixes:
            return self._scan_per_prefix(q)
        rows: list[tuple[str, Any, int]] = []
        scanned = 0
        for key in self._candidates(q, q.prefixes):
            if q.count is not None and len(rows) >= q.count:
                break
            if limit is not None and scanned >= limit:
                return ScanResult(rows, scanned, nextstart=key)
            scanned += 1
            value, ts = self.entries[key][-1]
            if self._accepts(q, value, ts):
                rows.append((key, value, ts))
        return ScanResult(rows, scanned)

    def _scan_per_prefix(self, q: ScanQuery) -> ScanResult:
        """`prefixcount`: up to that many rows for each prefix, then merged in key order."""
        found: dict[str, tuple[str, Any, int]] = {}
        scanned = 0
        for prefix in dict.fromkeys(q.prefixes):
            taken = 0
            for key in self._candidates(q, [prefix]):
                if taken >= q.prefixcount:
                    break
                scanned += 1
                value, ts = self.entries[key][-1]
                if self._accepts(q, value, ts):
                    found[key] = (key, value, ts)
                    taken += 1
        rows = [found[key] for key in sorted(found)]
        if q.count is not None:
            rows = rows[:q.count]
        return ScanResult(rows, scanned)


class ProjectCollections:
    """Every store of one project. *lock* guards all of them (the state's lock);
    *clock()* gives the write time in ms."""

    def __init__(self, lock: Optional[threading.RLock] = None,
                 clock: Optional[Callable[[], int]] = None):
        self.lock = lock or threading.RLock()
        self.clock = clock or (lambda: 0)
        self.stores: dict[tuple[str, str], Store] = {}

    def listing(self) -> list[dict]:
        """`[{"type", "name"}]` sorted by name, then type in the order s, cs, vs, vcs."""
        with self.lock:
            pairs = sorted(self.stores, key=lambda tn: (tn[1], STORE_TYPES.index(tn[0])))
        return [{"type": t, "name": n} for t, n in pairs]

    def store(self, type_: str, name: str) -> Optional[Store]:
        return self.stores.get((type_, name))

    def write(self, type_: str, name: str, records: Iterable[Any], now: Optional[int] = None) -> int:
        """Set every record (creating the store, even for an empty batch); all or nothing.
        Raises InvalidName, InvalidRecord or ValueTooLarge. Returns the records written."""
        check_store(type_, name)
        pairs = parse_records(records)
        with self.lock:
            store = self.stores.get((type_, name))
            if store is None:
                store = self.stores[(type_, name)] = Store(type_, name)
            store.put(pairs, self.clock() if now is None else now)
        return len(pairs)

    def get(self, type_: str, name: str, key: str) -> Optional[tuple[Any, int]]:
        """The newest (value, ts) of *key*, None when absent."""
        with self.lock:
            store = self.stores.get((type_, name))
            return store.latest(key) if store is not None else None

    def delete(self, type_: str, name: str, keys: Iterable[str]) -> int:
        with self.lock:
            store = self.stores.get((type_, name))
            return store.delete(keys) if store is not None else 0

    def truncate(self, name: str) -> int:
        """Drop the stores of every type called *name*; returns how many existed."""
        with self.lock:
            doomed = [tn for tn in self.stores if tn[1] == name]
            for tn in doomed:
                del self.stores[tn]
            return len(doomed)

    def scan(self, type_: str, name: str, q: ScanQuery, limit: Optional[int] = None) -> ScanResult:
        """A snapshot of the selected rows, taken under the lock so the caller can encode
        them at leisure while writers carry on."""
        with self.lock:
            store = self.stores.get((type_, name))
            if store is None:
                return ScanResult([], 0)
            return store.scan(q, limit)
