"""Benchmark: count every item of a 20-job project with Dask over hubfs:// vs the official client.

Project 901 of the emulator's `bench` data: 20 finished jobs of 100,000 items (2,000,000
in all). Side by side in one run, rounds in alternating order:
- official: one process loops over the project's jobs with the `scrapinghub` client and
  counts `job.items.iter()` (what a user writes today without hubfs);
- dask: `dask.bag.read_text("hubfs://zyte/901/spiders/*/*/items.jl").count()` on a
  `distributed.LocalCluster` of two single-threaded worker processes, each round with an
  empty disk cache (every job is fetched and rendered), the cluster started once before
  (its start-up is reported apart); then the same count again on the now warm disk
  cache (files rendered by the first count are read from it, as a second analysis would).
Both counts must be 2,000,000. With `--pinned` the emulator runs on CPU 0 and the tool
(the official process, or both Dask workers) on CPU 1; the default leaves the scheduler
free, which is how a user runs it on this 2-core machine.
Usage: python bench/dask_items.py [--rounds 3] [--pinned] [--json bench/results/x.json]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO, pinned, start_emulator

from backends.scrapinghub.emulator import DEMO_APIKEY
from backends.scrapinghub.emulator.seed import (DASK_JOB_ITEMS, DASK_JOBS_PER_SPIDER,
                                                DASK_PROJECT, DASK_SPIDERS)

EXPECTED = DASK_JOB_ITEMS * DASK_JOBS_PER_SPIDER * len(DASK_SPIDERS)
URL = f"hubfs://zyte/{DASK_PROJECT}/spiders/*/*/items.jl"
TIME_LIMIT = 1200  # seconds: the whole benchmark stops by itself after this

OFFICIAL = """
import json, sys, time
from scrapinghub import ScrapinghubClient
url, apikey, project = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = time.monotonic()
client = ScrapinghubClient(apikey, dash_endpoint=url + "api/", endpoint=url)
count = 0
for job in client.get_project(project).jobs.iter(state="finished"):
    count += sum(1 for _ in client.get_job(job["key"]).items.iter())
print(json.dumps({"wall": time.monotonic() - started, "count": count}))
"""


def official_round(url, cpu):
    command = [sys.executable, "-c", OFFICIAL, url, DEMO_APIKEY, str(DASK_PROJECT)]
    result = subprocess.run(pinned(cpu, command) if cpu is not None else command,
                            capture_output=True, text=True, timeout=TIME_LIMIT, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"official loop failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def config_for(workdir, url, number):
    """A 0600 config with its own (empty) cache directory: every round renders cold."""
    path = os.path.join(workdir, f"hubfs-{number}.toml")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
        fh.write(f'[hubfs]\ncache_dir = "{os.path.join(workdir, f"cache-{number}")}"\n'
                 f'[remotes.zyte]\ntype = "scrapinghub"\napikey = "{DEMO_APIKEY}"\n'
                 f'app_url = "{url}api/"\nstorage_url = "{url}"\n')
    return path


def dask_round(client, config):
    import dask.bag as db

    def count():
        started = time.monotonic()
        total = db.read_text(URL, storage_options={"config": config}).count().compute()
        return time.monotonic() - started, total

    cold, cold_count = count()
    warm, warm_count = count()
    return {"wall": cold, "count": cold_count, "warm_wall": warm, "warm_count": warm_count}


def pin_workers(client, cpu):
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return
    client.run(lambda: os.sched_setaffinity(0, {cpu}))


def summary_of(rounds, key="wall"):
    walls = [r[key] for r in rounds]
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pinned", action="store_true",
                        help="emulator on CPU 0, the tool under test on CPU 1")
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results", "dask_items.json"))
    args = parser.parse_args()
    import distributed

    deadline = time.monotonic() + TIME_LIMIT
    tool_cpu = 1 if args.pinned and (os.cpu_count() or 1) > 1 else None
    workdir = tempfile.mkdtemp(prefix="hubfs-bench-dask-")
    emulator, url = start_emulator("bench", pin=args.pinned)
    official, dask_rounds = [], []
    try:
        started = time.monotonic()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           worker_dashboard_address=None)
        client = distributed.Client(cluster)
        cluster_start = time.monotonic() - started
        pin_workers(client, tool_cpu)
        try:
            # One untimed pass of each warms the emulator's encoded-page cache for both.
            official_round(url, tool_cpu)
            dask_round(client, config_for(workdir, url, "warmup"))
            for number in range(args.rounds):
                if time.monotonic() > deadline:
                    break
                order = [(official, lambda: official_round(url, tool_cpu)),
                         (dask_rounds, lambda: dask_round(client, config_for(workdir, url, number)))]
                for results, run in (order if number % 2 == 0 else order[::-1]):
                    results.append(run())
        finally:
            client.close()
            cluster.close()
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    counts = {r["count"] for r in official + dask_rounds} | {r["warm_count"] for r in dask_rounds}
    summary = {"project": DASK_PROJECT, "jobs": DASK_JOBS_PER_SPIDER * len(DASK_SPIDERS),
               "items": EXPECTED, "rounds": len(dask_rounds), "pinned": args.pinned,
               "counts_correct": counts == {EXPECTED}, "cluster_start": cluster_start,
               "official": summary_of(official), "dask": summary_of(dask_rounds),
               "dask_warm": summary_of(dask_rounds, "warm_wall"),
               "raw": {"official": official, "dask": dask_rounds}}
    summary["ratio_official_over_dask"] = summary["official"]["median"] / summary["dask"]["median"]
    summary["ratio_official_over_dask_warm"] = (summary["official"]["median"]
                                                / summary["dask_warm"]["median"])
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"project {DASK_PROJECT}: {summary['jobs']} jobs, {EXPECTED:,} items, "
          f"{summary['rounds']} rounds, pinned: {args.pinned}, counts correct: "
          f"{summary['counts_correct']}; cluster start {cluster_start:.1f} s (not in the times)")
    print("| tool | wall (median) | min - max |")
    print("|---|---|---|")
    for name, key in (("official client, one process looping over the jobs", "official"),
                      ("Dask bag over hubfs://, 2 worker processes, cold cache", "dask"),
                      ("the same Dask count again, warm disk cache", "dask_warm")):
        fig = summary[key]
        print(f"| {name} | {fig['median']:.2f} s | {fig['min']:.2f} - {fig['max']:.2f} s |")
    print(f"ratio official/dask wall time: {summary['ratio_official_over_dask']:.2f}x cold, "
          f"{summary['ratio_official_over_dask_warm']:.2f}x warm")
    return 0 if summary["counts_correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
