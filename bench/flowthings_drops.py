"""Benchmark: reading and appending flowthings drops through hubfs vs a plain `requests` loop.

No official Python client of flowthings works on current Python, so the tool a user would
otherwise use is a `requests` loop over the same API (the best they can do without one):
- read: `cat drops.jl` of the bench flow `/demo/bench/big` (100,000 drops) through a fresh
  mount, against a loop paging `GET /drop/<flow>?sort=creationDate&order=asc&limit=1000
  &skip=N` on one session and writing each drop as a compact JSON line (the same bytes:
  both outputs are hashed and must match);
- append: 10,000 drops appended to `/demo/bench/sink/drops.jl` with one `cat >>`
  (sent at close, one POST per drop in line order, each acknowledged drop recorded in the
  journal), against a loop of one `POST /drop/<flow>` per drop on one session.
The emulator (`hubfs emulate flowthings --data bench`) runs in its own process on CPU 0,
the tools and the hubfs daemon on CPU 1; rounds alternate the order of the two tools.
The sink is emptied between rounds and its drop count checked after each.
Usage: python bench/flowthings_drops.py [--rounds 3] [--appends 10000]
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
import urllib.request

from common import REPO, pinned, start_emulator

from backends.flowthings.emulator import BENCH_DROPS, BENCH_FLOW, DEMO_TOKEN, SINK_FLOW

READ_LOOP = """
import hashlib, json, sys, time
import requests
base, token, flow, out = sys.argv[1:5]
started = time.monotonic()
session = requests.Session()
session.headers.update({"X-Auth-Token": token})
skip, digest = 0, hashlib.sha256()
with open(out, "wb") as fh:
    while True:
        page = session.get(f"{base}/drop/{flow}", params={"sort": "creationDate", "order": "asc",
                                                          "limit": 1000, "skip": skip}).json()["body"]
        if not page:
            break
        data = b"".join(json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode() + b"\\n"
                        for d in page)
        fh.write(data)
        digest.update(data)
        skip += len(page)
print(json.dumps({"wall": time.monotonic() - started, "sha256": digest.hexdigest(), "drops": skip}))
"""

POST_LOOP = """
import json, sys, time
import requests
base, token, flow, path = sys.argv[1:5]
started = time.monotonic()
session = requests.Session()
session.headers.update({"X-Auth-Token": token, "Content-Type": "application/json"})
with open(path, "rb") as fh:
    for line in fh:
        answer = session.post(f"{base}/drop/{flow}", data=json.dumps({"elems": json.loads(line)}))
        if answer.status_code != 201:
            raise SystemExit(f"POST failed: {answer.status_code}")
print(json.dumps({"wall": time.monotonic() - started}))
"""


def api(url, method, where, body=None):
    request = urllib.request.Request(f"{url}v4.0/demo{where}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"X-Auth-Token": DEMO_TOKEN})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["body"]


def flow_id(url, path):
    return api(url, "GET", f"/flow?filter=path%20%3D%3D%20%27{path.replace('/', '%2F')}%27")[0]["id"]


def count_drops(url, flow):
    total, skip = 0, 0
    while True:
        page = api(url, "GET", f"/drop/{flow}?limit=1000&skip={skip}&only=id")
        if not page:
            return total
        total += len(page)
        skip += len(page)


def write_config(workdir, url):
    config = os.path.join(workdir, "hubfs.toml")
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
        fh.write(f'[remotes.ft]\ntype = "flowthings"\nurl = "{url.rstrip("/")}"\naccount = "demo"\n'
                 f'token = "{DEMO_TOKEN}"\nversion = "4.0"\n')
    return config


class Mounted:
    def __init__(self, workdir, config, name):
        self.path = os.path.join(workdir, name)
        os.makedirs(self.path)
        subprocess.run(pinned(1, [sys.executable, "-m", "hubfs", "mount", "--config", config,
                                  "--cache-dir", os.path.join(workdir, "cache-" + name), self.path]),
                       check=True, cwd=REPO, capture_output=True)

    def close(self):
        subprocess.run([sys.executable, "-m", "hubfs", "umount", self.path], cwd=REPO,
                       capture_output=True, timeout=300)


def hubfs_read(workdir, config, number):
    mount = Mounted(workdir, config, f"read{number}")
    try:
        target = os.path.join(mount.path, "ft", *BENCH_FLOW.split("/")[2:], "drops.jl")
        out = os.path.join(workdir, "hubfs-read.jl")
        started = time.monotonic()
        subprocess.run(pinned(1, ["sh", "-c", f'cat "{target}" > "{out}"']), check=True)
        wall = time.monotonic() - started
    finally:
        mount.close()
    with open(out, "rb") as fh:
        data = fh.read()
    return {"wall": wall, "sha256": hashlib.sha256(data).hexdigest(), "drops": data.count(b"\n")}


def loop_read(url, flow, workdir):
    return json.loads(subprocess.run(
        pinned(1, [sys.executable, "-c", READ_LOOP, f"{url}v4.0/demo", DEMO_TOKEN, flow,
                   os.path.join(workdir, "loop-read.jl")]),
        check=True, capture_output=True, text=True).stdout)


def hubfs_append(mount, lines):
    target = os.path.join(mount.path, "ft", *SINK_FLOW.split("/")[2:], "drops.jl")
    started = time.monotonic()
    subprocess.run(pinned(1, ["sh", "-c", f'cat "{lines}" >> "{target}"']), check=True)
    return {"wall": time.monotonic() - started}


def loop_append(url, flow, lines):
    return json.loads(subprocess.run(
        pinned(1, [sys.executable, "-c", POST_LOOP, f"{url}v4.0/demo", DEMO_TOKEN, flow, lines]),
        check=True, capture_output=True, text=True).stdout)


def summary(times):
    return {"min": min(times), "median": statistics.median(times), "max": max(times)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appends", type=int, default=10_000)
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results", "flowthings_drops.json"))
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="hubfs-bench-ft-")
    raw = {"read_hubfs": [], "read_loop": [], "append_hubfs": [], "append_loop": []}
    emulator, url = start_emulator("bench", "flowthings")
    append_mount = None
    try:
        config = write_config(workdir, url)
        big, sink = flow_id(url, BENCH_FLOW), flow_id(url, SINK_FLOW)
        lines = os.path.join(workdir, "lines.jl")
        with open(lines, "w") as fh:
            for number in range(args.appends):
                fh.write(json.dumps({"seq": number, "sensor": f"s-{number % 40}",
                                     "value": round(number * 0.173, 3), "ok": number % 4 != 0}) + "\n")
        # Untimed warm-up of both readers.
        hubfs_read(workdir, config, "warm")
        loop_read(url, big, workdir)
        append_mount = Mounted(workdir, config, "append")
        for number in range(args.rounds):
            reads = [("read_hubfs", lambda: hubfs_read(workdir, config, number)),
                     ("read_loop", lambda: loop_read(url, big, workdir))]
            digests = {}
            for name, run in (reads if number % 2 == 0 else reads[::-1]):
                result = run()
                if result["drops"] != BENCH_DROPS:
                    raise RuntimeError(f"{name}: {result['drops']} drops")
                digests[name] = result["sha256"]
                raw[name].append(result["wall"])
            if len(set(digests.values())) != 1:
                raise RuntimeError(f"round {number}: the two reads differ: {digests}")
            appends = [("append_hubfs", lambda: hubfs_append(append_mount, lines)),
                       ("append_loop", lambda: loop_append(url, sink, lines))]
            for name, run in (appends if number % 2 == 0 else appends[::-1]):
                api(url, "DELETE", f"/drop/{sink}")
                raw[name].append(run()["wall"])
                have = count_drops(url, sink)
                if have != args.appends:
                    raise RuntimeError(f"{name}: the sink holds {have} drops, not {args.appends}")
    finally:
        if append_mount is not None:
            append_mount.close()
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    stats = {name: summary(times) for name, times in raw.items()}
    result = {"drops_read": BENCH_DROPS, "drops_appended": args.appends, "rounds": args.rounds,
              "seconds": stats, "raw": raw,
              "read_ratio_loop_over_hubfs": stats["read_loop"]["median"] / stats["read_hubfs"]["median"],
              "append_ratio_loop_over_hubfs": stats["append_loop"]["median"] / stats["append_hubfs"]["median"]}
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=2)
    print(f"{BENCH_DROPS} drops read, {args.appends} appended, {args.rounds} rounds; both reads hash alike")
    print("| task | tool | min | median | max | loop / hubfs (median) |")
    print("|---|---|---|---|---|---|")
    for task, hubfs_name, loop_name in (("read", "read_hubfs", "read_loop"),
                                        ("append", "append_hubfs", "append_loop")):
        ratio = stats[loop_name]["median"] / stats[hubfs_name]["median"]
        for name, label in ((hubfs_name, "hubfs"), (loop_name, "requests loop")):
            s = stats[name]
            shown = f"{ratio:.2f}x" if name == hubfs_name else ""
            print(f"| {task} | {label} | {s['min']:.2f} s | {s['median']:.2f} s | {s['max']:.2f} s | {shown} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
