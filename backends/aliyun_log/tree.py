"""The Log Service as a hubfs node tree: logstores as days of hourly JSON-lines files.

```
<remote>/<project>/<logstore>/
    logstore.json                        the logstore's configuration and shards
    shards/<shard-id>/<YYYY-MM-DD>/<HH>.jl   logs the shard received in that hour
    <YYYY-MM-DD>/<HH>.jl                 the same hour across all shards, in shard order
    append.jl                            write-only: each JSON line becomes a log
```
Days and hours are UTC, by the service's *receive* time (what cursors address), and
run from the first day the logstore can still hold (its TTL, not before it was
created) to today, up to the current hour. Listing never asks the service for logs.
An hour file is pulled by cursor from `GetCursor(from=<hour start>)` to
`GetCursor(from=<hour end>)` (`pulling.py`) and rendered as `render.py` describes. An
hour that ended more than `SETTLE` seconds ago is immutable: it is rendered once into
the disk cache under a key naming the endpoint, project, logstore, shard, hour and
format version, with its exact size, and later mounts reuse it. The current hour is a
growing file whose snapshot is extended from the cursors where the last one ended (for
the all-shards file, each extension adds every shard's new logs in shard order). Its
mtime is the hour's start; a closed hour's is its end.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
import time

from hubfs.errors import NotFound
from hubfs.tree import Dir, File, Kind

from . import appending, render
from .pulling import shard_chunks, ordered_shards

DAY = 86400
HOUR = 3600
# Seconds after an hour's end before it is final: logs reach the service with its own
# clock, which may run a little behind ours.
SETTLE = 60
MAX_DAYS = 3650
PULL_THREADS = 8  # shards pulled at once for an all-shards hour
_DAY_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_HOUR_RE = re.compile(r"([01]\d|2[0-3])\.jl")


class Site:
    """What every node of one remote shares: client, decoder, clock and cache prefix."""

    def __init__(self, client, decoder, started, projects=None, clock=time.time,
                 pull_count=None, fstat_during_render="wait"):
        self.client = client
        self.decoder = decoder
        self.name = client.name
        self.started = started
        self.projects = projects
        self.clock = clock
        self.pull_count = pull_count or 50
        self.fstat_during_render = fstat_during_render  # hubfs.fuse.content reads it
        endpoint = hashlib.sha1(client.endpoint.encode("utf-8")).hexdigest()[:12]
        self.cache_prefix = f"aliyun-log/{render.FORMAT_VERSION}/{endpoint}"

    def now(self):
        return self.clock()


def day_name(start):
    return time.strftime("%Y-%m-%d", time.gmtime(start))


def parse_day(name):
    m = _DAY_RE.fullmatch(name)
    if m is None:
        return None
    try:
        start = calendar.timegm((int(m[1]), int(m[2]), int(m[3]), 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return start if day_name(start) == name else None  # 2024-02-30 is no day


class RootDir(Dir):
    def __init__(self, site):
        super().__init__("", site.started)
        self.site = site

    def _projects(self):
        if self.site.projects is not None:
            return list(self.site.projects)
        return self.site.client.list_projects()

    def children(self):
        for name in sorted(self._projects()):
            yield ProjectDir(self.site, name)

    def child(self, name):
        if self.site.projects is not None:
            if name not in self.site.projects:
                raise NotFound(f"{self.site.name}: project {name!r} is not in the remote's "
                               "project list")
        elif self.site.client.get_project(name) is None:
            raise NotFound(f"{self.site.name}: no project {name!r}")
        return ProjectDir(self.site, name)


class ProjectDir(Dir):
    def __init__(self, site, project):
        super().__init__(project, site.started)
        self.site = site
        self.project = project

    def children(self):
        for name in sorted(self.site.client.list_logstores(self.project)):
            yield LogstoreDir(self.site, self.project, name)

    def child(self, name):
        config = self.site.client.get_logstore(self.project, name)
        if config is None:
            raise NotFound(f"{self.site.name}: no logstore {name!r} in project {self.project}")
        return LogstoreDir(self.site, self.project, name, config)


class Logstore:
    """One logstore's identity and (fetched once per directory node) configuration."""

    def __init__(self, site, project, name, config=None):
        self.site = site
        self.project = project
        self.name = name
        self._config = config

    @property
    def config(self):
        if self._config is None:
            config = self.site.client.get_logstore(self.project, self.name)
            if config is None:
                raise NotFound(f"{self.where}: the logstore no longer exists")
            self._config = config
        return self._config

    @property
    def where(self):
        return f"{self.site.name}: {self.project}/{self.name}"

    def days(self):
        """Day starts (UTC) from the oldest the TTL keeps to today, oldest first."""
        now = int(self.site.now())
        today = now - now % DAY
        ttl = int(self.config.get("ttl") or MAX_DAYS)
        ttl = MAX_DAYS if ttl <= 0 else min(ttl, MAX_DAYS)
        first = today - (ttl - 1) * DAY
        created = self.config.get("createTime")
        if isinstance(created, (int, float)) and created > first:
            first = int(created) - int(created) % DAY
        return list(range(first, today + 1, DAY))

    def shard_ids(self):
        return sorted(int(s["shardID"]) for s in self.site.client.list_shards(self.project, self.name))


class LogstoreDir(Dir):
    def __init__(self, site, project, name, config=None):
        super().__init__(name, site.started)
        self.store = Logstore(site, project, name, config)

    def children(self):
        yield LogstoreJson(self.store)
        yield ShardsDir(self.store)
        yield AppendFile(self.store)
        for start in self.store.days():
            yield DayDir(self.store, start)

    def child(self, name):
        if name == "logstore.json":
            return LogstoreJson(self.store)
        if name == "shards":
            return ShardsDir(self.store)
        if name == "append.jl":
            return AppendFile(self.store)
        start = parse_day(name)
        if start is None or start not in self.store.days():
            raise NotFound(f"{self.store.where}: no day {name!r} (days are YYYY-MM-DD, "
                           "within the logstore's TTL, UTC)")
        return DayDir(self.store, start)


class ShardsDir(Dir):
    def __init__(self, store):
        super().__init__("shards", store.site.started)
        self.store = store

    def children(self):
        for shard in self.store.shard_ids():
            yield ShardDir(self.store, shard)

    def child(self, name):
        if not (name.isascii() and name.isdigit()) or (len(name) > 1 and name[0] == "0") \
                or int(name) not in self.store.shard_ids():
            raise NotFound(f"{self.store.where}: no shard {name!r}")
        return ShardDir(self.store, int(name))


class ShardDir(Dir):
    def __init__(self, store, shard):
        super().__init__(str(shard), store.site.started)
        self.store = store
        self.shard = shard

    def children(self):
        for start in self.store.days():
            yield DayDir(self.store, start, self.shard)

    def child(self, name):
        start = parse_day(name)
        if start is None or start not in self.store.days():
            raise NotFound(f"{self.store.where}: shard {self.shard}: no day {name!r}")
        return DayDir(self.store, start, self.shard)


class DayDir(Dir):
    def __init__(self, store, start, shard=None):
        now = store.site.now()
        # A day whose last hour is final lists no new names.
        super().__init__(day_name(start), start + DAY, immutable=now >= start + DAY + SETTLE)
        self.store = store
        self.start = start
        self.shard = shard

    def _hours(self):
        last = min(23, int(self.store.site.now() - self.start) // HOUR)
        return range(0, last + 1)

    def children(self):
        for hour in self._hours():
            yield HourFile(self.store, self.start + hour * HOUR, self.shard)

    def child(self, name):
        m = _HOUR_RE.fullmatch(name)
        if m is None or int(m[1]) not in self._hours():
            raise NotFound(f"{self.store.where}: {self.name}: no hour file {name!r} "
                           "(00.jl to 23.jl, up to the current hour)")
        return HourFile(self.store, self.start + int(m[1]) * HOUR, self.shard)


class HourFile(File):
    """The logs received in one hour, by one shard or (shard None) by all of them."""

    def __init__(self, store, start, shard=None):
        final = store.site.now() >= start + HOUR + SETTLE
        super().__init__(time.strftime("%H.jl", time.gmtime(start)),
                         start + HOUR if final else start, immutable=final)
        self.store = store
        self.start = start
        self.shard = shard
        self.kind = Kind.RENDERED if final else Kind.GROWING
        self.appendable = not final
        # A closed hour streams into the disk cache while it is read (hubfs.fuse.content).
        self.fstat_during_render = store.site.fstat_during_render

    def cache_key(self):
        if not self.immutable:
            return None
        store = self.store
        which = "all" if self.shard is None else f"shard-{self.shard}"
        return f"{store.site.cache_prefix}/{store.project}/{store.name}/{which}/{self.start}"

    def _stream(self, shard, after):
        """A factory of one shard's `(chunk, next cursor)` items ending in `(b"", stop)`."""
        store, site = self.store, self.store.site
        client = site.client

        def stream():
            stop = client.cursor(store.project, store.name, shard, self.start + HOUR)
            cursor = after if after is not None else \
                client.cursor(store.project, store.name, shard, self.start)
            yield from shard_chunks(client, site.decoder, store.project, store.name, shard,
                                    cursor, stop, site.pull_count)
            yield b"", stop
        return stream

    def render(self, after=None):
        if self.shard is not None:
            yield from self._stream(self.shard, after)()
            return
        state = dict(after or {})
        shards = self.store.shard_ids()
        streams = [self._stream(shard, state.get(shard)) for shard in shards]
        for index, (chunk, cursor) in ordered_shards(streams, PULL_THREADS):
            state[shards[index]] = cursor
            yield chunk, dict(state)
        if not shards:
            yield b"", state


class LogstoreJson(File):
    """`logstore.json`: GetLogStore's answer with the shard list, re-read each time."""

    kind = Kind.RENDERED

    def __init__(self, store):
        super().__init__("logstore.json", store.site.started)
        self.store = store

    def render(self, after=None):
        store = self.store
        config = store.site.client.get_logstore(store.project, store.name)
        if config is None:
            raise NotFound(f"{store.where}: the logstore no longer exists")
        shards = store.site.client.list_shards(store.project, store.name)
        data = {"project": store.project, "logstore": config, "shards": shards}
        yield json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n", None


class AppendFile(File):
    """`append.jl`: reads as empty; lines appended to it are sent with PutLogs at close."""

    kind = Kind.RENDERED
    writable = True
    write_mode = "append"

    def __init__(self, store):
        super().__init__("append.jl", store.site.started)
        self.store = store

    def render(self, after=None):
        yield b"", None

    def commit(self, path, progress=None):
        # Every line is checked and every batch built before the first request, so a
        # bad line sends nothing of the file.
        batches = list(appending.batches(appending.parse(path)))
        state = getattr(progress, "state", None) or {}
        sent = int(state.get("batches_sent", 0))
        store = self.store
        for index, (raw, compressed, _count) in enumerate(batches):
            if index < sent:
                continue  # acknowledged by the service during an earlier attempt
            store.site.client.put_logs(store.project, store.name, raw, compressed)
            if progress is not None:
                progress.record(batches_sent=index + 1)
