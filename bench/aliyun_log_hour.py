"""Benchmark: `cat` of a 1,000,000-log hour through hubfs vs the official SDK's export.

Both read the same SLS emulator (`--data bench`: `bench/access`, one hour of 1,000,000
logs over 4 shards) in one run, in alternating order per round. The SDK side
(`aliyun_log_sdk_export.py`) pulls each shard's receive-time range with `pull_log` and
writes each flattened log as a compact JSON line, the hour file's format; hubfs starts
every round with a fresh mount and an empty disk cache (a cold render), then reads the
all-shards hour file with 128 KiB reads to EOF, writing it to a file as `cat > out`
would. Outputs are compared by SHA-256: a fast run with different bytes would not count.

Reports per tool the min / median / max wall time, the time to the first byte, peak RSS
(hubfs: the daemon's VmHWM, and its decoding workers' apart), the ratio SDK / hubfs, and
hubfs' warm re-read (the next mount on the same cache directory).
Usage: python bench/aliyun_log_hour.py [--rounds 3] [--json bench/results/aliyun_log_hour.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from aliyun_log_common import (REPO, descendants, hubfs, peak_rss_mib, report, sha256,
                               start_emulator, summary, write_config)

from backends.aliyun_log.emulator import BENCH_LOGS, BENCH_LOGSTORE, BENCH_PROJECT, bench_hour
from hubfs.daemon import read_state

TIME_LIMIT = 1800  # seconds: the whole benchmark stops by itself after this
BLOCK = 128 * 1024


def sdk_round(url, hour, workdir):
    out = os.path.join(workdir, "sdk.jl")
    result = subprocess.run([sys.executable, "bench/aliyun_log_sdk_export.py", url, BENCH_PROJECT,
                             BENCH_LOGSTORE, str(hour), out], capture_output=True, text=True,
                            timeout=TIME_LIMIT, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"SDK export failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures.update(sha256=sha256(out), bytes=os.path.getsize(out))
    os.unlink(out)
    return figures


def read_file(path, out_path):
    started = time.perf_counter()
    first = None
    with open(path, "rb") as src, open(out_path, "wb") as out:
        while True:
            block = src.read(BLOCK)
            if first is None:
                first = time.perf_counter() - started
            if not block:
                break
            out.write(block)
    return time.perf_counter() - started, first


def hubfs_round(config, hour, workdir, cache):
    mountpoint = os.path.join(workdir, f"mnt-{time.monotonic_ns()}")
    os.makedirs(mountpoint)
    hubfs("mount", "--config", config, "--cache-dir", cache, mountpoint)
    rel = os.path.join("sls", BENCH_PROJECT, BENCH_LOGSTORE, time.strftime("%Y-%m-%d", time.gmtime(hour)),
                       time.strftime("%H.jl", time.gmtime(hour)))
    out = os.path.join(workdir, "hubfs.jl")
    try:
        pid = read_state(mountpoint)["pid"]
        workers = descendants(pid)
        wall, first = read_file(os.path.join(mountpoint, rel), out)
        figures = {"wall": wall, "first_byte": first, "peak_rss_mib": peak_rss_mib(pid),
                   "workers_peak_rss_mib": [peak_rss_mib(w) for w in workers]}
    finally:
        hubfs("umount", mountpoint)
    figures.update(sha256=sha256(out), bytes=os.path.getsize(out))
    os.unlink(out)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args()
    deadline = time.monotonic() + TIME_LIMIT
    emulator, url = start_emulator("bench")
    workdir = tempfile.mkdtemp(prefix="hubfs-bench-sls-")
    try:
        hour = bench_hour(int(time.time()))
        config = write_config(workdir, url)
        # Untimed warm-up: the emulator produces its seeded LogGroups on first pull.
        warm = sdk_round(url, hour, workdir)
        rounds = []
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                break
            cache = os.path.join(workdir, f"cache-{number}")
            order = ("sdk", "hubfs") if number % 2 == 0 else ("hubfs", "sdk")
            entry = {"load_before": os.getloadavg()[0]}
            for tool in order:
                entry[tool] = (sdk_round(url, hour, workdir) if tool == "sdk"
                               else hubfs_round(config, hour, workdir, cache))
            entry["hubfs_warm"] = hubfs_round(config, hour, workdir, cache)
            assert entry["sdk"]["sha256"] == entry["hubfs"]["sha256"] == warm["sha256"], \
                "hubfs and the SDK produced different bytes"
            shutil.rmtree(cache, ignore_errors=True)
            rounds.append(entry)
            print(f"round {number + 1}: SDK {entry['sdk']['wall']:.2f}s, hubfs "
                  f"{entry['hubfs']['wall']:.2f}s (first byte {entry['hubfs']['first_byte']:.2f}s, "
                  f"daemon {entry['hubfs']['peak_rss_mib']:.0f} MiB), warm "
                  f"{entry['hubfs_warm']['wall']:.2f}s, load {entry['load_before']:.1f}", flush=True)
        sdk = summary([r["sdk"]["wall"] for r in rounds])
        ours = summary([r["hubfs"]["wall"] for r in rounds])
        result = {
            "logs": BENCH_LOGS, "bytes": warm["bytes"], "rounds": rounds,
            "sdk_wall": sdk, "hubfs_wall": ours,
            "hubfs_warm_wall": summary([r["hubfs_warm"]["wall"] for r in rounds]),
            "ratio_median": sdk["median"] / ours["median"],
            "hubfs_first_byte": summary([r["hubfs"]["first_byte"] for r in rounds]),
            "sdk_first_byte": summary([r["sdk"]["first_byte"] for r in rounds]),
            "hubfs_daemon_peak_rss_mib": max(r["hubfs"]["peak_rss_mib"] for r in rounds),
            "hubfs_worker_peak_rss_mib": max(max(r["hubfs"]["workers_peak_rss_mib"] or [0])
                                             for r in rounds),
            "sdk_peak_rss_mib": max(r["sdk"]["peak_rss_mib"] for r in rounds),
        }
        report(result, args.json)
    finally:
        emulator.terminate()
        emulator.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
