"""The emulated Log Service's state: projects, logstores, shards and their LogGroups.

Nothing here speaks HTTP. A shard is an append-only sequence of LogGroups, each kept as
its serialized bytes (what PutLogs received, after decompression) with the server
receive time; a cursor is `base + index` of a LogGroup in its shard, so consecutive
groups have consecutive cursors as the SDK assumes (protocols/aliyun-log.md section 6).
Seeded groups are produced on first use by a function of their index (`LazyGroups`),
which lets the `bench` set hold a million logs without building them at start-up. TTL
retention is applied when cursors are asked for: groups received before `now - ttl`
are no longer reachable (`begin` moves past them). All methods are thread-safe.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

HASH_SPACE = 1 << 128
# Cursor integers of shard N start at CURSOR_BASE + N * CURSOR_STRIDE: large like the
# service's (`MTU0NzQ3MDA1MzM1NjQ3NzIzMw==` is 1547470053356477233) and never shared
# between the shards of a logstore, so a cursor of the wrong shard is refused.
CURSOR_BASE = 1_547_470_053_356_000_000
CURSOR_STRIDE = 1_000_000_000_000


def framed(group: bytes) -> bytes:
    """*group* as one `LogGroups` entry of a LogGroupList (field 1, length-delimited)."""
    n = len(group)
    head = bytearray(b"\x0a")
    while n >= 0x80:
        head.append((n & 0x7F) | 0x80)
        n >>= 7
    head.append(n)
    return bytes(head) + group


class LazyGroups:
    """*count* seeded LogGroups whose bytes come from `produce(index)` on first use.

    Produced groups are kept (framed for a LogGroupList) so that a second pull of the
    same range costs nothing; `times` are the receive times, known up front.
    """

    def __init__(self, times: list[int], produce: Callable[[int], bytes]):
        self.times = times
        self._produce = produce
        self._framed: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.times)

    def framed(self, index: int) -> bytes:
        data = self._framed.get(index)
        if data is None:
            data = framed(self._produce(index))
            with self._lock:
                self._framed[index] = data
        return data


@dataclass
class Shard:
    shard_id: int
    begin_key: int
    end_key: int  # exclusive
    create_time: int
    seeded: Optional[LazyGroups] = None
    times: list[int] = field(default_factory=list)  # receive times of appended groups
    groups: list[bytes] = field(default_factory=list)  # appended groups, framed
    status: str = "readwrite"
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cursor_base(self) -> int:
        return CURSOR_BASE + self.shard_id * CURSOR_STRIDE

    @property
    def seeded_count(self) -> int:
        return len(self.seeded) if self.seeded is not None else 0

    def count(self) -> int:
        return self.seeded_count + len(self.groups)

    def time_of(self, index: int) -> int:
        n = self.seeded_count
        return self.seeded.times[index] if index < n else self.times[index - n]

    def framed_group(self, index: int) -> bytes:
        n = self.seeded_count
        return self.seeded.framed(index) if index < n else self.groups[index - n]

    def first_index_at(self, when: int) -> int:
        """Index of the first group received at or after *when* (count if none)."""
        n = self.seeded_count
        if n and (not self.times or when <= self.seeded.times[-1]):
            return bisect.bisect_left(self.seeded.times, when)
        return n + bisect.bisect_left(self.times, when)

    def append(self, group: bytes, received: int) -> int:
        """Add one serialized LogGroup; returns its index."""
        with self.lock:
            last = self.time_of(self.count() - 1) if self.count() else received
            # Receive times never go back within a shard (cursor-by-time relies on it).
            self.times.append(max(received, last))
            self.groups.append(framed(group))
            return self.count() - 1

    def key_range_hex(self) -> tuple[str, str]:
        return f"{self.begin_key:032x}", f"{min(self.end_key, HASH_SPACE - 1):032x}"


@dataclass
class Logstore:
    name: str
    ttl: int  # days
    shards: list[Shard]
    create_time: int
    last_modify_time: int
    append_meta: bool = False
    _next_lb: int = 0
    _lb_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shard(self, shard_id: int) -> Optional[Shard]:
        for shard in self.shards:
            if shard.shard_id == shard_id:
                return shard
        return None

    def next_shard(self) -> Shard:
        """Round-robin over the writable shards (PutLogs to `shards/lb`)."""
        writable = [s for s in self.shards if s.status == "readwrite"]
        with self._lb_lock:
            shard = writable[self._next_lb % len(writable)]
            self._next_lb += 1
        return shard

    def shard_for_key(self, key: int) -> Optional[Shard]:
        for shard in self.shards:
            if shard.status == "readwrite" and shard.begin_key <= key < shard.end_key:
                return shard
        return None


@dataclass
class Project:
    name: str
    description: str
    create_time: int
    logstores: dict[str, Logstore] = field(default_factory=dict)
    region: str = "cn-hangzhou"
    owner: str = "1234567890123456"


def even_shards(count: int, create_time: int) -> list[Shard]:
    """*count* readwrite shards splitting the MD5 hash space evenly."""
    step = HASH_SPACE // count
    return [Shard(i, i * step, HASH_SPACE if i == count - 1 else (i + 1) * step, create_time)
            for i in range(count)]


class LogState:
    """Every project of one emulator, plus its clock (seconds; injectable for tests)."""

    def __init__(self, clock: Optional[Callable[[], float]] = None):
        self.clock = clock or time.time
        self.projects: dict[str, Project] = {}
        self.lock = threading.Lock()

    def now(self) -> int:
        return int(self.clock())

    def add_project(self, name: str, description: str = "", create_time: Optional[int] = None) -> Project:
        project = Project(name, description, self.now() if create_time is None else create_time)
        with self.lock:
            self.projects[name] = project
        return project

    def add_logstore(self, project: Project, name: str, ttl: int, shard_count: int,
                     create_time: Optional[int] = None) -> Logstore:
        created = self.now() if create_time is None else create_time
        logstore = Logstore(name, ttl, even_shards(shard_count, created), created, created)
        with self.lock:
            project.logstores[name] = logstore
        return logstore

    # -- cursors -------------------------------------------------------------------------

    def begin_index(self, logstore: Logstore, shard: Shard) -> int:
        """The first group still within the logstore's TTL."""
        return shard.first_index_at(self.now() - logstore.ttl * 86400)

    def cursor_range(self, logstore: Logstore, shard: Shard) -> tuple[int, int]:
        """(begin, end) cursor integers of *shard* right now."""
        base = shard.cursor_base
        return base + self.begin_index(logstore, shard), base + shard.count()

    def cursor_at(self, logstore: Logstore, shard: Shard, when: int) -> int:
        """GetCursor `from=<unix seconds>`: the first group received at or after *when*,
        never before `begin`."""
        index = max(shard.first_index_at(when), self.begin_index(logstore, shard))
        return shard.cursor_base + index
