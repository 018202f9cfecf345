"""Seed data of the Scrapinghub emulator: the `demo` and `bench` data sets.

Layout only: which projects, spiders and jobs exist, with what metadata and how many
records; the records themselves come from `content` on demand, so seeding is cheap (a few
thousand small objects) whatever the job sizes. All times derive from a fixed epoch,
2026-01-01T00:00:00Z, never from the clock. `DEMO_LAYOUT` is the single description both
the seeding code and tests read.

demo:
  101 "bookstore": 1 books (1-4 finished, 5 running, 6 pending), 2 quotes (1-3 finished),
                   3 authors (1-2 finished, 3 pending)
  102 "shop-monitor": 1 products (1-4 finished, 4 cancelled, 5 running), 2 reviews (1-2
                   finished, 2 failed), 3 prices (1,500 finished jobs: the paging spider)
  103 "newsroom": 1 news (1-4 finished, 5 running, 6 pending), 2 feeds (1-3 finished)
  plus collections in 101 and the frontier `products` in 102 (see `seed_stores`).
bench: demo plus 900 "bench": 1 bench, job 900/1/1 finished with 1,000,000 items and jobs
  900/1/2-5 finished with 250,000 items each.
"""

from __future__ import annotations

from typing import Optional

from . import content, seed_stores
from .content import JobSpec
from .records import GeneratedSeq, LazyList, RecordStore
from .state import FINISHED, PENDING, RUNNING, ScrapinghubState

EPOCH_MS = 1767225600000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR

# (project id, name, [(spider name, content kind, [job tuples])]); a job tuple is
# (state, items, tags, close_reason, with_error). Spider ids are 1, 2, 3 in order.
DEMO_LAYOUT = [
    (101, "bookstore", [
        ("books", "books", [
            (FINISHED, 120, ["weekly"], "finished", False),
            (FINISHED, 1000, ["weekly", "full-crawl"], "finished", True),
            (FINISHED, 2000, ["full-crawl"], "finished", False),
            (FINISHED, 37, [], "finished", False),
            (RUNNING, 50, ["weekly"], None, False),
            (PENDING, 0, [], None, False),
        ]),
        ("quotes", "quotes", [
            (FINISHED, 100, [], "finished", False),
            (FINISHED, 10, ["smoke"], "finished", False),
            (FINISHED, 250, [], "finished", True),
        ]),
        ("authors", "authors", [
            (FINISHED, 50, [], "finished", False),
            (FINISHED, 50, ["consumed"], "finished", False),
            (PENDING, 0, [], None, False),
        ]),
    ]),
    (102, "shop-monitor", [
        ("products", "products", [
            (FINISHED, 300, ["daily"], "finished", False),
            (FINISHED, 800, ["daily"], "finished", False),
            (FINISHED, 1200, ["daily", "consumed"], "finished", True),
            (FINISHED, 15, [], "cancelled", False),
            (RUNNING, 200, ["daily"], None, False),
        ]),
        ("reviews", "reviews", [
            (FINISHED, 400, [], "finished", False),
            (FINISHED, 60, [], "failed", True),
        ]),
        ("prices", "prices", "MANY"),
    ]),
    (103, "newsroom", [
        ("news", "news", [
            (FINISHED, 150, ["morning"], "finished", False),
            (FINISHED, 500, ["morning"], "finished", False),
            (FINISHED, 20, ["evening"], "finished", True),
            (FINISHED, 90, ["evening"], "finished", False),
            (RUNNING, 30, ["morning"], None, False),
            (PENDING, 0, [], None, False),
        ]),
        ("feeds", "feeds", [
            (FINISHED, 10, [], "finished", False),
            (FINISHED, 12, [], "finished", False),
            (FINISHED, 14, [], "finished", False),
        ]),
    ]),
]

MANY_JOBS = 1500             # jobs of spider 102/3 "prices"
MANY_JOBS_SPIDER = (102, 3)
BENCH_PROJECT = 900
BENCH_JOB_KEY = "900/1/1"
BENCH_ITEMS = 1_000_000
# Jobs 900/1/2-5: four equal jobs, so that concurrent renders of different files can be
# measured against one render of the same size.
BENCH_SIBLINGS = (2, 3, 4, 5)
BENCH_SIBLING_ITEMS = 250_000


def _many_jobs() -> list[tuple]:
    """The 1,500 small finished jobs of the paging spider (10 to 30 items each)."""
    out = []
    for number in range(1, MANY_JOBS + 1):
        items = 10 + content.mix(102, 3, number) % 21
        tags = ["hourly"] + (["consumed"] if number % 10 == 0 else [])
        out.append((FINISHED, items, tags, "finished", number % 100 == 0))
    return out


def job_times(project: int, spider_id: int, number: int, state: str, items: int,
              paging: bool) -> tuple[int, Optional[int], Optional[int]]:
    """(pending, running, finished) times of a seeded job, fixed relative to EPOCH_MS."""
    if paging:
        pending = EPOCH_MS + number * 20 * 60_000
    else:
        pending = EPOCH_MS + number * 2 * DAY + spider_id * 7 * 60_000 + (project - 100) * 60_000
    if state == PENDING:
        return EPOCH_MS + 40 * DAY + spider_id * 60_000, None, None
    if state == RUNNING:
        return EPOCH_MS + 39 * DAY, EPOCH_MS + 39 * DAY + 30_000 + spider_id * 1_000, None
    running = pending + 20_000
    duration = 60_000 + items * 350
    return pending, running, running + duration


def _job_stores(spec: JobSpec) -> dict[str, RecordStore]:
    logs = LazyList(lambda: content.log_records(spec))
    return {
        "items": RecordStore(GeneratedSeq(spec.items, lambda i: content.make_item(spec, i)),
                             ts_fn=lambda i: content.item_ts(spec, i)),
        "logs": RecordStore(logs, ts_fn=lambda i: logs[i]["time"], by_level=True),
        "requests": RecordStore(GeneratedSeq(spec.pages, lambda i: content.make_request(spec, i)),
                                ts_fn=lambda i: content.make_request(spec, i)["time"]),
        "samples": RecordStore(GeneratedSeq(content.sample_count(spec),
                                            lambda i: content.make_sample(spec, i)),
                               ts_fn=lambda i: content.make_sample(spec, i)[0]),
    }


def _job_meta(spec: JobSpec, tags: list, version: str) -> dict:
    """Metadata as the service shows it; a queued or running job's has no `spider_type`,
    `scheduled_by` or empty `tags` (recorded real responses)."""
    meta = {
        "project": spec.project,
        "spider": spec.spider,
        "state": spec.state,
        "priority": 2,
        "units": 1,
        "pending_time": spec.pending_time,
        "version": version,
        "deploy_id": 3,
    }
    if tags or spec.state not in (PENDING, RUNNING):
        meta["tags"] = list(tags)
    if spec.state not in (PENDING, RUNNING):
        meta.update(spider_type="manual", scheduled_by="demo")
    if spec.kind == "news":
        meta["spider_args"] = {"edition": "morning" if "morning" in tags else "evening"}
    if spec.running_time is not None:
        meta.update(started_by="jobrunner", running_time=spec.running_time)
    if spec.finished_time is not None:
        meta.update(completed_by="jobrunner", finished_time=spec.finished_time,
                    close_reason=spec.close_reason or "finished",
                    scrapystats=content.scrapy_stats(spec))
    return meta


def seed_demo(state: ScrapinghubState) -> None:
    """Fill *state* with the demo data set (see the module docstring)."""
    for project_id, name, spiders in DEMO_LAYOUT:
        state.add_project(project_id, name)
        bot = name.replace("-", "_")
        version = f"{content.Rng(project_id).hex(7)}-main"
        for spider_id, (spider_name, kind, jobs) in enumerate(spiders, start=1):
            state.add_spider(project_id, spider_name, spider_id, version=version)
            paging = jobs == "MANY"
            if paging:
                jobs = _many_jobs()
            for number, (job_state, items, tags, reason, with_error) in enumerate(jobs, start=1):
                pending, running, finished = job_times(project_id, spider_id, number, job_state,
                                                       items, paging)
                spec = JobSpec(project_id, spider_id, spider_name, kind, number, job_state,
                               items if job_state != PENDING else 0, pending, running, finished,
                               reason, bot=bot, with_error=with_error)
                state.add_job(project_id, spider_id, number, _job_meta(spec, tags, version),
                              _job_stores(spec))
                _seed_activity(state, spec)
    seed_stores.seed_stores(state, EPOCH_MS + 35 * DAY)


def _seed_activity(state: ScrapinghubState, spec: JobSpec) -> None:
    """The activity a seeded job left: scheduled, and cancelled when it was."""
    key = f"{spec.project}/{spec.spider_id}/{spec.number}"
    state.record_activity(spec.project, {"event": "job:scheduled", "job": key, "user": "demo"},
                          spec.pending_time)
    if spec.close_reason == "cancelled" and spec.finished_time is not None:
        state.record_activity(spec.project, {"event": "job:cancelled", "job": key,
                                             "user": "demo"}, spec.finished_time)


def seed_bench(state: ScrapinghubState) -> None:
    """The demo data set plus project 900 with the 1,000,000-item job 900/1/1."""
    seed_demo(state)
    state.add_project(BENCH_PROJECT, "bench")
    state.add_spider(BENCH_PROJECT, "bench", 1, version="bench-1")
    pending = EPOCH_MS + 30 * DAY
    running, finished = pending + 10_000, pending + 3_610_000  # one hour of run
    # A million request records would only slow this job's stats down and the bench is
    # about items, so the job reports 1,000 requests (as if each page listed 1,000 items).
    spec = JobSpec(BENCH_PROJECT, 1, "bench", "bench", 1, FINISHED, BENCH_ITEMS, pending, running,
                   finished, "finished", bot="bench", fixed_pages=1000)
    stores = _job_stores(spec)
    # The items encode themselves from templates and know their stats (see content.BenchItems).
    stores["items"] = RecordStore(content.BenchItems(BENCH_ITEMS),
                                  ts_fn=lambda i: running + 5_000 + i * 3,
                                  stats_fn=lambda: content.bench_item_stats(BENCH_ITEMS))
    state.add_job(BENCH_PROJECT, 1, 1, _job_meta(spec, ["bench"], "bench-1"), stores)
    for number in BENCH_SIBLINGS:
        spec = JobSpec(BENCH_PROJECT, 1, "bench", "bench", number, FINISHED, BENCH_SIBLING_ITEMS,
                       pending, running, finished, "finished", bot="bench", fixed_pages=250)
        stores = _job_stores(spec)
        stores["items"] = RecordStore(content.BenchItems(BENCH_SIBLING_ITEMS),
                                      ts_fn=lambda i: running + 5_000 + i * 3,
                                      stats_fn=lambda: content.bench_item_stats(BENCH_SIBLING_ITEMS))
        state.add_job(BENCH_PROJECT, 1, number, _job_meta(spec, ["bench"], "bench-1"), stores)


SEEDS = {"demo": seed_demo, "bench": seed_bench}


# -- project 901 "dask-bench" (bench/dask_items.py): many mid-sized finished jobs ---------
DASK_PROJECT = 901
DASK_SPIDERS = ("north", "south")
DASK_JOBS_PER_SPIDER = 10
DASK_JOB_ITEMS = 100_000  # 20 jobs, 2,000,000 items in all


def seed_dask_bench(state: ScrapinghubState) -> None:
    """Project 901: spiders north and south, jobs 1-10 each, 100,000 bench items a job."""
    state.add_project(DASK_PROJECT, "dask-bench")
    for spider_id, spider in enumerate(DASK_SPIDERS, start=1):
        state.add_spider(DASK_PROJECT, spider, spider_id, version="bench-1")
        for number in range(1, DASK_JOBS_PER_SPIDER + 1):
            pending = EPOCH_MS + 31 * DAY + (spider_id * 100 + number) * 600_000
            running, finished = pending + 10_000, pending + 310_000
            spec = JobSpec(DASK_PROJECT, spider_id, spider, "bench", number, FINISHED,
                           DASK_JOB_ITEMS, pending, running, finished, "finished", bot="bench",
                           fixed_pages=100)
            stores = _job_stores(spec)
            stores["items"] = RecordStore(
                content.BenchItems(DASK_JOB_ITEMS), ts_fn=lambda i, t=running: t + 5_000 + i * 3,
                stats_fn=lambda: content.bench_item_stats(DASK_JOB_ITEMS))
            state.add_job(DASK_PROJECT, spider_id, number, _job_meta(spec, ["bench"], "bench-1"),
                          stores)


def _seed_bench_with_dask_project(state: ScrapinghubState) -> None:
    seed_bench(state)
    seed_dask_bench(state)


SEEDS["bench"] = _seed_bench_with_dask_project
