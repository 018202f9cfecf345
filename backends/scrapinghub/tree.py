"""The Scrapinghub service as a hubfs node tree.

```
<remote>/<project-id>/spiders/<spider-name>/<job-number>/
    meta.json  items.jl  logs.jl  log.txt  requests.jl  samples.jl  tags
<remote>/<project-id>/collections/...   (collections.py)
<remote>/<project-id>/frontier/...      (frontier.py)
<remote>/<project-id>/activity.jl       the project's activity events
```
Projects come from the key's project list (or the `projects` option), spiders from the
project's spider list, jobs from the job queue, newest first, every state, one request
per page of 1000 jobs; listing never touches job data. Lookups of one name ask the
service for that name only (the spider id, the job's metadata), and names that cannot be
ids fail without a request. A finished or deleted job is immutable: its record files are
rendered once and cached under a key naming the storage host, the job and the rendering
version. A pending or running job's record files are growing and appendable, the cursor
being the index of the next record. `meta.json` is always re-read, since tags and
metadata change after a job ends, and so is the writable `tags` file (`tags.py`), which
stays mutable inside an immutable job directory. Times come from the job (finish, else
start, else schedule time); directories without one use the remote's start time. Record
formats are in `render.py`.
"""

import hashlib
import json
import threading

import cachetools

from hubfs import stats
from hubfs.errors import NotFound, ServiceError
from hubfs.tree import Dir, File, Kind, StaticDir

from . import render
from .stores import CollectionsDir
from .collections_api import CollectionsAPI
from .frontier import FrontiersDir
from .frontier_api import FrontierAPI
from .job_batches import JobBatches
from .tags import TagsFile

IMMUTABLE_STATES = frozenset(("finished", "deleted"))
# The record files of a job: file name, stream, page renderer (listing order). None: the
# service's own JSON lines, passed through (render.py); else decoded records rendered.
RECORD_FILES = (
    ("items.jl", "items", None),
    ("logs.jl", "logs", None),
    ("log.txt", "logs", render.log_lines),
    ("requests.jl", "requests", None),
    ("samples.jl", "samples", None),
)
# Metadata of this many finished jobs is kept per remote (about 1 KiB each), so that a
# second walk over a project asks nothing for them (meta.json and tags).
FINISHED_META_CACHE = 20_000
# Metadata fields never shown in a mounted meta.json: the job's `auth` token is a
# credential for the job's data (the service sends it to running jobs).
SECRET_META = frozenset(("auth",))
# Streams whose records carry a `_key` the service appends last, so that a page of
# several jobs can be cut into jobs (job_batches.py); samples are arrays and carry none.
BATCHED_STREAMS = frozenset(("items", "logs", "requests"))


class Site:
    """What every node of one remote shares: the client, the remote's start time, the
    optional fixed project list and the cache-key prefix."""

    def __init__(self, client, started, projects=None, fstat_during_render="wait"):
        self.client = client
        self.fstat_during_render = fstat_during_render
        self.name = client.name
        self.started = started
        self.projects = projects
        host = hashlib.sha1(client.storage_url.encode("utf-8")).hexdigest()[:12]
        self.cache_prefix = f"scrapinghub/{render.FORMAT_VERSION}/{host}"
        self.collections = CollectionsAPI(client)
        self.frontier = FrontierAPI(client)
        self.batches = JobBatches(client)
        self._finished_meta = cachetools.LRUCache(FINISHED_META_CACHE)
        self._meta_lock = threading.Lock()

    def job_meta(self, project, spider_id, job):
        """Job P/S/J's metadata (None when the job does not exist), without secrets.

        A finished or deleted job's metadata is kept once read: nothing about the job
        changes after it ends except through its `tags` file, whose commit calls
        `forget_job_meta` (a tag changed elsewhere shows after the entry ages out or at
        the next mount)."""
        key = (project, spider_id, job)
        with self._meta_lock:
            meta = self._finished_meta.get(key)
        if meta is not None:
            return meta
        meta = self.client.job_meta(project, spider_id, job)
        if meta is None:
            return None
        meta = {name: value for name, value in meta.items() if name not in SECRET_META}
        if meta.get("state") in IMMUTABLE_STATES:
            with self._meta_lock:
                self._finished_meta[key] = meta
        return meta

    def forget_job_meta(self, project, spider_id, job):
        with self._meta_lock:
            self._finished_meta.pop((project, spider_id, job), None)


def number(name):
    """The int a canonical decimal name stands for, else None ("007" is not job 7)."""
    if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")):
        return int(name)
    return None


def job_mtime(record, default):
    """Seconds since the epoch of a job's last known state change."""
    for field in ("finished_time", "running_time", "pending_time"):
        value = record.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value / 1000.0
    return default


class RootDir(Dir):
    def __init__(self, site):
        super().__init__("", site.started)
        self.site = site

    def _projects(self):
        if self.site.projects is not None:
            return self.site.projects
        return self.site.client.list_projects()

    def children(self):
        for project in sorted(self._projects()):
            yield ProjectDir(self.site, project)

    def child(self, name):
        project = number(name)
        if project is None:
            raise NotFound(f"{self.site.name}: no project {name!r} (project names are ids)")
        projects = self._projects()
        # Admin keys list no projects at all: then any id is tried as asked.
        if projects and project not in projects:
            raise NotFound(f"{self.site.name}: project {project} is not among the key's projects")
        return ProjectDir(self.site, project)


class ProjectDir(StaticDir):
    """A project: a fixed set of sections. A new section (collections, frontier) is one
    more class with a `NAME` in `SECTIONS`."""

    SECTIONS = ()  # filled below, once the section classes exist

    def __init__(self, site, project):
        super().__init__(str(project), [cls(site, project) for cls in self.SECTIONS],
                         mtime=site.started)
        self.project = project


class SpidersDir(Dir):
    NAME = "spiders"

    def __init__(self, site, project):
        super().__init__(self.NAME, site.started)
        self.site = site
        self.project = project

    def children(self):
        for name in sorted(self.site.client.list_spiders(self.project)):
            yield SpiderDir(self.site, self.project, name)

    def child(self, name):
        spider_id = self.site.client.spider_id(self.project, name)
        if spider_id is None:
            raise NotFound(f"{self.site.name}: no spider {name!r} in project {self.project}")
        return SpiderDir(self.site, self.project, name, spider_id)


class ActivityFile(File):
    """`activity.jl`: the project's activity (job scheduled, cancelled, ...), newest
    first, one event per line as the storage API gives it, with its `_ts` (ms). Re-read
    whenever its attributes expire: events keep arriving."""

    NAME = "activity.jl"
    kind = Kind.RENDERED

    def __init__(self, site, project):
        super().__init__(self.NAME, site.started, immutable=False)
        self.site = site
        self.project = project

    def render(self, after=None):
        yield self.site.client.activity(self.project), None


ProjectDir.SECTIONS = (SpidersDir, CollectionsDir, FrontiersDir, ActivityFile)


class SpiderDir(Dir):
    """A spider's jobs, newest first; its numeric id is asked only when a lookup needs it
    (a listing needs none: job keys carry it)."""

    def __init__(self, site, project, name, spider_id=None):
        super().__init__(name, site.started)
        self.site = site
        self.project = project
        self._spider_id = spider_id

    def spider_id(self):
        if self._spider_id is None:
            self._spider_id = self.site.client.spider_id(self.project, self.name)
            if self._spider_id is None:
                raise NotFound(f"{self.site.name}: no spider {self.name!r} "
                               f"in project {self.project}")
        return self._spider_id

    def children(self):
        seen = set()
        for page in self.site.client.iter_jobs(self.project, self.name):
            for record in page:
                try:
                    _, spider_id, job = (int(part) for part in record["key"].split("/"))
                except (KeyError, ValueError, AttributeError):
                    continue  # not a job key: nothing a directory could be made of
                # Jobs scheduled during the listing shift the pages by one: skip repeats.
                if job in seen:
                    continue
                seen.add(job)
                yield JobDir(self.site, self.project, spider_id, job, record)

    def child(self, name):
        job = number(name)
        if job is None:
            raise NotFound(f"{self.site.name}: no job {name!r} of spider {self.name!r} "
                           "(job names are numbers)")
        spider_id = self.spider_id()
        meta = self.site.job_meta(self.project, spider_id, job)
        if meta is None or meta.get("spider", self.name) != self.name:
            raise NotFound(f"{self.site.name}: no job {self.project}/{spider_id}/{job} "
                           f"of spider {self.name!r}")
        return JobDir(self.site, self.project, spider_id, job, meta)


class JobDir(StaticDir):
    """Job P/S/J; *info* is its metadata or its job-queue record (state and times)."""

    def __init__(self, site, project, spider_id, job, info):
        self.site = site
        self.project = project
        self.spider_id = spider_id
        self.job = job
        self.state = info.get("state")
        mtime = job_mtime(info, site.started)
        immutable = self.state in IMMUTABLE_STATES
        if immutable:
            site.batches.finished(project, spider_id, job)
        files = [MetaFile(self, mtime)] + [
            RecordFile(self, name, source, renderer, mtime, immutable)
            for name, source, renderer in RECORD_FILES] + [TagsFile(self, mtime)]
        super().__init__(str(job), files, mtime=mtime, immutable=immutable)

    @property
    def key(self):
        return f"{self.project}/{self.spider_id}/{self.job}"

    def metadata(self):
        """The job's metadata dict (secrets removed); NotFound when the job is gone."""
        meta = self.site.job_meta(self.project, self.spider_id, self.job)
        if meta is None:
            raise NotFound(f"{self.site.name}: job {self.key} no longer exists")
        return meta

    def forget_metadata(self):
        self.site.forget_job_meta(self.project, self.spider_id, self.job)


class MetaFile(File):
    """`meta.json`: small, re-read each time (tags and metadata change after the end)."""

    kind = Kind.RENDERED

    def __init__(self, job, mtime):
        super().__init__("meta.json", mtime, immutable=False)
        self.job = job

    def render(self, after=None):
        yield render.meta_json(self.job.metadata()), None


class RecordFile(File):
    """One record stream of a job rendered page by page; cursor = next record index."""

    def __init__(self, job, name, source, page_renderer, mtime, immutable):
        super().__init__(name, mtime, immutable)
        self.job = job
        self.source = source
        self.page_renderer = page_renderer
        self.kind = Kind.RENDERED if immutable else Kind.GROWING
        self.appendable = not immutable
        # Read by the core's content manager (hubfs.fuse.content): "wait" or "partial".
        self.fstat_during_render = job.site.fstat_during_render

    def cache_key(self):
        if not self.immutable:
            return None
        return f"{self.job.site.cache_prefix}/{self.job.key}/{self.name}"

    def render(self, after=None):
        job = self.job
        client = job.site.client
        where = (self.source, job.project, job.spider_id, job.job)
        start = cursor = 0 if after is None else int(after)
        if self.immutable and after is None and self.source in BATCHED_STREAMS:
            batched = job.site.batches.records(*where)
            if batched is not None:
                yield self._from_batch(*batched), batched[1]
                return
        try:
            if self.immutable:
                # A finished job: one page first (most jobs fit in it, and no stats are
                # asked then); a full one means more, so take the final count from the
                # stats and fetch the rest several pages at a time.
                pages = client.record_pages(*where, start, None, self.page_renderer,
                                            max_pages=1)
                for chunk, count in pages:
                    cursor += count
                    stats.report(records=cursor)
                    yield chunk, cursor
                if cursor - start < client.sequential_page:
                    pages = ()
                else:
                    total = client.record_count(*where)
                    stats.report(records=cursor, expected=total)  # `hubfs status`: N of total
                    pages = client.record_pages(*where, cursor, total, self.page_renderer)
            else:
                # A growing stream is read to its end.
                pages = client.record_pages(*where, start, None, self.page_renderer)
            for chunk, count in pages:
                cursor += count
                stats.report(records=cursor)
                yield chunk, cursor
        except render.RenderError as exc:
            raise ServiceError(f"{job.site.name}: {job.key}/{self.name}: {exc}") from None
        if self.immutable and after is None and self.source in BATCHED_STREAMS:
            job.site.batches.rendered(*where[:3], cursor)
        if cursor == start:
            # Nothing (new): still hand back a cursor, so the next snapshot can extend.
            yield b"", cursor

    def _from_batch(self, data, count):
        """This file's bytes from the stream's JSON lines read in a batch."""
        if self.page_renderer is None or not data:
            return data
        try:
            records = json.loads(b"[" + data.replace(b"\n", b",")[:-1] + b"]")
        except ValueError:
            raise ServiceError(f"{self.job.site.name}: {self.job.key}/{self.name}: a batch "
                               "of records is not JSON lines") from None
        try:
            return self.page_renderer(records)
        except render.RenderError as exc:
            raise ServiceError(f"{self.job.site.name}: {self.job.key}/{self.name}: {exc}") from None
