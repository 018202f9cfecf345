"""Seeded, deterministic data sets of the SLS emulator: `demo` and `bench`.

Data is anchored to whole days and hours of the emulator's clock at start-up, so that
the logstores hold logs on the days a mount lists (their TTL up to today) and the
current hour has logs too. Each LogGroup is a function of its logstore, shard and
receive time only, so two emulators started on the same day serve the same bytes for
the same hour. Groups are produced on first pull (`state.LazyGroups`).

demo (UTC days; D = today 00:00):
  project `web-shop`:
    `nginx-access`  3 shards, TTL 7 days, one group of 25 access logs per shard every
                    10 minutes (shards offset by 2 minutes) from D-2d until now; tags
                    `__hostname__`, `__pack_id__`; values with quotes, backslashes,
                    non-ASCII text.
    `app-events`    2 shards, TTL 30 days, a group of 8 events every 30 minutes from
                    D-2d; multi-line messages, Chinese text, some logs with Time_ns.
  project `iot-fleet`:
    `telemetry`     1 shard, TTL 3 days, a group of 5 readings every hour from D-1d.
    `archive`       2 shards, TTL 30 days, no logs.
bench:
  project `bench`:
    `access`  4 shards, one hour (the last full hour before start-up) of 1,000,000
              logs: 1,000 groups of 250 logs per shard, 3.6 s apart.
    `ingest`  2 shards, empty: the target of the append benchmark.
"""

from __future__ import annotations

import zlib

from . import pbwriter as pb
from .state import LazyGroups, LogState

DAY = 86400
HOUR = 3600
BENCH_PROJECT = "bench"
BENCH_LOGSTORE = "access"
BENCH_INGEST = "ingest"
BENCH_SHARDS = 4
BENCH_GROUPS_PER_SHARD = 1000
BENCH_LOGS_PER_GROUP = 250
BENCH_LOGS = BENCH_SHARDS * BENCH_GROUPS_PER_SHARD * BENCH_LOGS_PER_GROUP


def _hash(*parts) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def _times(start: int, stop: int, every: int, offset: int) -> list[int]:
    first = start + offset
    return list(range(first, stop, every)) if stop > first else []


# -- demo --------------------------------------------------------------------------------

_METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
_STATUSES = ("200", "200", "200", "200", "200", "200", "200", "200", "304", "404", "500")
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "curl/8.5.0",
    'Bot "quoted" \\ backslash/1.0',
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) 移动版",
)


def _access_group(store: str, shard: int, when: int) -> bytes:
    logs = []
    for j in range(25):
        h = _hash(store, shard, when, j)
        path = f"/shop/items/{h % 5000}" + ("?q=café ☕" if h % 17 == 0 else "")
        contents = b"".join((
            pb.content("remote_addr", f"192.0.2.{h % 250 + 1}"),
            pb.content("method", _METHODS[h % len(_METHODS)]),
            pb.content("path", path),
            pb.content("status", _STATUSES[(h >> 3) % len(_STATUSES)]),
            pb.content("body_bytes_sent", str(h % 20000)),
            pb.content("request_time", f"0.{h % 1000:03d}"),
            pb.content("http_user_agent", _AGENTS[(h >> 5) % len(_AGENTS)]),
        ))
        logs.append(pb.log(when - (h % 30), contents))
    tags = (("__hostname__", f"web-{shard}"), ("__pack_id__", f"{shard:X}{when:X}-{0:X}"))
    return pb.log_group(logs, topic="nginx", source=f"10.0.1.{shard + 1}", tags=tags)


_LEVELS = ("INFO", "INFO", "INFO", "WARN", "ERROR")
_EVENTS = ("login", "logout", "checkout", "add_to_cart", "search")


def _event_group(store: str, shard: int, when: int) -> bytes:
    logs = []
    for j in range(8):
        h = _hash(store, shard, when, j)
        level = _LEVELS[h % len(_LEVELS)]
        message = f"user {h % 977} did {_EVENTS[h % len(_EVENTS)]}"
        if level == "ERROR":
            message += "\nTraceback (most recent call last):\n  处理失败: 库存不足"
        contents = b"".join((
            pb.content("level", level),
            pb.content("event", _EVENTS[(h >> 4) % len(_EVENTS)]),
            pb.content("user_id", str(h % 977)),
            pb.content("message", message),
        ))
        logs.append(pb.log(when - j, contents, time_ns=(h % 1_000_000_000) if j % 3 == 0 else None))
    return pb.log_group(logs, topic="events", source=f"app-{shard}.internal")


def _telemetry_group(store: str, shard: int, when: int) -> bytes:
    logs = []
    for j in range(5):
        h = _hash(store, shard, when, j)
        contents = b"".join((
            pb.content("device", f"truck-{h % 40:02d}"),
            pb.content("temp_c", f"{(h % 600) / 10 - 10:.1f}"),
            pb.content("battery", f"{h % 101}"),
        ))
        logs.append(pb.log(when - 60 * j, contents))
    return pb.log_group(logs, topic="", source="gateway-1", tags=(("fleet", "north"),))


def _seed(state, logstore, every, offset_per_shard, start, stop, make):
    for shard in logstore.shards:
        times = _times(start, stop, every, shard.shard_id * offset_per_shard)
        shard.seeded = LazyGroups(
            times, lambda i, s=shard.shard_id, t=times, n=logstore.name: make(n, s, t[i]))


def seed_demo(state: LogState) -> None:
    now = state.now()
    today = now - now % DAY
    shop = state.add_project("web-shop", "Demo storefront logs", create_time=today - 10 * DAY)
    nginx = state.add_logstore(shop, "nginx-access", ttl=7, shard_count=3,
                               create_time=today - 2 * DAY)
    _seed(state, nginx, 600, 120, today - 2 * DAY, now, _access_group)
    events = state.add_logstore(shop, "app-events", ttl=30, shard_count=2,
                                create_time=today - 2 * DAY)
    _seed(state, events, 1800, 300, today - 2 * DAY, now, _event_group)
    iot = state.add_project("iot-fleet", "Demo vehicle telemetry", create_time=today - 10 * DAY)
    telemetry = state.add_logstore(iot, "telemetry", ttl=3, shard_count=1,
                                   create_time=today - DAY)
    _seed(state, telemetry, 3600, 0, today - DAY, now, _telemetry_group)
    state.add_logstore(iot, "archive", ttl=30, shard_count=2, create_time=today - DAY)


# -- bench -------------------------------------------------------------------------------

def bench_hour(now: int) -> int:
    """Start of the hour the bench set fills: the last full hour before *now*."""
    return now - now % HOUR - HOUR


class _BenchGroups:
    """Produces one bench LogGroup quickly: most content entries come from small tables
    written once, only the path, size and timing fields are written per log."""

    def __init__(self):
        self.methods = [pb.content("method", m) for m in _METHODS]
        self.statuses = [pb.content("status", s) for s in _STATUSES]
        self.agents = [pb.content("http_user_agent", a) for a in _AGENTS]
        self.addrs = [pb.content("remote_addr", f"198.51.100.{i + 1}") for i in range(250)]

    def __call__(self, shard: int, index: int, when: int) -> bytes:
        logs = []
        content = pb.content
        base = (shard * BENCH_GROUPS_PER_SHARD + index) * BENCH_LOGS_PER_GROUP
        for j in range(BENCH_LOGS_PER_GROUP):
            n = base + j
            h = (n * 2654435761) & 0xFFFFFFFF
            contents = b"".join((
                self.addrs[h % 250],
                self.methods[h % 6],
                content("path", f"/api/v1/items/{n}"),
                self.statuses[(h >> 8) % 11],
                content("body_bytes_sent", str(h % 50000)),
                content("request_time", f"0.{h % 1000:03d}"),
                self.agents[(h >> 12) % 4],
            ))
            logs.append(pb.log(when, contents))
        tags = (("__hostname__", f"bench-{shard}"), ("__pack_id__", f"B{shard:X}-{index:X}"))
        return pb.log_group(logs, topic="bench", source=f"10.9.0.{shard + 1}", tags=tags)


def seed_bench(state: LogState) -> None:
    now = state.now()
    hour = bench_hour(now)
    project = state.add_project(BENCH_PROJECT, "Benchmark data", create_time=hour - 2 * DAY)
    access = state.add_logstore(project, BENCH_LOGSTORE, ttl=7, shard_count=BENCH_SHARDS,
                                create_time=hour - DAY)
    make = _BenchGroups()
    for shard in access.shards:
        times = [hour + i * HOUR // BENCH_GROUPS_PER_SHARD for i in range(BENCH_GROUPS_PER_SHARD)]
        shard.seeded = LazyGroups(times, lambda i, s=shard.shard_id, t=times: make(s, i, t[i]))
    state.add_logstore(project, BENCH_INGEST, ttl=7, shard_count=2, create_time=hour - DAY)


SEEDS = {"demo": seed_demo, "bench": seed_bench}
