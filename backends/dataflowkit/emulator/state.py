"""State of the Dataflow Kit emulator: tasks, processes that progress with a clock, results files.

A process is stored as what it was told to do (start time, how long it runs, how it ends:
`finished`, `failed` or `pending` for lack of credits, how many pages it fetches) and its
visible object (protocols/dataflowkit.md section 5) is computed for the current time of
the injectable *clock* (seconds): `running` with growing request counts until its
duration has passed, then its outcome, with `finishedAt`, `cost` and the `results` file
name filled in, and for `finished` and `pending` (partial data) a results file made by
`results` in the task's format. `cancel` ends a running process as `canceled`. Ids are
27 base62 characters like the service's KSUIDs. Errors are `StateError(status, text)`.
Thread-safe (one lock).
"""

import hashlib
import threading
import time
from datetime import datetime, timezone

from . import results

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CREDITS_PER_PAGE = 5
ROWS_PER_PAGE = 10
NOT_FOUND = "404. Not found"


class StateError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


class Process:
    def __init__(self, process_id, task_id, started, duration, outcome, pages, missing=0):
        self.id = process_id
        self.task_id = task_id
        self.started = started
        self.duration = duration
        self.outcome = outcome
        self.pages = pages
        self.missing = missing
        self.canceled_at = None
        self.results_name = None


class DataflowKitState:
    def __init__(self, clock=None):
        self.clock = clock or time.time
        self.lock = threading.RLock()
        self.tasks = {}  # id -> task object, in creation order
        self.processes = {}  # id -> Process
        self.files = {}  # results file name -> bytes
        self._counter = 0
        # How the next run of a task ends, for tests: task id -> (outcome, duration, pages).
        self.next_runs = {}

    def new_id(self):
        self._counter += 1
        number = int.from_bytes(hashlib.sha1(f"dfk:{self._counter}".encode()).digest()[:20], "big")
        out = []
        for _ in range(27):
            number, digit = divmod(number, 62)
            out.append(BASE62[digit])
        return "".join(out)

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, body, name=None):
        if not isinstance(body, dict):
            raise StateError(400, "Bad Request: the task is not a JSON object")
        if isinstance(body.get("payload"), dict):
            payload = body["payload"]
            task = {"name": body.get("name", payload.get("name", "")),
                    "description": body.get("description", ""), "type": body.get("type", "extract"),
                    "payload": payload, "webhook": body.get("webhook", "")}
        else:
            payload = body
            task = {"name": name or body.get("name", ""), "description": "", "type": "extract",
                    "payload": payload, "webhook": ""}
        self._check_payload(payload)
        with self.lock:
            task = {"id": self.new_id(), **task}
            self.tasks[task["id"]] = task
            return task

    @staticmethod
    def _check_payload(payload):
        if not isinstance(payload.get("request"), dict) or not payload["request"].get("url"):
            raise StateError(400, "Bad Request: payload.request.url is required")
        fields = payload.get("fields")
        if not isinstance(fields, list) or not fields or not all(
                isinstance(f, dict) and f.get("name") and f.get("selector") for f in fields):
            raise StateError(400, "Bad Request: payload.fields must list fields with a name "
                                  "and a selector")
        if results.extension(payload.get("format")) is None:
            raise StateError(400, "Bad Request: payload.format must be one of csv, json, "
                                  "jsonl, excel, xml")

    def task(self, task_id):
        task = self.tasks.get(task_id)
        if task is None:
            raise StateError(404, NOT_FOUND)
        return task

    def update_task(self, task_id, changes):
        if not isinstance(changes, dict):
            raise StateError(400, "Bad Request: the task is not a JSON object")
        with self.lock:
            task = self.task(task_id)
            merged = {**task, **{k: v for k, v in changes.items() if k != "id"}}
            self._check_payload(merged["payload"])
            task.update(merged)
            return task

    def delete_task(self, task_id):
        with self.lock:
            self.task(task_id)
            del self.tasks[task_id]
            for process in [p for p in self.processes.values() if p.task_id == task_id]:
                del self.processes[process.id]
                if process.results_name:
                    self.files.pop(process.results_name, None)

    # -- processes -----------------------------------------------------------------------

    def run_task(self, task_id, outcome="finished", duration=30.0, pages=5, started=None,
                 missing=0, canceled_at=None):
        with self.lock:
            self.task(task_id)
            outcome, duration, pages = self.next_runs.pop(task_id, (outcome, duration, pages))
            process = Process(self.new_id(), task_id, self.clock() if started is None else started,
                              duration, outcome, pages, missing)
            process.canceled_at = canceled_at
            self.processes[process.id] = process
            return self.view(process)

    def process(self, process_id):
        process = self.processes.get(process_id)
        if process is None:
            raise StateError(404, NOT_FOUND)
        return process

    def cancel(self, process_id):
        with self.lock:
            process = self.process(process_id)
            if self._status(process) == "running":
                process.canceled_at = self.clock()
            return self.view(process)

    def task_processes(self, task_id):
        with self.lock:
            self.task(task_id)
            return [self.view(p) for p in self.processes.values() if p.task_id == task_id]

    def _status(self, process):
        if process.canceled_at is not None:
            return "canceled"
        if self.clock() < process.started + process.duration:
            return "running"
        return process.outcome

    def view(self, process):
        """The process object as the service shows it now."""
        with self.lock:
            status = self._status(process)
            now = self.clock()
            ended = process.canceled_at if status == "canceled" else process.started + process.duration
            if status == "running" or status == "canceled":
                fraction = min(1.0, max(0.0, ((ended if status == "canceled" else now)
                                              - process.started) / max(process.duration, 1e-9)))
                requests = int(process.pages * fraction)
            else:
                requests = process.pages
            responses = requests if status != "failed" else max(0, requests - 1)
            done = status not in ("running",)
            if status in ("finished", "pending") and process.results_name is None:
                self._write_results(process, ended, responses)
            return {
                "id": process.id,
                "status": status,
                "taskID": process.task_id,
                "startedAt": str(int(process.started)),
                "finishedAt": str(int(ended)) if done else None,
                "requestCount": requests,
                "responseCount": responses,
                "results": process.results_name or "" if done else "",
                "logFile": "",
                "missingCredits": process.missing if status == "pending" else 0,
                "cost": responses * CREDITS_PER_PAGE if done else 0,
            }

    def _write_results(self, process, ended, pages):
        task = self.tasks[process.task_id]
        ext = results.extension(task["payload"].get("format"))
        columns = results.columns_of(task["payload"])
        rows = results.make_rows(process.id, columns, pages * ROWS_PER_PAGE)
        stamp = datetime.fromtimestamp(ended, timezone.utc).strftime("%Y-%m-%d_%H:%M")
        name = f"{hashlib.sha1(process.id.encode()).hexdigest()[:8]}_{stamp}.{ext}"
        self.files[name] = results.render(rows, columns, ext)
        process.results_name = name
