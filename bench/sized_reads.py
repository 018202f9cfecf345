"""Sequential reads of a large object through the core's sized-file reader, against the
same bytes read straight from the server with a plain HTTP client, in one run.

The blob server (`tests.blobstore.emulator`, objects on disk served with `pread`) runs
pinned to CPU 0, the readers on CPU 1. Each round, interleaved: the raw ceiling (one
streamed `requests` GET, 1 MiB chunks), and a cold `cat` of the object through a fresh
hubfs mount (new daemon: empty block budget, empty page cache for the mount). Every
read is checked with sha256. Reported: wall time min/median/max, the ratio of medians
(hubfs throughput / raw), daemon CPU seconds and peak RSS (VmHWM) against the memory
budget, and requests made.

    .venv/bin/python bench/sized_reads.py --size-mib 1024 --rounds 3
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import requests

from common import REPO, free_port, pinned

sys.path.insert(0, REPO)
from hubfs.runtime import read_state  # noqa: E402
from tests.blobstore.emulator import TOKEN, Store  # noqa: E402


def sha_of_stream(chunks):
    digest, total = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


def raw_read(url, name):
    with requests.get(f"{url}objects/{name}", headers={"Authorization": f"Bearer {TOKEN}"},
                      stream=True, timeout=60) as response:
        response.raise_for_status()
        return sha_of_stream(response.iter_content(1 << 20))


def proc_stats(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as fh:
        hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    return cpu, hwm


def hubfs_read(workdir, config, name, round_):
    mountpoint = os.path.join(workdir, f"mnt{round_}")
    os.makedirs(mountpoint, exist_ok=True)
    subprocess.run(pinned(1, [sys.executable, "-m", "hubfs", "mount", "--config", config,
                              "--cache-dir", os.path.join(workdir, "cache"), mountpoint]),
                   check=True, cwd=REPO, capture_output=True)
    try:
        pid = read_state(mountpoint)["pid"]
        started = time.monotonic()
        cat = subprocess.Popen(pinned(1, ["cat", os.path.join(mountpoint, "b", name)]),
                               stdout=subprocess.PIPE)
        digest = sha_of_stream(iter(lambda: cat.stdout.read(1 << 20), b""))
        cat.wait()
        wall = time.monotonic() - started
        cpu, hwm = proc_stats(pid)
        return wall, digest, cpu, hwm
    finally:
        subprocess.run([sys.executable, "-m", "hubfs", "umount", mountpoint], cwd=REPO,
                       capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget-mib", type=int, default=128)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="hubfs-bench-sized-")
    root = os.path.join(workdir, "objects")
    Store(root).put("big.bin", size=args.size_mib << 20, seed=42)
    port = free_port()
    server = subprocess.Popen(pinned(0, [sys.executable, "-m", "tests.blobstore.emulator", root, str(port)]),
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    options = json.loads(server.stdout.readline())
    url = options["url"]
    config = os.path.join(workdir, "hubfs.toml")
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
        fh.write(f"[hubfs]\nmemory_budget = \"{args.budget_mib}MiB\"\n\n[remotes.b]\n"
                 f'type = "tests.blobstore"\nurl = "{url}"\ntoken = "{TOKEN}"\n')
    with open(os.path.join(root, "big.bin"), "rb") as fh:
        want = hashlib.file_digest(fh, "sha256").hexdigest()
    raw, mounted, cpus, peaks = [], [], [], []
    try:
        for round_ in range(args.rounds):
            started = time.monotonic()
            digest, size = raw_read(url, "big.bin")
            raw.append(time.monotonic() - started)
            assert digest == want and size == args.size_mib << 20, "raw read differs"
            wall, (digest, size), cpu, hwm = hubfs_read(workdir, config, "big.bin", round_)
            assert digest == want and size == args.size_mib << 20, "hubfs read differs"
            mounted.append(wall)
            cpus.append(cpu)
            peaks.append(hwm)
            print(f"round {round_ + 1}: raw {raw[-1]:.2f}s, hubfs {wall:.2f}s "
                  f"(daemon {cpu:.1f}s CPU, peak RSS {hwm:.0f} MiB)", flush=True)
    finally:
        server.terminate()
    mib = args.size_mib
    result = {
        "object_mib": mib, "rounds": args.rounds, "memory_budget_mib": args.budget_mib,
        "raw_s": [min(raw), statistics.median(raw), max(raw)],
        "hubfs_s": [min(mounted), statistics.median(mounted), max(mounted)],
        "raw_mib_s": mib / statistics.median(raw), "hubfs_mib_s": mib / statistics.median(mounted),
        "ratio_of_raw": statistics.median(raw) / statistics.median(mounted),
        "daemon_cpu_s_median": statistics.median(cpus), "daemon_peak_rss_mib_max": max(peaks),
        "sha256_checked": True,
    }
    print(json.dumps(result, indent=2))
    os.makedirs(os.path.join(REPO, "bench", "results"), exist_ok=True)
    with open(os.path.join(REPO, "bench", "results", "sized_reads.json"), "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
