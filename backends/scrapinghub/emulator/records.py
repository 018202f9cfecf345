"""Record stores of the Scrapinghub emulator: the items, logs, requests or samples of one job.

Pure data, no HTTP. A store is a sequence addressed by 0-based index (the N of a record key
P/S/J/N) with a write time per record. Seeded stores are backed by a generator function of
the index (so a job of a million items costs nothing until read) with written records kept
in an overlay, and a version that changes on every write so encoded-block caches know when
to stop trusting themselves. Also here: the storage API's `filter` triples and the `/stats`
counters, both defined on records only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any, Callable, Optional


class LazyList(Sequence):
    """A list built by *builder()* on first use (seeded logs: cheap to describe, built late)."""

    def __init__(self, builder: Callable[[], list]):
        self._builder = builder
        self._data: Optional[list] = None
        self._lock = threading.Lock()

    def _get(self) -> list:
        if self._data is None:
            with self._lock:
                if self._data is None:
                    self._data = self._builder()
        return self._data

    def __len__(self) -> int:
        return len(self._get())

    def __getitem__(self, index):
        return self._get()[index]


class GeneratedSeq(Sequence):
    """*count* records computed from their index by *fn(i)*; nothing is held in memory."""

    def __init__(self, count: int, fn: Callable[[int], Any]):
        self.count = count
        self.fn = fn

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.fn(i) for i in range(*index.indices(self.count))]
        if not 0 <= index < self.count:
            raise IndexError(index)
        return self.fn(index)


class RecordStore:
    """The records of one job resource: a seeded base sequence plus written overrides.

    *ts_fn(i)* gives the seeded write time (ms) of record i. *stats_fn*, when given, answers
    `stats()` for the untouched base without scanning it (used by the million-item job).
    Writes take the store's lock; reads do not, since a record is replaced atomically.
    """

    def __init__(self, base: Sequence = (), ts_fn: Optional[Callable[[int], int]] = None,
                 stats_fn: Optional[Callable[[], dict]] = None, by_level: bool = False):
        self._base = base
        self._by_level = by_level  # logs count records per level, other resources per field
        self._ts_fn = ts_fn or (lambda i: 0)
        self._stats_fn = stats_fn
        self._over: dict[int, tuple[Any, int]] = {}
        self._length: Optional[int] = None  # None until a write: then len(base) is not enough
        self._lock = threading.Lock()
        self._stats: Optional[tuple[int, dict]] = None
        self.version = 0

    def __len__(self) -> int:
        return len(self._base) if self._length is None else self._length

    @property
    def pristine(self) -> bool:
        """True while no record was written: the seeded base is the whole content."""
        return self._length is None

    def get(self, index: int) -> Any:
        hit = self._over.get(index)
        if hit is not None:
            return hit[0]
        return self._base[index]

    def ts(self, index: int) -> int:
        hit = self._over.get(index)
        if hit is not None:
            return hit[1]
        return self._ts_fn(index)

    def fast_range(self, lo: int, hi: int, msgpack: bool, key_prefix: Optional[str]) -> Optional[bytes]:
        """Encoded records lo..hi-1 straight from a base that can encode itself (the bench
        items), or None when the base cannot or a write has made the base incomplete."""
        encode = getattr(self._base, "encode_range", None)
        if encode is None or not self.pristine:
            return None
        return encode(lo, hi, msgpack, key_prefix)

    def write(self, start: Optional[int], records: list, now_ms: int) -> None:
        """Store *records* at offsets start, start+1, ... (None = append); a repeated offset
        overwrites (the batch uploader re-sends a batch after a failure). Raises ValueError
        when *start* would leave a gap."""
        with self._lock:
            length = len(self)
            if start is None:
                start = length
            if start < 0 or start > length:
                raise ValueError(f"start offset {start} is past the end ({length} records)")
            for offset, record in enumerate(records):
                self._over[start + offset] = (record, now_ms)
            self._length = max(length, start + len(records))
            self.version += 1

    def stats(self) -> dict:
        """`{"counts": {...}, "totals": {"input_bytes", "input_values"}}` as the API reports
        them; cached until the next write."""
        cached = self._stats
        if cached is not None and cached[0] == self.version:
            return cached[1]
        if self._stats_fn is not None and self.pristine:
            result = self._stats_fn()
        else:
            result = compute_stats((self.get(i) for i in range(len(self))), self._by_level)
        self._stats = (self.version, result)
        return result


def compute_stats(records, by_level: bool = False) -> dict:
    """Field occurrence counts (per-level counts for logs, *by_level*) and input totals."""
    counts: dict[str, int] = {}
    nbytes = 0
    nvalues = 0
    for record in records:
        nvalues += 1
        nbytes += len(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if not isinstance(record, dict):
            continue
        if by_level:
            if "level" in record:
                key = str(record["level"])
                counts[key] = counts.get(key, 0) + 1
        else:
            for name in record:
                counts[name] = counts.get(name, 0) + 1
    return {"counts": counts, "totals": {"input_bytes": nbytes, "input_values": nvalues}}


# ----------------------------------------------------------------------------- filters

class FilterError(ValueError):
    """A `filter` parameter that is not a valid [field, operator, values] triple."""


def _compare(op: str):
    def check(value, operands):
        if not operands:
            return False
        other = operands[0]
        try:
            if op == ">":
                return value > other
            if op == ">=":
                return value >= other
            if op == "<":
                return value < other
            return value <= other
        except TypeError:  # a string field compared with a number: no match, as in SQL
            return False
    return check


def _contains(value, operands, fold=False):
    if isinstance(value, str):
        hay = value.lower() if fold else value
        return any(isinstance(o, str) and (o.lower() if fold else o) in hay for o in operands)
    if isinstance(value, list):
        return any(o in value for o in operands)
    return False


_MISSING = object()
_OPERATORS: dict[str, Callable[[Any, list], bool]] = {
    "=": lambda v, ops: v in ops,
    "in": lambda v, ops: v in ops,
    "!=": lambda v, ops: v not in ops,
    ">": _compare(">"),
    ">=": _compare(">="),
    "<": _compare("<"),
    "<=": _compare("<="),
    "contains": _contains,
    "icontains": lambda v, ops: _contains(v, ops, fold=True),
    "haselement": lambda v, ops: isinstance(v, list) and any(o in v for o in ops),
    "hasnotelement": lambda v, ops: not (isinstance(v, list) and any(o in v for o in ops)),
    "exists": lambda v, ops: True,
}


def parse_filters(raw_filters: list[str]) -> list[tuple[str, str, list]]:
    """Parse repeated `filter` query values; raises FilterError."""
    parsed = []
    for raw in raw_filters:
        try:
            triple = json.loads(raw)
        except ValueError:
            raise FilterError(f"filter is not JSON: {raw!r}") from None
        if not (isinstance(triple, list) and len(triple) in (2, 3) and isinstance(triple[0], str)):
            raise FilterError(f"filter must be [field, operator, values]: {raw!r}")
        name, op = triple[0], triple[1]
        operands = triple[2] if len(triple) == 3 else []
        if op not in _OPERATORS:
            raise FilterError(f"unknown filter operator {op!r}")
        if not isinstance(operands, list):
            operands = [operands]
        parsed.append((name, op, operands))
    return parsed


def matches(record: Any, filters: list[tuple[str, str, list]]) -> bool:
    """True when *record* satisfies every filter; a missing field satisfies only
    `hasnotelement` and `!=`."""
    for name, op, operands in filters:
        value = record.get(name, _MISSING) if isinstance(record, dict) else _MISSING
        if value is _MISSING:
            if op in ("hasnotelement", "!="):
                continue
            return False
        if not _OPERATORS[op](value, operands):
            return False
    return True
