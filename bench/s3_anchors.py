"""hubfs (s3) side by side with `rclone mount` and `s3fs` on the same local S3 server.

One run, interleaved rounds (every round mounts each tool fresh, in a shuffled order):
- read-big: `dd bs=1M | sha256sum` of a big object (1 GiB by default), cold;
- write-big: `cp` of a big local file into the bucket, until the server holds it;
- cp-in / cp-out: `cp -r` of 1,000 files of 10 KiB into the bucket and back;
- ls-l: `ls -l` of a folder of 20,000 objects;
- raw: the same GET as read-big with `curl --aws-sigv4` (the ceiling).
Reported per tool and workload: wall seconds (min/median/max), ratio of medians to
hubfs, requests the server saw, daemon CPU seconds and peak RSS; every result is
checked with sha256 (or the entry count) and a mismatch is reported as FAILED.
The server is the DS3 emulator in its plain S3 mode (objects on disk, sent with
sendfile) on CPU 0; tools and daemons run on CPU 1. rclone and s3fs come from Debian
(installed by bench/setup-anchors.sh). Results go to bench/results/s3_anchors.json.

    .venv/bin/python bench/s3_anchors.py [--rounds 3] [--size-mib 1024] [--small 1000]
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.s3_tools import (DEMO_ACCESS_KEY, DEMO_REGION, DEMO_SECRET_KEY, REPO, Hubfs, Rclone,  # noqa: E402
                            S3fs, classify, copy_out, manifest, new_row, record, requests_made, run, sha256_file,
                            start_emulator, stats, usage_between)

RESULTS = os.path.join(REPO, "bench", "results", "s3_anchors.json")


def boto(url):
    import boto3

    return boto3.client("s3", endpoint_url=url, aws_access_key_id=DEMO_ACCESS_KEY,
                        aws_secret_access_key=DEMO_SECRET_KEY, region_name=DEMO_REGION)


def server_sha256(client, key):
    digest = hashlib.sha256()
    body = client.get_object(Bucket="bench", Key=key)["Body"]
    for block in iter(lambda: body.read(8 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def wait_for_object(client, key, size, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if client.head_object(Bucket="bench", Key=key)["ContentLength"] == size:
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def count_keys(client, bucket, prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(1 for page in pages for item in page.get("Contents", []) if not item["Key"].endswith("/"))


def read_sha256(path):
    """Read *path* sequentially in 1 MiB reads (`dd`, as `cp` and rsync read in big
    blocks) and hash what arrives: the read is timed and checked at once."""
    return subprocess.run(["taskset", "-c", "1", "sh", "-c", f"dd if='{path}' bs=1M status=none | sha256sum"],
                          check=True, capture_output=True, text=True, timeout=900).stdout.split()[0]


def drop_caches():
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
    except OSError:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big object")
    parser.add_argument("--small", type=int, default=1000, help="number of 10 KiB files for cp -r")
    parser.add_argument("--only", default="", help="comma-separated workloads to run")
    args = parser.parse_args(argv)
    subprocess.run(["sh", os.path.join(REPO, "bench", "setup-anchors.sh")], check=True)
    versions = {
        "rclone": subprocess.run(["rclone", "version"], capture_output=True, text=True).stdout.split("\n")[0],
        "s3fs": subprocess.run(["s3fs", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
    }
    workdir = tempfile.mkdtemp(prefix="bench-s3-")
    server, url, objects = start_emulator("s3", "bench")
    results = {"size_mib": args.size_mib, "small_files": args.small, "rounds": args.rounds,
               "versions": versions, "workloads": {}}
    try:
        client = boto(url)
        size = args.size_mib * 1024 * 1024
        big = os.path.join(workdir, "big.bin")
        with open(big, "wb") as out:
            rng = random.Random(7)
            for _ in range(args.size_mib):
                out.write(rng.randbytes(1 << 20))
        big_sha = sha256_file(big)
        from boto3.s3.transfer import TransferConfig

        client.upload_file(big, "bench", "big.bin", Config=TransferConfig(multipart_chunksize=64 << 20))
        small = os.path.join(workdir, "small")
        for n in range(args.small):
            sub = os.path.join(small, f"d{n % 10}")
            os.makedirs(sub, exist_ok=True)
            with open(os.path.join(sub, f"f{n:04d}.bin"), "wb") as out:
                out.write(random.Random(n).randbytes(10 * 1024))
        small_manifest = manifest(small)
        tools = [Hubfs(workdir, url), Rclone(workdir, url, "off"), Rclone(workdir, url, "writes"),
                 S3fs(workdir, url)]
        workloads = ["read-big", "write-big", "cp-in", "cp-out", "ls-l", "raw"]
        if args.only:
            workloads = [w for w in workloads if w in args.only.split(",")]
        requests_made(url)
        for workload in workloads:
            table = results["workloads"].setdefault(workload, {})
            for round_number in range(args.rounds):
                order = tools[:] if workload != "raw" else [None]
                random.Random(round_number * 31 + len(workload)).shuffle(order)
                for tool in order:
                    name = tool.name if tool else "curl"
                    row = table.setdefault(name, new_row())
                    try:
                        wall, ok, kinds, cpu, rss = step(workload, tool, url, client, big_sha, size,
                                                         small, small_manifest, round_number, workdir)
                    except Exception as exc:  # one broken tool must not end the run
                        print(f"{workload} {name}: FAILED: {exc}", flush=True)
                        row["ok"] = False
                        row.setdefault("errors", []).append(str(exc)[:300])
                        if tool:
                            tool.unmount()
                        continue
                    record(row, wall, kinds, ok, cpu, rss)
                    print(f"{workload} round {round_number + 1} {name}: {wall:.2f}s, {sum(kinds.values())} "
                          f"requests, cpu {cpu if cpu is None else round(cpu, 2)}s, rss "
                          f"{rss if rss is None else round(rss)} MiB{'' if ok else ' MISMATCH'}", flush=True)
            summarize(workload, table)
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(objects, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as fh:
        json.dump(results, fh, indent=1)
    print(f"results in {RESULTS}")
    return 0


def step(workload, tool, url, client, big_sha, size, small, small_manifest, round_number, workdir):
    """One measured step: (wall s, result ok, requests by kind, daemon CPU s, peak RSS MiB)."""
    if workload == "raw":
        drop_caches()
        requests_made(url)
        started = time.monotonic()
        out = subprocess.run(["taskset", "-c", "1", "sh", "-c",
                              f"curl -sf --aws-sigv4 'aws:amz:{DEMO_REGION}:s3' "
                              f"--user '{DEMO_ACCESS_KEY}:{DEMO_SECRET_KEY}' "
                              f"'{url}bench/big.bin' | sha256sum"],
                             check=True, capture_output=True, text=True, timeout=900).stdout.split()[0]
        wall = time.monotonic() - started
        return wall, out == big_sha, classify(requests_made(url)), None, None
    bucket = "listing" if workload == "ls-l" else "bench"
    if isinstance(tool, S3fs):
        tool.mount(bucket)
    else:
        tool.mount()
    try:
        drop_caches()
        requests_made(url)
        base = tool.usage()
        ok = True
        key = f"w-{tool.name}-{round_number}.bin"
        prefix = f"small-{tool.name}"
        if workload == "read-big":
            started = time.monotonic()
            ok = read_sha256(tool.path("bench", "big.bin")) == big_sha
            wall = time.monotonic() - started
        elif workload == "write-big":
            source = os.path.join(workdir, "big.bin")
            started = time.monotonic()
            run(["cp", source, tool.path("bench", key)])
            ok = wait_for_object(client, key, size)
            wall = time.monotonic() - started
        elif workload == "cp-in":
            target = tool.path("bench", prefix)
            if os.path.exists(target):
                run(["rm", "-rf", target])  # the previous round's copy: not measured
                requests_made(url)
                base = tool.usage()
            started = time.monotonic()
            run(["cp", "-r", small, target])
            deadline = time.monotonic() + 300
            while count_keys(client, "bench", prefix + "/") < len(small_manifest) and time.monotonic() < deadline:
                time.sleep(0.1)
            wall = time.monotonic() - started
            ok = count_keys(client, "bench", prefix + "/") == len(small_manifest)
        elif workload == "cp-out":
            wall, ok = copy_out(tool.path("bench", prefix), os.path.join(workdir, f"out-{tool.name}-{round_number}"),
                                small_manifest)
        elif workload == "ls-l":
            started = time.monotonic()
            listing = subprocess.run(["taskset", "-c", "1", "ls", "-l", tool.path("listing", "many")],
                                     check=True, capture_output=True, text=True, timeout=900).stdout
            wall = time.monotonic() - started
            ok = len(listing.splitlines()) == 20_001
        cpu, rss = usage_between(base, tool.usage())
        kinds = classify(requests_made(url))
        if workload == "write-big":
            ok = ok and server_sha256(client, key) == big_sha
            client.delete_object(Bucket="bench", Key=key)
        return wall, ok, kinds, cpu, rss
    finally:
        tool.unmount()


def summarize(workload, table):
    medians = {name: stats(row["wall"])["median"] for name, row in table.items() if row["wall"]}
    hub = medians.get("hubfs")
    print(f"== {workload}")
    for name, row in table.items():
        if not row["wall"]:
            print(f"  {name}: no result ({'; '.join(row.get('errors', []))[:200]})")
            continue
        s = stats(row["wall"])
        row["summary"] = s
        ratio = (medians[name] / hub) if hub else None
        row["ratio_to_hubfs"] = ratio
        print(f"  {name}: median {s['median']:.2f}s (min {s['min']:.2f}, max {s['max']:.2f})"
              + (f", {ratio:.2f}x hubfs" if ratio else "")
              + f", requests {row['requests'][-1]} {row['kinds']}"
              + (f", cpu {stats(row['cpu'])['median']:.2f}s, peak rss {max(row['rss']):.0f} MiB" if row["cpu"] else "")
              + ("" if row["ok"] else ", FAILED CHECK"), flush=True)


if __name__ == "__main__":
    sys.exit(main())
