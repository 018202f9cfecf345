"""Benchmark: reading the 1,000,000-item job through hubfs, against the official client
and the wire itself, in one run.

Job 900/1/1 of the emulator's `bench` data (191.7 MiB of JSON lines). Per round, in
alternating order:
- the official client's export (`items.iter()` -> JSON lines, msgpack transport);
- the wire ceiling: the same JSON lines pages (5,000 records) with `requests`, five in
  flight, bodies written to a file (what any client must at least do);
- hubfs `cat items.jl` with a fresh mount and an empty disk cache (cold), then again in
  the same mount (page cache), then in a new mount (disk cache only), against `cat` of
  the cache file itself;
- first bytes, cold: `head -1`, `cat | head -c 4096`, `grep -m1` (the third item), each
  on a fresh mount, with `fstat_during_render` "wait" (the default) and "partial", and a
  `stat` right after each that must show the exact size;
- four concurrent cold `cat`s of the 250,000-item jobs 900/1/2-5, against one alone, and
  the wire ceiling of each (the same pages with `requests`, five in flight per job).
Outputs are compared by SHA-256. Daemon peak RSS is its VmHWM. The emulator runs pinned
to CPU 0; the tools and the daemon may use both CPUs (hubfs renders off the lock that
serves FUSE). Usage: python bench/scrapinghub_items.py [--rounds 3]
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from common import REPO, start_emulator

from backends.scrapinghub.emulator import BENCH_JOB_KEY, DEMO_APIKEY
from backends.scrapinghub.emulator.seed import BENCH_ITEMS, BENCH_SIBLING_ITEMS, BENCH_SIBLINGS

JOB_DIR = ("zyte", "900", "spiders", "bench")
PAGE = 5000
TIME_LIMIT = 3000  # seconds: the whole benchmark stops starting rounds after this


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_config(workdir, url, fstat="wait"):
    path = os.path.join(workdir, f"hubfs-{fstat}.toml")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.write(f'[remotes.zyte]\ntype = "scrapinghub"\napikey = "{DEMO_APIKEY}"\n'
                 f'app_url = "{url}api/"\nstorage_url = "{url}"\n'
                 f'fstat_during_render = "{fstat}"\n')
    return path


class Mount:
    def __init__(self, workdir, config, keep_cache=False):
        self.path = os.path.join(workdir, "mnt")
        self.cache = os.path.join(workdir, "cache")
        self.config = config
        if not keep_cache:
            shutil.rmtree(self.cache, ignore_errors=True)

    def __enter__(self):
        os.makedirs(self.path, exist_ok=True)
        subprocess.run([sys.executable, "-m", "hubfs", "mount", "--config", self.config,
                        "--cache-dir", self.cache, "--log-file", self.path + ".log", self.path],
                       check=True, cwd=REPO, capture_output=True, timeout=120)
        return self

    def file(self, job=1):
        return os.path.join(self.path, *JOB_DIR, str(job), "items.jl")

    def peak_rss(self):
        from hubfs.daemon import read_state

        with open(f"/proc/{read_state(self.path)['pid']}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def __exit__(self, *exc):
        subprocess.run([sys.executable, "-m", "hubfs", "umount", self.path], cwd=REPO,
                       capture_output=True, timeout=300)


def run_json(command):
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed_shell(command):
    started = time.monotonic()
    result = subprocess.run(["sh", "-c", command], capture_output=True, timeout=TIME_LIMIT)
    return time.monotonic() - started, result


def official_round(url, workdir):
    out = os.path.join(workdir, "official.jl")
    figures = run_json([sys.executable, "bench/official_export.py", url, DEMO_APIKEY,
                        BENCH_JOB_KEY, out])
    figures["sha256"] = sha256(out)
    os.unlink(out)
    return figures


def ceiling_round(url, workdir):
    """The same JSON lines pages, five in flight with requests, bodies to a file."""
    session = requests.Session()
    session.auth = (DEMO_APIKEY, "")
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=8))
    out = os.path.join(workdir, "ceiling.jl")

    def page(start):
        response = session.get(url + "items/" + BENCH_JOB_KEY, timeout=60,
                               params={"start": f"{BENCH_JOB_KEY}/{start}", "count": PAGE})
        response.raise_for_status()
        return response.content

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(5) as pool, open(out, "wb") as fh:
        for body in pool.map(page, range(0, BENCH_ITEMS, PAGE)):
            fh.write(body)
    wall = time.monotonic() - started
    figures = {"wall": wall, "sha256": sha256(out)}
    os.unlink(out)
    session.close()
    return figures


def hubfs_round(workdir, config):
    out = os.path.join(workdir, "hubfs.jl")
    with Mount(workdir, config) as mount:
        cold = run_json([sys.executable, "bench/read_file.py", mount.file(), out])
        cold["sha256"] = sha256(out)
        cold["peak_rss"] = mount.peak_rss()
        warm = run_json([sys.executable, "bench/read_file.py", mount.file(), out])
        cold["page_cache_wall"] = warm["wall"]
    with Mount(workdir, config, keep_cache=True) as mount:
        cached = run_json([sys.executable, "bench/read_file.py", mount.file(), out])
        cold["disk_cache_wall"] = cached["wall"]
        (entry,) = [os.path.join(mount.cache, "content", name)
                    for name in os.listdir(os.path.join(mount.cache, "content"))]
        direct = run_json([sys.executable, "bench/read_file.py", entry, out])
        cold["cache_file_wall"] = direct["wall"]
    os.unlink(out)
    return cold


FIRST_BYTE = {
    "head -1": "head -1 '{f}'",
    "cat | head": "cat '{f}' | head -c 4096",
    "grep -m1": "grep -m1 -F BN-0000002 '{f}'",
}


def first_byte_round(workdir, configs, expected_size):
    figures = {}
    for mode, config in configs.items():
        for name, command in FIRST_BYTE.items():
            with Mount(workdir, config) as mount:
                path = mount.file()
                os.listdir(os.path.dirname(path))  # the walk to the file, not timed
                wall, result = timed_shell(command.format(f=path))
                size = os.stat(path).st_size
                figures[f"{name} ({mode})"] = {"wall": wall, "ok": result.returncode == 0,
                                               "exact_stat": size == expected_size}
    return figures


def wire_round(url, workdir, jobs):
    """The wire ceiling for *jobs* read at once: their JSON lines pages with requests,
    five in flight per job, each job's bodies to its own file."""
    session = requests.Session()
    session.auth = (DEMO_APIKEY, "")
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=5 * len(jobs)))

    def page(job, start):
        key = f"900/1/{job}"
        response = session.get(url + "items/" + key, timeout=60,
                               params={"start": f"{key}/{start}", "count": PAGE})
        response.raise_for_status()
        return response.content

    def one(job, pool):
        with open(os.path.join(workdir, f"wire-{job}.jl"), "wb") as fh:
            for body in pool.map(lambda start: page(job, start),
                                 range(0, BENCH_SIBLING_ITEMS, PAGE)):
                fh.write(body)

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(5 * len(jobs)) as pool, \
            concurrent.futures.ThreadPoolExecutor(len(jobs)) as outer:
        list(outer.map(lambda job: one(job, pool), jobs))
    wall = time.monotonic() - started
    for job in jobs:
        os.unlink(os.path.join(workdir, f"wire-{job}.jl"))
    session.close()
    return wall


def concurrency_round(workdir, config, url):
    def cat(path):
        started = time.monotonic()
        subprocess.run(["sh", "-c", f"cat '{path}' > /dev/null"], check=True, timeout=TIME_LIMIT)
        return time.monotonic() - started

    with Mount(workdir, config) as mount:
        one = cat(mount.file(BENCH_SIBLINGS[0]))
    with Mount(workdir, config) as mount:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(cat, [mount.file(job) for job in BENCH_SIBLINGS]))
        four = time.monotonic() - started
        rss = mount.peak_rss()
    wire_one = wire_round(url, workdir, BENCH_SIBLINGS[:1])
    wire_four = wire_round(url, workdir, BENCH_SIBLINGS)
    return {"one": one, "four": four, "ratio": four / one, "peak_rss_four": rss,
            "wire_one": wire_one, "wire_four": wire_four, "wire_ratio": wire_four / wire_one,
            "four_over_wire_four": four / wire_four}


def spread(values):
    values = [v for v in values if v is not None]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results", "scrapinghub_items.json"))
    args = parser.parse_args()
    deadline = time.monotonic() + TIME_LIMIT
    workdir = tempfile.mkdtemp(prefix="hubfs-bench-")
    emulator, url = start_emulator("bench")
    rounds = {"official": [], "ceiling": [], "hubfs": [], "first_byte": [], "concurrency": []}
    try:
        configs = {mode: write_config(workdir, url, mode) for mode in ("wait", "partial")}
        # One untimed pass of each reader fills the emulator's encoded-page caches.
        official_round(url, workdir)
        ceiling_round(url, workdir)
        hubfs_round(workdir, configs["wait"])
        concurrency_round(workdir, configs["wait"], url)
        expected_size = None
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                break
            steps = [("official", lambda: official_round(url, workdir)),
                     ("ceiling", lambda: ceiling_round(url, workdir)),
                     ("hubfs", lambda: hubfs_round(workdir, configs["wait"]))]
            for name, step in (steps if number % 2 == 0 else steps[::-1]):
                rounds[name].append(step())
            if expected_size is None:
                with Mount(workdir, configs["wait"]) as mount:
                    expected_size = os.stat(mount.file()).st_size
            rounds["first_byte"].append(first_byte_round(workdir, configs, expected_size))
            rounds["concurrency"].append(concurrency_round(workdir, configs["wait"], url))
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    digests = {r["sha256"] for key in ("official", "ceiling", "hubfs") for r in rounds[key]}
    summary = {
        "job": BENCH_JOB_KEY, "rounds": len(rounds["hubfs"]), "identical_output": len(digests) == 1,
        "official_wall": spread([r["wall"] for r in rounds["official"]]),
        "official_ttfb": spread([r["ttfb"] for r in rounds["official"]]),
        "ceiling_wall": spread([r["wall"] for r in rounds["ceiling"]]),
        "hubfs_cold_wall": spread([r["wall"] for r in rounds["hubfs"]]),
        "hubfs_cold_ttfb": spread([r["ttfb"] for r in rounds["hubfs"]]),
        "hubfs_peak_rss": spread([r["peak_rss"] for r in rounds["hubfs"]]),
        "page_cache_wall": spread([r["page_cache_wall"] for r in rounds["hubfs"]]),
        "disk_cache_wall": spread([r["disk_cache_wall"] for r in rounds["hubfs"]]),
        "cache_file_wall": spread([r["cache_file_wall"] for r in rounds["hubfs"]]),
        "first_byte": {name: {"wall": spread([r[name]["wall"] for r in rounds["first_byte"]]),
                              "all_ok": all(r[name]["ok"] for r in rounds["first_byte"]),
                              "stat_exact": all(r[name]["exact_stat"] for r in rounds["first_byte"])}
                       for name in (rounds["first_byte"][0] if rounds["first_byte"] else {})},
        "concurrency": {key: spread([r[key] for r in rounds["concurrency"]])
                        for key in ("one", "four", "ratio", "peak_rss_four", "wire_one",
                                    "wire_four", "wire_ratio", "four_over_wire_four")},
    }
    med = lambda key: summary[key]["median"]  # noqa: E731
    summary["official_over_hubfs"] = med("official_wall") / med("hubfs_cold_wall")
    summary["hubfs_over_ceiling"] = med("hubfs_cold_wall") / med("ceiling_wall")
    summary["disk_cache_over_file"] = med("disk_cache_wall") / med("cache_file_wall")
    summary["page_cache_over_file"] = med("page_cache_wall") / med("cache_file_wall")
    summary["raw"] = rounds
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(summary, fh, indent=2)
    print(json.dumps({k: v for k, v in summary.items() if k != "raw"}, indent=1))
    return 0 if summary["identical_output"] else 1


if __name__ == "__main__":
    sys.exit(main())
