"""Benchmark: appending 100,000 logs through `append.jl` vs the official SDK's put_logs loop.

The same 100,000 JSON lines (about 80 bytes each: a level, a message, a user, a
number) go to the emulator's empty `bench/ingest` logstore two ways, in alternating
order per round: hubfs, `cat lines.jl >> <mount>/sls/bench/ingest/append.jl` (the time
includes the close, which returns once the service acknowledged every batch); the SDK,
parsing the same file and calling `put_logs` with 4,096 `LogItem`s per request (what its
docs show, at the same batch size hubfs uses). After each run the logstore's LogGroup
count is checked through the SDK's cursors: every log arrived, once.
Usage: python bench/aliyun_log_append.py [--rounds 3] [--json bench/results/aliyun_log_append.json]
"""

import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from aliyun_log_common import REPO, hubfs, report, sdk_client, start_emulator, summary, write_config

from backends.aliyun_log.emulator import BENCH_INGEST, BENCH_PROJECT

LINES = 100_000
BATCH = 4096
TIME_LIMIT = 900


def make_lines(path):
    with open(path, "w", encoding="utf-8") as fh:
        for n in range(LINES):
            fh.write(json.dumps({"level": "INFO" if n % 10 else "WARN", "msg": f"event number {n} done",
                                 "user": f"user-{n % 977}", "n": n}) + "\n")


def groups(client):
    total = 0
    for shard in client.list_shards(BENCH_PROJECT, BENCH_INGEST).get_shards_info():
        ends = [client.get_cursor(BENCH_PROJECT, BENCH_INGEST, shard["shardID"], where).get_cursor()
                for where in ("begin", "end")]
        total += int(base64.b64decode(ends[1])) - int(base64.b64decode(ends[0]))
    return total


def hubfs_round(config, lines, workdir):
    mountpoint = os.path.join(workdir, f"mnt-{time.monotonic_ns()}")
    os.makedirs(mountpoint)
    hubfs("mount", "--config", config, "--cache-dir", os.path.join(workdir, "cache"), mountpoint)
    try:
        target = os.path.join(mountpoint, "sls", BENCH_PROJECT, BENCH_INGEST, "append.jl")
        started = time.perf_counter()
        subprocess.run(f"cat {lines} >> {target}", shell=True, check=True)
        return time.perf_counter() - started
    finally:
        hubfs("umount", mountpoint)


def sdk_round(url, lines):
    code = (
        "import json, sys, time\n"
        "sys.path.insert(0, 'bench')\n"
        "from aliyun_log_common import sdk_client\n"
        "from aliyun.log import LogItem, PutLogsRequest\n"
        f"client = sdk_client({url!r})\n"
        "started = time.perf_counter()\n"
        "items = []\n"
        "now = int(time.time())\n"
        f"for line in open({lines!r}, encoding='utf-8'):\n"
        "    obj = json.loads(line)\n"
        "    items.append(LogItem(now, [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in obj.items()]))\n"
        f"    if len(items) == {BATCH}:\n"
        f"        client.put_logs(PutLogsRequest({BENCH_PROJECT!r}, {BENCH_INGEST!r}, '', '', items))\n"
        "        items = []\n"
        "if items:\n"
        f"    client.put_logs(PutLogsRequest({BENCH_PROJECT!r}, {BENCH_INGEST!r}, '', '', items))\n"
        "print(time.perf_counter() - started)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=TIME_LIMIT, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"SDK put_logs loop failed:\n{result.stderr}")
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    emulator, url = start_emulator("bench")
    workdir = tempfile.mkdtemp(prefix="hubfs-bench-sls-append-")
    deadline = time.monotonic() + TIME_LIMIT
    try:
        lines = os.path.join(workdir, "lines.jl")
        make_lines(lines)
        config = write_config(workdir, url)
        client = sdk_client(url)
        per_run = -(-LINES // BATCH)  # LogGroups one run adds
        rounds = []
        for number in range(args.rounds):
            if time.monotonic() > deadline:
                break
            entry = {}
            for tool in (("sdk", "hubfs") if number % 2 == 0 else ("hubfs", "sdk")):
                before = groups(client)
                entry[tool] = sdk_round(url, lines) if tool == "sdk" else hubfs_round(config, lines, workdir)
                assert groups(client) - before == per_run, f"{tool}: not every batch arrived once"
            rounds.append(entry)
            print(f"round {number + 1}: SDK {entry['sdk']:.2f}s, hubfs {entry['hubfs']:.2f}s", flush=True)
        sdk = [r["sdk"] for r in rounds]
        ours = [r["hubfs"] for r in rounds]
        result = {"lines": LINES, "batch": BATCH, "rounds": rounds, "sdk": summary(sdk),
                  "hubfs": summary(ours), "ratio_median": statistics.median(sdk) / statistics.median(ours)}
        report(result, args.json)
    finally:
        emulator.terminate()
        emulator.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
