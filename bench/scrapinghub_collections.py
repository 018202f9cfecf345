"""Benchmark: writing 10,000 collection values through hubfs vs the official client.

Three ways to put the same 10,000 small JSON values into a Scrapinghub store, in one run
against one emulator (pinned to CPU 0; the tools to CPU 1):
- `cp -r values/ <mount>/zyte/101/collections/<store>`: one file per key;
- `cp backup.jl <mount>/zyte/101/collections/<store>.jl`: the restore of one `.jl` file;
- the official client's batch writer (`store.create_writer()`, write, close), which is
  what a user's restore script does today.
Each round uses fresh store names; every store is checked afterwards with the official
client (count and a sample of values). Reports median wall times and ratios.
Usage: python bench/scrapinghub_collections.py [--rounds 3] [--keys 10000]
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

from common import REPO, pinned, start_emulator, write_config

from backends.scrapinghub.emulator import DEMO_APIKEY

OFFICIAL_WRITER = """
import json, sys, time
from scrapinghub import ScrapinghubClient
url, key, store_name, path = sys.argv[1:5]
started = time.monotonic()
store = ScrapinghubClient(key, dash_endpoint=url + "api/", endpoint=url).get_project(101) \\
    .collections.get_store(store_name)
writer = store.create_writer()
with open(path) as fh:
    for line in fh:
        record = json.loads(line)
        writer.write(dict(record["value"], _key=record["_key"]))
writer.close()
print(json.dumps({"wall": time.monotonic() - started}))
"""


def value(number):
    return {"sku": f"SKU-{number:06d}", "price": round(number * 0.37, 2), "in_stock": number % 3 != 0,
            "title": f"Product {number}", "tags": ["bench", f"g{number % 10}"]}


def prepare(workdir, keys):
    values = os.path.join(workdir, "values")
    os.makedirs(values)
    with open(os.path.join(workdir, "backup.jl"), "w") as backup:
        for number in range(keys):
            key = f"k{number:06d}"
            with open(os.path.join(values, key), "w") as fh:
                json.dump(value(number), fh)
            backup.write(json.dumps({"_key": key, "value": value(number)}) + "\n")
    return values, os.path.join(workdir, "backup.jl")


def timed(command):
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.monotonic() - started


def check(url, store_name, keys):
    from scrapinghub import ScrapinghubClient

    store = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=url + "api/", endpoint=url) \
        .get_project(101).collections.get_store(store_name)
    count = store.count()
    sample = all(store.get(f"k{n:06d}") == value(n) for n in (0, keys // 2, keys - 1))
    if count != keys or not sample:
        raise RuntimeError(f"store {store_name}: {count} keys, sample ok: {sample}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results", "scrapinghub_collections.json"))
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="hubfs-bench-")
    mountpoint = os.path.join(workdir, "mnt")
    os.makedirs(mountpoint)
    results = {"cp_r": [], "cp_jl": [], "official_writer": []}
    emulator, url = start_emulator("demo")
    try:
        values, backup = prepare(workdir, args.keys)
        config = write_config(workdir, url)
        subprocess.run(pinned(1, [sys.executable, "-m", "hubfs", "mount", "--config", config,
                                  "--cache-dir", os.path.join(workdir, "cache"), mountpoint]),
                       check=True, cwd=REPO, capture_output=True)
        collections = os.path.join(mountpoint, "zyte", "101", "collections")
        for number in range(args.rounds):
            runs = {
                "cp_r": (f"cpr{number}", lambda s: timed(pinned(1, ["cp", "-r", values,
                                                                    os.path.join(collections, s)]))),
                "cp_jl": (f"cpjl{number}", lambda s: timed(pinned(1, ["cp", backup,
                                                                      os.path.join(collections, s + ".jl")]))),
                "official_writer": (f"official{number}", lambda s: json.loads(subprocess.run(
                    pinned(1, [sys.executable, "-c", OFFICIAL_WRITER, url, DEMO_APIKEY, s, backup]),
                    check=True, capture_output=True, text=True).stdout)["wall"]),
            }
            order = list(runs) if number % 2 == 0 else list(runs)[::-1]
            for name in order:
                store_name, run = runs[name]
                results[name].append(run(store_name))
                check(url, store_name, args.keys)
    finally:
        subprocess.run([sys.executable, "-m", "hubfs", "umount", mountpoint], cwd=REPO,
                       capture_output=True, timeout=120)
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    medians = {name: statistics.median(times) for name, times in results.items()}
    summary = {"keys": args.keys, "rounds": args.rounds, "median_seconds": medians, "raw": results,
               "ratio_official_over_cp_jl": medians["official_writer"] / medians["cp_jl"],
               "ratio_official_over_cp_r": medians["official_writer"] / medians["cp_r"]}
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(summary, fh, indent=2)
    print(f"{args.keys} values, {args.rounds} rounds, every store checked with the official client")
    print("| way | wall (median) | official writer / this |")
    print("|---|---|---|")
    for name, label in (("cp_jl", "hubfs `cp backup.jl store.jl`"), ("cp_r", "hubfs `cp -r values/ store/`"),
                        ("official_writer", "official client `store.create_writer()`")):
        print(f"| {label} | {medians[name]:.2f} s | {medians['official_writer'] / medians[name]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
