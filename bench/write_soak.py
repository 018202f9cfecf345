"""A bounded soak of the write path as people write: shells, kills, fuzzed values.

Against the Scrapinghub emulator (demo data) through a real mount, in one run:
- every shell form of the contract suite (bash/dash echo, /bin/echo, printf, tee, an
  exec'd descriptor) overwriting and creating collection values, each checked with the
  official client right after the shell exits 0;
- SIGKILLs of the daemon in the middle of a `.jl` restore, then a remount, checking that
  every key of every restore whose close had been accepted, and every key of the killed
  one, reaches the service;
- random values (hypothesis-free: seeded random bytes, deep nesting, huge strings,
  non-UTF-8) each answered by success (then read back identical) or EINVAL, never
  anything else, and never a hang.
Every subprocess has a timeout: one that expires counts as a hang. Prints the table the
issue asks for: tried, bytes acknowledged then lost, hangs.

    .venv/bin/python bench/write_soak.py --writes 200 --kills 5 --fuzz 300
"""

import argparse
import errno
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

from common import REPO

sys.path.insert(0, REPO)
from hubfs.runtime import read_state  # noqa: E402
from tests.contract.harnesses.scrapinghub import HARNESS  # noqa: E402
from tests.contract.test_writing import SHELLS  # noqa: E402
from tests.support import Mount, wait_until, write_config  # noqa: E402

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--fuzz", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    place = HARNESS.writable
    work = tempfile.mkdtemp(prefix="hubfs-soak-")
    table = {}
    with HARNESS.start() as emulator:
        config = write_config(work, {"zyte": HARNESS.remote(emulator)}, general=FAST)
        with Mount(work, config, name="soak") as mount:
            directory = os.path.join(mount.path, "zyte", place.directory)
            tried = lost = hangs = 0
            shells = list(SHELLS.items())
            for n in range(args.writes):
                name, command = shells[n % len(shells)]
                key = place.existing if n % 2 else f"soak-{n}"
                content = place.good(10_000 + n)
                tried += 1
                try:
                    result = subprocess.run(command + [content.decode().rstrip("\n"),
                                                       os.path.join(directory, key)],
                                            capture_output=True, timeout=60)
                except subprocess.TimeoutExpired:
                    hangs += 1
                    continue
                if result.returncode == 0 and place.read_back(emulator, key) != place.normalise(content):
                    lost += len(content)
            table["shell writes"] = (tried, f"{len(shells)} forms", lost, hangs)

            tried = lost = hangs = 0
            for n in range(args.fuzz):
                kind = rng.choice(["bytes", "deep", "huge", "json", "utf8"])
                if kind == "bytes":
                    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
                elif kind == "deep":
                    depth = rng.randrange(1, 200_000)
                    data = b"[" * depth + b"]" * depth
                elif kind == "huge":
                    data = b'{"x": "' + b"y" * rng.randrange(1, 3_000_000) + b'"}'
                elif kind == "json":
                    data = json.dumps({"n": n, "v": [rng.random() for _ in range(rng.randrange(5))]}).encode()
                else:
                    data = "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(40)).encode("utf-8", "replace")
                tried += 1
                code = _write(os.path.join(directory, "fuzzed"), data)
                if code == "hang":
                    hangs += 1
                elif code == 0 and place.read_back(emulator, "fuzzed") != place.normalise(data):
                    lost += len(data)
                elif code not in (0, errno.EINVAL):
                    lost += len(data) if code == errno.EIO else 0
                    table.setdefault("unexpected errnos", []).append(code)
            table["fuzzed values"] = (tried, "bytes/deep/huge/json/utf8", lost, hangs)
        kills = lost = hangs = 0
        for n in range(args.kills):
            backup = os.path.join(work, f"restore-{n}.jl")
            keys = 4_000
            with open(backup, "w") as fh:
                fh.write("".join(json.dumps({"_key": f"r{n}-{k:05d}", "value": {"k": k}}) + "\n"
                                 for k in range(keys)))
            emulator.server.faults.add(method="POST", path=rf"^/collections/101/s/soak{n}$",
                                       delay=0.2, times=-1)
            mount = Mount(work, config, name=f"kill{n}")
            mount.__enter__()
            target = os.path.join(mount.path, "zyte", "101", "collections", f"soak{n}.jl")
            copier = threading.Thread(target=lambda: subprocess.run(["cp", backup, target],
                                                                    capture_output=True, timeout=120))
            copier.start()
            wait_until(lambda: any(r["method"] == "POST" and f"soak{n}" in r["path"]
                                   for r in emulator.server.requests.entries()), timeout=30)
            os.kill(read_state(mount.path)["pid"], signal.SIGKILL)
            copier.join(timeout=120)
            subprocess.run(["fusermount3", "-uz", mount.path], capture_output=True)
            emulator.server.faults.clear()
            kills += 1
            with Mount(work, config, name=f"after{n}"):
                store = _store(emulator, f"soak{n}")
                if not wait_until(lambda: _count(store) == keys, timeout=120):
                    lost += keys - _count(store)
                    hangs += 1
        table["SIGKILL mid-restore + remount"] = (kills, "4,000 keys each", lost, hangs)
    print("| what was tried | how many | variety | bytes acknowledged then lost | hangs |")
    print("|---|---|---|---|---|")
    for what, row in table.items():
        if what == "unexpected errnos":
            continue
        print(f"| {what} | {row[0]} | {row[1]} | {row[2]} | {row[3]} |")
    if table.get("unexpected errnos"):
        print("unexpected errnos:", sorted(set(table["unexpected errnos"])))


def _write(path, data):
    code = ("import sys, os\ntry:\n    with open(sys.argv[1], 'wb') as f: f.write(sys.stdin.buffer.read())\n"
            "except OSError as e: sys.exit(e.errno)\n")
    try:
        result = subprocess.run([sys.executable, "-c", code, path], input=data, timeout=60)
    except subprocess.TimeoutExpired:
        return "hang"
    return result.returncode


def _store(emulator, name):
    from tests.contract.harnesses.scrapinghub import official

    return official(emulator).get_project(101).collections.get_store(name)


def _count(store):
    try:
        return store.count()
    except Exception:
        return 0


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"(took {time.monotonic() - started:.0f} s)")
