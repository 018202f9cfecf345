"""Benchmark: `cat items.jl` of a 1,000,000-item job through hubfs vs the official client.

Both read the same Scrapinghub emulator (`--data bench`, job 900/1/1) in one run. The
emulator is pinned to CPU 0 and the tool under test to CPU 1 (the hubfs daemon and the
reading process share CPU 1, like the official client's single process), so the figures
measure the clients rather than the scheduler. Each round runs both tools in alternating
order; hubfs starts each round with an empty disk cache (a cold render). Outputs are
compared by SHA-256: a fast run with different bytes would not count.

Reports, per tool, the median wall time, time to first byte and peak RSS (hubfs: the
daemon's VmHWM), the ratio official/hubfs, and the warm re-read from the disk cache.
Usage: python bench/scrapinghub_items.py [--rounds 3] [--json bench/results/x.json]
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO, pinned, start_emulator, write_config

from backends.scrapinghub.emulator import BENCH_JOB_KEY, DEMO_APIKEY

ITEMS_PATH = ("zyte", "900", "spiders", "bench", "1", "items.jl")
TIME_LIMIT = 1800  # seconds: the whole benchmark stops by itself after this


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_json(command, timeout):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def official_round(url, workdir):
    out = os.path.join(workdir, "official.jl")
    figures = run_json(pinned(1, [sys.executable, "bench/official_export.py", url, DEMO_APIKEY,
                                  BENCH_JOB_KEY, out]), timeout=TIME_LIMIT)
    figures["sha256"] = sha256(out)
    figures["bytes"] = os.path.getsize(out)
    os.unlink(out)
    return figures


def hubfs_round(config, workdir):
    mountpoint = os.path.join(workdir, "mnt")
    cache = os.path.join(workdir, "cache")
    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(mountpoint, exist_ok=True)
    subprocess.run(pinned(1, [sys.executable, "-m", "hubfs", "mount", "--config", config,
                              "--cache-dir", cache, "--log-file", os.path.join(workdir, "hubfs.log"),
                              mountpoint]), check=True, cwd=REPO, capture_output=True)
    try:
        path = os.path.join(mountpoint, *ITEMS_PATH)
        out = os.path.join(workdir, "hubfs.jl")
        figures = run_json(pinned(1, [sys.executable, "bench/read_file.py", path, out]), TIME_LIMIT)
        figures["sha256"] = sha256(out)
        figures["bytes"] = os.path.getsize(out)
        warm = run_json(pinned(1, [sys.executable, "bench/read_file.py", path, out]), TIME_LIMIT)
        figures["warm_wall"] = warm["wall"]
        os.unlink(out)
        figures["peak_rss"] = daemon_peak_rss(mountpoint)
    finally:
        subprocess.run([sys.executable, "-m", "hubfs", "umount", mountpoint], cwd=REPO,
                       capture_output=True, timeout=120)
    return figures


def daemon_peak_rss(mountpoint):
    from hubfs.daemon import read_state

    state = read_state(mountpoint)
    with open(f"/proc/{state['pid']}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def median(rounds, key):
    values = [r[key] for r in rounds if r.get(key) is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results", "scrapinghub_items.json"))
    args = parser.parse_args()
    deadline = time.monotonic() + TIME_LIMIT

    workdir = tempfile.mkdtemp(prefix="hubfs-bench-")
    emulator, url = start_emulator("bench")
    try:
        config = write_config(workdir, url)
        # One untimed pass of each tool warms the emulator's encoded-page cache for both.
        official_round(url, workdir)
        hubfs_round(config, workdir)
        official, hubfs = [], []
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                break
            order = [(official, lambda: official_round(url, workdir)),
                     (hubfs, lambda: hubfs_round(config, workdir))]
            for results, run in (order if number % 2 == 0 else order[::-1]):
                results.append(run())
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    same = {r["sha256"] for r in official + hubfs}
    summary = {
        "job": BENCH_JOB_KEY, "rounds": len(hubfs), "bytes": official[0]["bytes"],
        "identical_output": len(same) == 1,
        "official": {k: median(official, k) for k in ("wall", "ttfb", "peak_rss")},
        "hubfs": {k: median(hubfs, k) for k in ("wall", "ttfb", "peak_rss", "warm_wall")},
        "raw": {"official": official, "hubfs": hubfs},
    }
    summary["ratio_official_over_hubfs"] = summary["official"]["wall"] / summary["hubfs"]["wall"]
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(summary, fh, indent=2)
    mib = 1024 * 1024
    print(f"job {BENCH_JOB_KEY}: {summary['bytes'] / mib:.1f} MiB of JSON lines, "
          f"{summary['rounds']} rounds, identical output: {summary['identical_output']}")
    print("| tool | wall (median) | time to first byte | peak RSS |")
    print("|---|---|---|---|")
    for name, key in (("official client `items.iter()` -> JSON lines", "official"),
                      ("hubfs `cat items.jl` (cold cache)", "hubfs")):
        fig = summary[key]
        print(f"| {name} | {fig['wall']:.2f} s | {fig['ttfb']:.3f} s | {fig['peak_rss'] / mib:.0f} MiB |")
    print(f"| hubfs re-read from disk cache | {summary['hubfs']['warm_wall']:.2f} s | | |")
    print(f"ratio official/hubfs wall time: {summary['ratio_official_over_hubfs']:.2f}x")
    return 0 if summary["identical_output"] else 1


if __name__ == "__main__":
    sys.exit(main())
