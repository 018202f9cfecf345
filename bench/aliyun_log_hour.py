"""Benchmark: `cat` of a 1,000,000-log hour through hubfs vs the official SDK's export.

Both read the same SLS emulator (`--data bench`: `bench/access`, one hour of 1,000,000
logs over 4 shards) in one run, in alternating order per round. The SDK side
(`aliyun_log_sdk_export.py`) pulls each shard's receive-time range with `pull_log` and
writes each flattened log as a compact JSON line, the hour file's format; hubfs starts
every round with a fresh mount and an empty disk cache (a cold render), then reads the
all-shards hour file with 128 KiB reads to EOF, writing it to a file as `cat > out`
would. Outputs are compared by SHA-256: a fast run with different bytes would not count.

Reports per tool the min / median / max wall time, the time to the first byte, peak RSS
(hubfs: the daemon's VmHWM plus any child process it has; it renders in threads), the
ratio SDK / hubfs, and hubfs' warm re-read (the next mount on the same cache directory).
First bytes of the cold hour are timed apart, each on a fresh mount and empty cache, for
readers that do not `fstat` (`head -c 4096 FILE`, `head -1 FILE`) and one that does
(`cat FILE | head -c 4096`), with `fstat_during_render` "wait" (the default: an fstat
waits for the exact size) and "partial"; after each, `stat` must give the exact size.
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
FIRST_BYTE = {
    "head -c 4096": "head -c 4096 '{f}' >/dev/null",
    "head -1": "head -1 '{f}' >/dev/null",
    "cat | head": "cat '{f}' | head -c 4096 >/dev/null",
}


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


def hour_path(hour):
    return os.path.join("sls", BENCH_PROJECT, BENCH_LOGSTORE,
                        time.strftime("%Y-%m-%d", time.gmtime(hour)),
                        time.strftime("%H.jl", time.gmtime(hour)))


def daemon_rss(pid):
    """Peak RSS of the daemon and of every process under it (MiB)."""
    return sum(filter(None, [peak_rss_mib(p) for p in [pid, *descendants(pid)]]))


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hubfs_round(config, hour, workdir, cache):
    mountpoint = os.path.join(workdir, f"mnt-{time.monotonic_ns()}")
    os.makedirs(mountpoint)
    hubfs("mount", "--config", config, "--cache-dir", cache, mountpoint)
    out = os.path.join(workdir, "hubfs.jl")
    try:
        pid = read_state(mountpoint)["pid"]
        cpu = cpu_seconds(pid)
        wall, first = read_file(os.path.join(mountpoint, hour_path(hour)), out)
        figures = {"wall": wall, "first_byte": first, "peak_rss_mib": daemon_rss(pid),
                   "children": len(descendants(pid)), "daemon_cpu_s": cpu_seconds(pid) - cpu}
    finally:
        hubfs("umount", mountpoint)
    figures.update(sha256=sha256(out), bytes=os.path.getsize(out))
    os.unlink(out)
    return figures


def first_byte_round(configs, hour, workdir, size):
    """Each reader of FIRST_BYTE on a fresh mount and cache, under each fstat mode."""
    figures = {}
    for mode, config in configs.items():
        for name, command in FIRST_BYTE.items():
            mountpoint = os.path.join(workdir, f"mnt-{time.monotonic_ns()}")
            cache = os.path.join(workdir, f"cache-first-{time.monotonic_ns()}")
            os.makedirs(mountpoint)
            hubfs("mount", "--config", config, "--cache-dir", cache, mountpoint)
            try:
                path = os.path.join(mountpoint, hour_path(hour))
                os.listdir(os.path.dirname(path))  # the walk to the file, not timed
                started = time.perf_counter()
                result = subprocess.run(["sh", "-c", command.format(f=path)],
                                        capture_output=True, timeout=TIME_LIMIT)
                wall = time.perf_counter() - started
                exact = os.stat(path).st_size == size  # waits for the render's end
            finally:
                hubfs("umount", mountpoint)
                shutil.rmtree(cache, ignore_errors=True)
            figures[f"{name} ({mode})"] = {"wall": wall, "ok": result.returncode == 0,
                                           "exact_stat": exact}
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
        os.makedirs(os.path.join(workdir, "partial"))
        configs = {"wait": config,
                   "partial": write_config(os.path.join(workdir, "partial"), url,
                                           fstat_during_render="partial")}
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
            entry["first_bytes"] = first_byte_round(configs, hour, workdir, warm["bytes"])
            assert entry["sdk"]["sha256"] == entry["hubfs"]["sha256"] == warm["sha256"], \
                "hubfs and the SDK produced different bytes"
            shutil.rmtree(cache, ignore_errors=True)
            rounds.append(entry)
            print(f"round {number + 1}: SDK {entry['sdk']['wall']:.2f}s, hubfs "
                  f"{entry['hubfs']['wall']:.2f}s (first read after open's fstat {entry['hubfs']['first_byte']:.2f}s, "
                  f"daemon {entry['hubfs']['peak_rss_mib']:.0f} MiB, "
                  f"{entry['hubfs']['daemon_cpu_s']:.2f} CPU-s), warm "
                  f"{entry['hubfs_warm']['wall']:.2f}s, load {entry['load_before']:.1f}", flush=True)
            print("  first bytes: " + ", ".join(f"{k} {v['wall'] * 1000:.0f} ms"
                                                + ("" if v["ok"] and v["exact_stat"] else " (FAILED)")
                                                for k, v in entry["first_bytes"].items()),
                  flush=True)
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
            "hubfs_daemon_children": max(r["hubfs"]["children"] for r in rounds),
            "hubfs_daemon_cpu_s": summary([r["hubfs"]["daemon_cpu_s"] for r in rounds]),
            "hubfs_first_bytes": {name: summary([r["first_bytes"][name]["wall"] for r in rounds])
                                  for name in rounds[0]["first_bytes"]},
            "first_bytes_all_ok": all(v["ok"] and v["exact_stat"] for r in rounds
                                      for v in r["first_bytes"].values()),
            "sdk_peak_rss_mib": max(r["sdk"]["peak_rss_mib"] for r in rounds),
        }
        report(result, args.json)
    finally:
        emulator.terminate()
        emulator.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
