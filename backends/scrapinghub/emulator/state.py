"""State of the Scrapinghub emulator: projects, spiders, jobs and their records, without HTTP.

The moto-style model layer (style anchors, section 5): plain objects plus the operations the
Dash and storage APIs perform on them (job queue listing and summaries, state changes, push,
schedule, metadata edits, record writes), each callable from Python so tests can seed and
inspect the service without a socket. Each project also carries its collections
(`project.collections`, see `stores`) and frontiers (`project.frontiers`, see `frontier`).
Times are ms since the epoch; "now" comes from an injectable clock and is used only for
changes made after seeding. One re-entrant lock guards every mutation; reads of immutable
seeded data need none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from .frontier import ProjectFrontiers
from .records import RecordStore
from .stores import ProjectCollections

PENDING, RUNNING, FINISHED, DELETED = "pending", "running", "finished", "deleted"
STATES = (PENDING, RUNNING, FINISHED, DELETED)
QUEUE_STATES = (PENDING, RUNNING, FINISHED)
ACTIVE_STATES = (PENDING, RUNNING)
RESOURCES = ("items", "logs", "requests", "samples")
# The job queue answers at most this many jobs per call; clients page with `start`.
LIST_LIMIT = 1000
# Records per state a `jobq/P/summary` gives without `count`.
SUMMARY_DEFAULT = 5
MAX_RECORD_BYTES = 1024 * 1024
# Who the demo API key belongs to, as recorded in scheduled_by / started_by / ...
DEMO_USER = "demo"
# Fields a metadata write may not touch: the queue owns them.
PROTECTED_META = frozenset({"state", "key", "_key", "auth"})


class DuplicateJob(Exception):
    """A job with the same spider and arguments (or the same `unique`) is still active."""


class UnknownSpider(Exception):
    """The project has no spider of that name."""


class RecordTooLarge(ValueError):
    """A written record is over the 1 MiB limit."""


class BadRecord(ValueError):
    """A written record has the wrong shape for its resource."""


@dataclass
class Spider:
    id: int
    name: str
    type: str = "manual"
    version: Optional[str] = None
    tags: list = field(default_factory=list)


class Job:
    """One job: its metadata dict (as `GET jobs/P/S/J` shows it) and four record stores."""

    def __init__(self, project_id: int, spider_id: int, number: int, meta: dict,
                 stores: Optional[dict[str, RecordStore]] = None):
        self.project_id = project_id
        self.spider_id = spider_id
        self.number = number
        self.meta = meta
        # The job-scoped credential of a running job: handed out by push/startjob, never
        # part of the metadata (`GET jobs/P/S/J` does not show secrets).
        self.token: Optional[str] = None
        stores = dict(stores or {})
        for name in RESOURCES:
            stores.setdefault(name, RecordStore(by_level=(name == "logs")))
        self.stores = stores

    @property
    def key(self) -> str:
        return f"{self.project_id}/{self.spider_id}/{self.number}"

    @property
    def key_tuple(self) -> tuple[int, int, int]:
        return (self.project_id, self.spider_id, self.number)

    @property
    def state(self) -> str:
        return self.meta["state"]

    @property
    def ts(self) -> int:
        """When the job entered its current state (the jobq `ts`)."""
        return self.meta.get(f"{self.state}_time") or self.meta.get("pending_time") or 0

    @property
    def items(self) -> RecordStore:
        return self.stores["items"]

    @property
    def logs(self) -> RecordStore:
        return self.stores["logs"]

    @property
    def requests(self) -> RecordStore:
        return self.stores["requests"]

    @property
    def samples(self) -> RecordStore:
        return self.stores["samples"]

    def error_count(self) -> int:
        counts = self.logs.stats()["counts"]
        return sum(n for level, n in counts.items() if level.isdigit() and int(level) >= 40)

    def __repr__(self) -> str:
        return f"<Job {self.key} {self.state}>"


class Project:
    """Spiders, jobs and settings of one project, plus its collections and frontiers, which
    share *lock* (the state's) and *clock* (ms)."""

    def __init__(self, project_id: int, name: str, lock: Optional[threading.RLock] = None,
                 clock: Optional[Callable[[], int]] = None):
        self.id = project_id
        self.name = name
        self.spiders: dict[int, Spider] = {}
        self.jobs: dict[tuple[int, int], Job] = {}
        self.settings: dict[str, Any] = {}
        # Activity events as (ms, {"event", "job", "user", ...}), in the order recorded.
        self.activity: list[tuple[int, dict]] = []
        self.collections = ProjectCollections(lock, clock)
        self.frontiers = ProjectFrontiers(lock, clock)

    def spider_named(self, name: str) -> Optional[Spider]:
        for spider in self.spiders.values():
            if spider.name == name:
                return spider
        return None

    def jobs_of(self, spider_id: Optional[int] = None) -> list[Job]:
        return [job for (sid, _), job in self.jobs.items() if spider_id is None or sid == spider_id]

    def next_number(self, spider_id: int) -> int:
        numbers = [n for (sid, n) in self.jobs if sid == spider_id]
        return max(numbers, default=0) + 1


class ScrapinghubState:
    """Everything the emulated service knows. *seed(state)* fills it (again on `reset()`);
    *clock()* returns the current time in ms (tests may freeze it)."""

    def __init__(self, seed: Optional[Callable[["ScrapinghubState"], None]] = None,
                 clock: Optional[Callable[[], int]] = None):
        self.lock = threading.RLock()
        self.clock = clock or (lambda: int(time.time() * 1000))
        self._seed = seed
        # Signs job-scoped credentials; fresh per process, never leaves it.
        self._token_secret = os.urandom(32)
        self.projects: dict[int, Project] = {}
        self.reset()

    def reset(self) -> None:
        """Drop every change and reseed."""
        with self.lock:
            self.projects = {}
            if self._seed is not None:
                self._seed(self)

    # ------------------------------------------------------------------ building / lookups

    def add_project(self, project_id: int, name: str) -> Project:
        with self.lock:
            # The lambda reads self.clock late, so a clock swapped in by a test applies too.
            project = self.projects[project_id] = Project(project_id, name, self.lock,
                                                          lambda: self.clock())
            return project

    def add_spider(self, project_id: int, name: str, spider_id: Optional[int] = None, **kw) -> Spider:
        with self.lock:
            project = self.projects[project_id]
            if spider_id is None:
                spider_id = max(project.spiders, default=0) + 1
            spider = project.spiders[spider_id] = Spider(spider_id, name, **kw)
            return spider

    def add_job(self, project_id: int, spider_id: int, number: int, meta: dict,
                stores: Optional[dict[str, RecordStore]] = None) -> Job:
        with self.lock:
            job = Job(project_id, spider_id, number, meta, stores)
            self.projects[project_id].jobs[(spider_id, number)] = job
            return job

    def project(self, project_id: Any) -> Optional[Project]:
        try:
            return self.projects.get(int(project_id))
        except (TypeError, ValueError):
            return None

    def spider_id(self, project_id: int, name: str, create: bool = False) -> Optional[int]:
        """The numeric id of spider *name*, None when unknown (unless *create*)."""
        with self.lock:
            project = self.projects[project_id]
            spider = project.spider_named(name)
            if spider is None and create:
                spider = self.add_spider(project_id, name)
            return spider.id if spider else None

    def job(self, project_id: Any, spider_id: Any, number: Any) -> Optional[Job]:
        project = self.project(project_id)
        if project is None:
            return None
        try:
            return project.jobs.get((int(spider_id), int(number)))
        except (TypeError, ValueError):
            return None

    def job_by_key(self, key: str) -> Optional[Job]:
        parts = key.split("/")
        return self.job(*parts) if len(parts) == 3 else None

    def jobs_for_key(self, project_id: int, key: str) -> list[Job]:
        """Jobs addressed by a jobq key: `P/S/J` is one job, `P/S` every job of the spider."""
        parts = key.split("/")
        project = self.project(project_id)
        if project is None or not parts or parts[0] != str(project_id):
            return []
        if len(parts) == 3:
            job = self.job(*parts)
            return [job] if job else []
        if len(parts) == 2 and parts[1].isdigit():
            return sorted(project.jobs_of(int(parts[1])), key=lambda j: j.number)
        return []

    # ------------------------------------------------------------------ job queue queries

    def list_jobs(self, project_id: int, *, spider: Optional[str] = None,
                  spider_id: Optional[int] = None, states: Iterable[str] = (FINISHED,),
                  has_tags: Iterable[str] = (), lacks_tags: Iterable[str] = (),
                  startts: Optional[int] = None, endts: Optional[int] = None,
                  stop: Optional[str] = None) -> list[Job]:
        """Jobs newest first (by the time they entered their state), filtered like
        `jobq/P/list`: *has_tags* match any, *lacks_tags* exclude any, *startts* inclusive,
        *endts* exclusive, *stop* a job key where the listing ends (exclusive)."""
        project = self.projects[project_id]
        if spider is not None:
            found = project.spider_named(spider)
            if found is None:
                return []
            spider_id = found.id
        states = set(states)
        has_tags, lacks_tags = set(has_tags), set(lacks_tags)
        selected = []
        for job in project.jobs_of(spider_id):
            if job.state not in states:
                continue
            tags = set(job.meta.get("tags") or ())
            if has_tags and not tags & has_tags:
                continue
            if lacks_tags & tags:
                continue
            ts = job.ts
            if startts is not None and ts < startts:
                continue
            if endts is not None and ts >= endts:
                continue
            selected.append(job)
        selected.sort(key=lambda j: (j.ts, j.spider_id, j.number), reverse=True)
        if stop is not None:
            for index, job in enumerate(selected):
                if job.key == stop:
                    return selected[:index]
        return selected

    def job_field(self, job: Job, name: str) -> Any:
        """A jobq summary field: counters come from the records, the rest from metadata."""
        if name == "items":
            return len(job.items)
        if name == "logs":
            return len(job.logs)
        if name == "pages":
            return len(job.requests)
        if name == "errors":
            return job.error_count()
        if name == "key":
            return job.key
        return job.meta.get(name)

    def summary_record(self, job: Job, jobmeta: Optional[list[str]] = None,
                       now: Optional[int] = None) -> dict:
        """One jobq record. Without *jobmeta*: spider, the state times, tags (if any) and the
        production extras; with it, only key/state/ts/elapsed plus the named fields."""
        now = self.clock() if now is None else now
        ts = job.ts
        record: dict[str, Any] = {"key": job.key, "state": job.state, "ts": ts,
                                  "elapsed": max(0, now - ts)}
        if jobmeta:
            for name in jobmeta:
                value = self.job_field(job, name)
                if value is not None and name not in record:
                    record[name] = value
            return record
        meta = job.meta
        record["spider"] = meta.get("spider")
        # Only the time of the state the job is in (recorded: a pending job's record has
        # `pending_time`, a finished one's `finished_time` and no earlier times).
        current = f"{job.state}_time"
        if current in meta:
            record[current] = meta[current]
        if meta.get("tags"):
            record["tags"] = list(meta["tags"])
        if job.state != PENDING:
            # Recorded pending records have neither; a finished one (client docs) both.
            for name in ("close_reason", "version"):
                if meta.get(name) is not None:
                    record[name] = meta[name]
            # Counters appear once there is something to count; never as zeros.
            for name in ("items", "logs", "pages", "errors"):
                value = self.job_field(job, name)
                if value:
                    record[name] = value
        return record

    def queue_summary(self, project_id: int, state: str, spider_id: Optional[int] = None,
                      count: Optional[int] = None, start: int = 0,
                      jobmeta: Optional[list[str]] = None) -> dict:
        """`{"name": state, "count": size of the queue, "summary": [records...]}`; without
        *count*, `summary` holds the newest `SUMMARY_DEFAULT` records, as the service."""
        jobs = self.list_jobs(project_id, spider_id=spider_id, states=[state])
        limit = SUMMARY_DEFAULT if count is None else min(count, LIST_LIMIT)
        now = self.clock()
        page = jobs[start:start + limit]
        return {"name": state, "count": len(jobs),
                "summary": [self.summary_record(j, jobmeta, now) for j in page]}

    def last_jobs(self, project_id: int, spider_id: Optional[int] = None) -> list[Job]:
        """The latest (highest-numbered, not deleted) job of each spider, by spider id."""
        project = self.projects[project_id]
        out = []
        for sid in sorted(project.spiders):
            if spider_id is not None and sid != spider_id:
                continue
            jobs = [j for j in project.jobs_of(sid) if j.state != DELETED]
            if jobs:
                out.append(max(jobs, key=lambda j: j.number))
        return out

    def project_summary(self, project_id: int) -> dict:
        project = self.projects[project_id]
        counts = {s: 0 for s in QUEUE_STATES}
        running_units = 0
        for job in project.jobs.values():
            if job.state in counts:
                counts[job.state] += 1
            if job.state == RUNNING:
                running_units += int(job.meta.get("units") or 1)
        return {"project": project_id, "running_units_count": running_units,
                "running": counts[RUNNING], "pending": counts[PENDING],
                "finished": counts[FINISHED], "pending_units_max": None, "has_capacity": True}

    # ------------------------------------------------------------------ job changes

    def set_state(self, job: Job, state: str, extra: Optional[dict] = None,
                  now: Optional[int] = None) -> str:
        """Move *job* to *state* (stamping `<state>_time` and who did it), merge *extra*
        metadata; returns the previous state. Raises ValueError for an unknown state."""
        if state not in STATES:
            raise ValueError(f"unknown job state {state!r}")
        now = self.clock() if now is None else now
        with self.lock:
            prev = job.state
            meta = job.meta
            for name, value in (extra or {}).items():
                if name not in PROTECTED_META:
                    meta[name] = value
            if state != prev:
                meta["state"] = state
                meta[f"{state}_time"] = now
                by = {RUNNING: "started_by", FINISHED: "completed_by", DELETED: "deleted_by"}.get(state)
                if by:
                    meta.setdefault(by, DEMO_USER)
                if state == RUNNING and job.token is None:
                    job.token = self.issue_token(job)
                if state != RUNNING:
                    job.token = None
            return prev

    def _new_job(self, project_id: int, spider: Spider, meta_in: dict, now: int,
                 dash: bool = False) -> Job:
        """A pending job. Recorded metadata of jobs queued through JobQ (push) has no
        `spider_type`, `scheduled_by` or empty `tags`; jobs scheduled through Dash
        (`run.json`) report `spider_type` and `scheduled_by` (protocol section 10.1)."""
        project = self.projects[project_id]
        number = project.next_number(spider.id)
        meta = {"project": project_id, "spider": spider.name, "state": PENDING,
                "priority": 2, "units": 1, "pending_time": now}
        if dash:
            meta.update(spider_type=spider.type, scheduled_by=DEMO_USER)
        if spider.version:
            meta["version"] = spider.version
        for name, value in meta_in.items():
            if name not in PROTECTED_META:
                meta[name] = value
        if not meta.get("tags"):
            meta.pop("tags", None)
        job = self.add_job(project_id, spider.id, number, meta)
        self.record_activity(project_id, {"event": "job:scheduled", "job": job.key,
                                          "user": DEMO_USER}, now)
        return job

    def push_job(self, project_id: int, params: dict) -> Job:
        """`jobq/P/push`: queue a job for spider `params["spider"]` (created when new).
        Raises DuplicateJob when `unique` matches an active job."""
        now = self.clock()
        with self.lock:
            params = dict(params)
            name = params.pop("spider")
            state = params.pop("state", PENDING)
            unique = params.get("unique")
            project = self.projects[project_id]
            if unique is not None:
                for job in project.jobs.values():
                    if job.state in ACTIVE_STATES and job.meta.get("unique") == unique:
                        raise DuplicateJob(f"Active job exists with key {unique}")
            spider = project.spider_named(name) or self.add_spider(project_id, name)
            for name_int in ("priority", "units"):
                if name_int in params:
                    params[name_int] = int(params[name_int])
            job = self._new_job(project_id, spider, params, now)
            if state != PENDING:
                self.set_state(job, state, now=now)
            return job

    def schedule(self, project_id: int, spider_name: str, meta: dict, spider_args: dict,
                 state: str = PENDING) -> Job:
        """Dash `run.json`. Raises UnknownSpider, or DuplicateJob when the same spider with
        the same arguments is still pending or running."""
        now = self.clock()
        with self.lock:
            project = self.projects[project_id]
            spider = project.spider_named(spider_name)
            if spider is None:
                raise UnknownSpider(spider_name)
            for job in project.jobs_of(spider.id):
                if job.state in ACTIVE_STATES and (job.meta.get("spider_args") or {}) == spider_args:
                    raise DuplicateJob(f"{spider_name} already scheduled")
            if spider_args:
                meta = dict(meta, spider_args=spider_args)
            job = self._new_job(project_id, spider, meta, now, dash=True)
            if state != PENDING:
                self.set_state(job, state, now=now)
            return job

    def start_next(self, project_id: int, params: dict) -> Optional[Job]:
        """`jobq/P/startjob`: the pending job with the highest priority (then the oldest)
        becomes running; None when nothing is pending."""
        with self.lock:
            project = self.projects[project_id]
            pending = [j for j in project.jobs.values() if j.state == PENDING]
            if not pending:
                return None
            job = min(pending, key=lambda j: (-int(j.meta.get("priority") or 0),
                                              j.meta.get("pending_time") or 0, j.spider_id, j.number))
            self.set_state(job, RUNNING, dict(params, _shub_worker="kumo"))
            return job

    def cancel(self, job: Job) -> bool:
        """A pending job finishes at once (cancelled); a running one is only marked; True
        when the job was active."""
        with self.lock:
            if job.state not in ACTIVE_STATES:
                return False
            job.meta["cancelled_by"] = DEMO_USER
            self.record_activity(job.project_id, {"event": "job:cancelled", "job": job.key,
                                                  "user": DEMO_USER})
            if job.state == PENDING:
                self.set_state(job, FINISHED, {"close_reason": "cancelled"})
            return True

    def update_tags(self, jobs: Iterable[Job], add: Iterable[str] = (), remove: Iterable[str] = ()) -> int:
        count = 0
        with self.lock:
            for job in jobs:
                tags = list(job.meta.get("tags") or [])
                for tag in add:
                    if tag not in tags:
                        tags.append(tag)
                tags = [t for t in tags if t not in set(remove)]
                job.meta["tags"] = tags
                count += 1
        return count

    def update_meta(self, job: Job, values: dict) -> None:
        with self.lock:
            for name, value in values.items():
                if name not in PROTECTED_META:
                    job.meta[name] = value

    def delete_meta(self, job: Job, name: str) -> None:
        with self.lock:
            if name not in PROTECTED_META:
                job.meta.pop(name, None)

    def purge(self, job: Job) -> None:
        with self.lock:
            self.projects[job.project_id].jobs.pop((job.spider_id, job.number), None)

    def write_records(self, job: Job, resource: str, start: Optional[int], records: list) -> None:
        """Batch write; raises BadRecord, RecordTooLarge or ValueError (a gap)."""
        cleaned = []
        for record in records:
            if resource == "samples":
                if not isinstance(record, list):
                    raise BadRecord("a sample must be a JSON array")
            elif not isinstance(record, dict):
                raise BadRecord(f"a {resource[:-1]} must be a JSON object")
            if resource == "requests":
                # The service drops null parent/fp: they are absent on read.
                record = {k: v for k, v in record.items() if not (k in ("parent", "fp") and v is None)}
            size = len(json.dumps(record, separators=(",", ":")).encode("utf-8"))
            if size > MAX_RECORD_BYTES:
                raise RecordTooLarge(
                    f"Error parsing data, Serialized value too large - max {MAX_RECORD_BYTES} bytes")
            cleaned.append(record)
        job.stores[resource].write(start, cleaned, self.clock())

    # ------------------------------------------------------------------ activity

    def record_activity(self, project_id: int, event: dict, now: Optional[int] = None) -> None:
        """Append one event to the project's activity (`POST activity/P` and job changes)."""
        now = self.clock() if now is None else now
        with self.lock:
            self.projects[project_id].activity.append((now, dict(event)))

    def activity(self, project_id: int, count: Optional[int] = None) -> list[tuple[int, dict]]:
        """The project's events newest first, at most *count* of them."""
        events = sorted(self.projects[project_id].activity, key=lambda e: e[0], reverse=True)
        return events if count is None else events[:max(0, count)]

    # ------------------------------------------------------------------ job credentials

    def issue_token(self, job: Job) -> str:
        """A JWT-shaped job credential (`{"aud": "job:P/S/J"}`, HMAC-signed)."""
        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
        head = b64(b'{"alg":"HS256","typ":"JWT"}')
        body = b64(json.dumps({"aud": f"job:{job.key}"}, separators=(",", ":")).encode())
        sig = hmac.new(self._token_secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(sig)}"

    def check_token(self, job_key: str, token: str) -> bool:
        job = self.job_by_key(job_key)
        if job is None or not token:
            return False
        return hmac.compare_digest(self.issue_token(job), token)
