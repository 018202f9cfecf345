"""DS3 bulk jobs against plain GETs/PUTs: a directory of 100 files of 10 MiB, in and out.

Two servers of the same emulator code on CPU 0: one in DS3 mode (hubfs `ds3` remote:
each file goes up as a bulk PUT job and comes back through a bulk GET job), one in
plain S3 mode (hubfs `s3` remote: single PUTs and ranged GETs). Interleaved rounds,
each on fresh mounts: `cp -r` into the bucket (hubfs sends each file at its close, so
when `cp` returns the server holds it), `cp -r` back out through a fresh mount (checked
file by file with sha256, which also proves the first step stored everything). Wall time min/median/max,
requests by kind, daemon CPU and peak RSS. Results go to bench/results/ds3_bulk.json.

    .venv/bin/python bench/ds3_bulk.py [--rounds 2] [--files 100] [--mib 10]
    .venv/bin/python bench/ds3_bulk.py --files 1000 --kib 10   # small files: shared read jobs
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.s3_tools import (REPO, Hubfs, classify, copy_out, manifest, new_row, record, requests_made, run,  # noqa: E402
                            start_emulator, stats, usage_between)

RESULTS = os.path.join(REPO, "bench", "results", "ds3_bulk.json")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--mib", type=int, default=10)
    parser.add_argument("--kib", type=int, default=0,
                        help="files of this many KiB instead (results in ds3_bulk_small.json)")
    args = parser.parse_args(argv)
    size = args.kib * 1024 if args.kib else args.mib << 20
    results_path = RESULTS.replace(".json", "_small.json") if args.kib else RESULTS
    workdir = tempfile.mkdtemp(prefix="bench-ds3-")
    servers = {mode: start_emulator(mode, "bench") for mode in ("ds3", "s3")}
    results = {"files": args.files, "bytes_per_file": size, "rounds": args.rounds, "workloads": {}}
    try:
        source = os.path.join(workdir, "source")
        os.makedirs(source)
        for n in range(args.files):
            with open(os.path.join(source, f"file-{n:03d}.bin"), "wb") as out:
                out.write(random.Random(n).randbytes(size))
        expected = manifest(source)
        tools = {}
        for mode, (_, url, _) in servers.items():
            tool = Hubfs(os.path.join(workdir, mode), url, mode=mode)
            tool.name = f"hubfs-{mode}" + (" (bulk jobs)" if mode == "ds3" else " (plain GET/PUT)")
            tools[mode] = tool
        for workload in ("cp-in", "cp-out"):
            table = results["workloads"].setdefault(workload, {})
            for round_number in range(args.rounds):
                order = list(tools.items())
                random.Random(round_number).shuffle(order)
                for mode, tool in order:
                    url = servers[mode][1]
                    row = table.setdefault(tool.name, new_row())
                    tool.mount()
                    try:
                        requests_made(url)
                        base = tool.usage()
                        target = tool.path("bench", "tree")
                        if workload == "cp-in":
                            if os.path.exists(target):
                                run(["rm", "-rf", target])
                                requests_made(url)
                                base = tool.usage()
                            started = time.monotonic()
                            run(["cp", "-r", source, target])
                            wall = time.monotonic() - started
                            ok = sorted(os.listdir(target)) == sorted(os.listdir(source))
                        else:
                            wall, ok = copy_out(target, os.path.join(workdir, f"out-{mode}-{round_number}"),
                                                expected)
                        used = tool.usage()
                        kinds = classify(requests_made(url))
                    finally:
                        tool.unmount()
                    record(row, wall, kinds, ok, *usage_between(base, used))
                    print(f"{workload} round {round_number + 1} {tool.name}: {wall:.2f}s, {sum(kinds.values())} "
                          f"requests {kinds}{'' if ok else ' MISMATCH'}", flush=True)
            for name, row in table.items():
                row["summary"] = stats(row["wall"])
                print(f"== {workload} {name}: median {row['summary']['median']:.2f}s "
                      f"(min {row['summary']['min']:.2f}, max {row['summary']['max']:.2f}), "
                      f"requests {row['requests'][-1]}, cpu {stats(row['cpu'])['median']:.2f}s, "
                      f"peak rss {max(row['rss']):.0f} MiB{'' if row['ok'] else ', FAILED CHECK'}", flush=True)
    finally:
        for process, _, root in servers.values():
            process.terminate()
            process.wait(30)
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    with open(results_path, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"results in {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
