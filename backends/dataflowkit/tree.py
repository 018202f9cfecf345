"""The Dataflow Kit tree: tasks, their processes, and the results of finished processes.

```
tasks/<task-id>/task.json                         the task object (indented, sorted keys)
tasks/<task-id>/processes/<process-id>/process.json
tasks/<task-id>/processes/<process-id>/results.<ext>   finished processes only
```
`results.<ext>` takes its extension from the task's payload `format` (`csv`, `json`,
`jsonl`, `excel` -> `xlsx`, `xml`; else the results file name's own extension) and is the
file `getlink` points at, byte for byte, with its real size. Failed, canceled, pending
(credits ran out) and running processes have no results file; their `process.json` says
why in its `hubfs_results` member, next to the service's own fields. A process that has
ended as finished, failed or canceled can no longer change, so its directory and
`process.json` are immutable (long kernel timeouts); a running or pending one is
listed again after a few seconds, so its results file shows up soon after it finishes. Task directories show the remote's start time (the
service gives tasks no time); processes their `finishedAt`, else `startedAt`.
"""

import json

from hubfs import names
from hubfs.errors import AccessDenied, InvalidContent, NotFound
from hubfs.tree import Dir, File, Kind, StaticDir

from .client import LinkExpired

TASK_JSON = "task.json"
PROCESS_JSON = "process.json"
PROCESSES = "processes"
EXTENSIONS = {"csv": "csv", "json": "json", "jsonl": "jsonl", "excel": "xlsx", "xlsx": "xlsx",
              "xml": "xml"}
FINAL = frozenset(("finished", "failed", "canceled", "cancelled"))
# Seconds a running or pending process's directory listing is trusted.
UNFINISHED_TTL = 5.0
WHY_NOT = {
    "failed": "none: the process failed (see logFile)",
    "canceled": "none: the process was canceled",
    "cancelled": "none: the process was canceled",
    "running": "none yet: the process is still running",
    "initialized": "none yet: the process has not started",
}

_encode = json.JSONEncoder(ensure_ascii=False, indent=2, sort_keys=True).encode


def dumps(value):
    return (_encode(value) + "\n").encode("utf-8")


class Site:
    def __init__(self, client, name, started):
        self.client = client
        self.name = name
        self.started = started


def root(site):
    return StaticDir(site.name, [TasksDir(site)], mtime=site.started)


def _seconds(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def results_extension(task, process):
    fmt = str(((task or {}).get("payload") or {}).get("format") or "").lower()
    if fmt in EXTENSIONS:
        return EXTENSIONS[fmt]
    name = str(process.get("results") or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return EXTENSIONS.get(ext, "dat")


def results_note(process, file_name):
    """What `hubfs_results` says: the file's name, or why there is none."""
    status = str(process.get("status"))
    if status == "finished":
        return file_name if file_name else "none: the service names no results file"
    if status == "pending":
        missing = process.get("missingCredits")
        return (f"none: the process is pending, {missing} more credits are needed to "
                "complete it (partial results stay with the service)")
    return WHY_NOT.get(status, f"none: the process is {status}")


def _id_of(site, name, what):
    """The service id a file name stands for; `NotFound` for a name no id can give (an
    id in a URL path cannot be empty, `.`, `..` or hold `/`)."""
    try:
        value = names.unescape(name)
    except InvalidContent:
        value = None
    if not value or "/" in value or value in (".", ".."):
        raise NotFound(f"{site.name}: no {what} {name!r}")
    return value


class TasksDir(Dir):
    def __init__(self, site):
        super().__init__("tasks", site.started)
        self.site = site

    def children(self):
        for task in self.site.client.list_tasks():
            name = names.file_name(task["id"])
            if name is not None:
                yield TaskDir(self.site, task, name)

    def child(self, name):
        return TaskDir(self.site, self.site.client.task(_id_of(self.site, name, "task")), name)


class TaskDir(Dir):
    def __init__(self, site, task, name):
        super().__init__(name, site.started)
        self.site = site
        self.task = task

    def children(self):
        yield TaskFile(self)
        yield ProcessesDir(self)

    def child(self, name):
        if name == TASK_JSON:
            return TaskFile(self)
        if name == PROCESSES:
            return ProcessesDir(self)
        raise NotFound(f"{self.site.name}: tasks/{self.name}: no {name!r}")


class TaskFile(File):
    kind = Kind.RENDERED

    def __init__(self, task_dir):
        super().__init__(TASK_JSON, task_dir.mtime)
        self.task_dir = task_dir

    def render(self, after=None):
        yield dumps(self.task_dir.site.client.task(self.task_dir.task["id"])), None


class ProcessesDir(Dir):
    def __init__(self, task_dir):
        super().__init__(PROCESSES, task_dir.mtime)
        self.task_dir = task_dir
        self.site = task_dir.site

    def children(self):
        for process in self.site.client.task_processes(self.task_dir.task["id"]):
            name = names.file_name(process["id"])
            if name is not None:
                yield ProcessDir(self, process, name)

    def child(self, name):
        process = self.site.client.process(_id_of(self.site, name, "process"))
        if process.get("taskID") not in (None, self.task_dir.task["id"]):
            raise NotFound(f"{self.site.name}: process {process['id']} belongs to another task")
        return ProcessDir(self, process, name)


class ProcessDir(Dir):
    def __init__(self, processes, process, name):
        status = str(process.get("status"))
        mtime = _seconds(process.get("finishedAt")) or _seconds(process.get("startedAt"))
        super().__init__(name, mtime or processes.site.started, immutable=status in FINAL)
        if not self.immutable:
            # A running process gets its results file when it finishes: look again soon.
            self.ttl = UNFINISHED_TTL
        self.site = processes.site
        self.task = processes.task_dir.task
        self.process = process

    @property
    def where(self):
        return f"{self.site.name}: process {self.process['id']}"

    def results_name(self):
        if self.process.get("status") != "finished" or not self.process.get("results"):
            return None
        return f"results.{results_extension(self.task, self.process)}"

    def refresh(self):
        """An unfinished process may have ended since it was listed: ask again."""
        if not self.immutable:
            self.process = self.site.client.process(self.process["id"])

    def children(self):
        self.refresh()
        results = self.results_name()
        yield ProcessFile(self)
        if results is not None:
            yield ResultsFile(self, results)

    def child(self, name):
        if name == PROCESS_JSON:
            return ProcessFile(self)
        self.refresh()
        results = self.results_name()
        if results is not None and name == results:
            return ResultsFile(self, results)
        raise NotFound(f"{self.where}: no {name!r} (status {self.process.get('status')})")


class ProcessFile(File):
    kind = Kind.RENDERED

    def __init__(self, process_dir):
        super().__init__(PROCESS_JSON, process_dir.mtime, immutable=process_dir.immutable)
        self.process_dir = process_dir

    def cache_key(self):
        if not self.immutable:
            return None
        site = self.process_dir.site
        return f"dataflowkit:{site.client.url}:process:{self.process_dir.process['id']}:v1"

    def render(self, after=None):
        self.process_dir.refresh()  # (immutable: nothing to ask)
        process = self.process_dir.process
        shown = dict(process)
        shown["hubfs_results"] = results_note(process, self.process_dir.results_name())
        yield dumps(shown), None


class ResultsFile(File):
    """A finished process's results, read by range from the presigned URL. The link is
    fetched once, with the size, when the node is made (in a listing or a lookup)."""

    kind = Kind.SIZED

    def __init__(self, process_dir, name):
        super().__init__(name, process_dir.mtime, immutable=True)
        self.process_dir = process_dir
        self.results = process_dir.process["results"]
        self._link = None
        # The ETag (when the storage sends one) pins the bytes an open reads.
        self.size, self.version = self._with_link(lambda client, link: client.size(link))

    def _with_link(self, call):
        """Run `call(client, link)`; a refused link (they live about an hour) is fetched
        again once."""
        client = self.process_dir.site.client
        for attempt in (1, 2):
            if self._link is None:
                self._link = client.getlink(self.results)
            try:
                return call(client, self._link)
            except LinkExpired:
                self._link = None
        raise AccessDenied(f"{self.process_dir.where}: the storage refused a fresh link to "
                           f"{self.results}")

    def read(self, offset, length, version=None):
        return self._with_link(lambda client, link: client.read(
            link, offset, length, self.size, version or self.version))
