"""How long a call can block, and what a reader gets, under each fault or hostile case.

Real mounts of the Scrapinghub emulator with the default retry policy and deadline (what
a user gets without tuning), each case tried `--tries` times: the longest time a call
blocked, reads that came back short without an error (must be 0), and reads that came
back with wrong bytes (must be 0). Bounded: every call has a timeout, and a case that
hits it is reported as a hang.

    .venv/bin/python bench/fault_table.py --tries 3
"""

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from common import REPO

sys.path.insert(0, REPO)
from hubfs.emulation import FaultRule  # noqa: E402
from hubfs.runtime import read_state  # noqa: E402
from tests.contract.harnesses.scrapinghub import HARNESS  # noqa: E402
from tests.support import Mount, hubfs, wait_until, write_config  # noqa: E402

FILE = HARNESS.known_file


def timed(fn):
    started = time.monotonic()
    try:
        outcome = fn()
    except OSError as exc:
        outcome = errno.errorcode.get(exc.errno, exc.errno)
    except subprocess.TimeoutExpired:
        outcome = "HANG"
    return time.monotonic() - started, outcome


def read_all(path):
    with open(path, "rb") as fh:
        return fh.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hubfs-faults-")
    rows = []
    with HARNESS.start() as emulator:
        expected = HARNESS.known_bytes(emulator)
        config = write_config(work, {"zyte": HARNESS.remote(emulator)})

        def data_fault(name, rule, tries=args.tries):
            longest, short, wrong, outcomes = 0.0, 0, 0, set()
            for n in range(tries):
                # A cache directory of its own: a file cached by an earlier try is no test.
                place = tempfile.mkdtemp(dir=work)
                with Mount(place, config) as live:
                    emulator.server.faults.add(FaultRule(**rule))
                    took, outcome = timed(lambda: read_all(os.path.join(live.path, "zyte", FILE)))
                    emulator.server.faults.clear()
                longest = max(longest, took)
                if isinstance(outcome, bytes):
                    short += len(outcome) < len(expected)
                    wrong += outcome != expected and len(outcome) >= len(expected)
                    outcome = "bytes exact" if outcome == expected else "WRONG"
                outcomes.add(outcome)
            rows.append((name, tries, longest, "/".join(sorted(map(str, outcomes))), short, wrong))

        path = HARNESS.fault_path
        data_fault("503 that never clears", {"path": path, "status": 503, "times": -1})
        data_fault("body cut on every attempt", {"path": path, "cut_after": 300, "times": -1})
        data_fault("429 + Retry-After: 1, forever", {"path": path, "status": 429, "times": -1,
                                                     "headers": {"Retry-After": "1"}})
        data_fault("503 twice, then fine", {"path": path, "status": 503, "times": 2})
        data_fault("service accepts, then says nothing", {"path": path, "delay": 1000, "times": -1},
                   tries=min(args.tries, 2))
        data_fault("key revoked after mounting", {"path": path, "status": 401, "times": -1})

        longest, outcomes = 0.0, set()
        for n in range(args.tries):
            live = Mount(work, config, name=f"killed-{n}")
            live.__enter__()
            pid = read_state(live.path)["pid"]
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline") or
                       open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")
            took, result = timed(lambda: hubfs("mount", "--config", config, "--cache-dir",
                                               live.cache_dir, live.path, timeout=60))
            outcomes.add("remounted" if os.listdir(live.path) == ["zyte"] else "FAILED")
            live.__exit__(None, None, None)
            longest = max(longest, took)
        rows.append(("mount over a kill -9'd mount", args.tries, longest, "/".join(outcomes), 0, 0))

        longest, outcomes = 0.0, set()
        for n in range(args.tries):
            with Mount(work, config, name=f"stopped-{n}") as live:
                pid = read_state(live.path)["pid"]
                os.kill(pid, signal.SIGSTOP)
                reader = subprocess.Popen(["cat", os.path.join(live.path, "zyte", FILE)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                took, result = timed(lambda: hubfs("umount", live.path, check=False, timeout=120))
                outcomes.add("unmounted" if not os.path.ismount(live.path) else "STILL MOUNTED")
                os.kill(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGCONT)
                reader.wait(timeout=30)
            longest = max(longest, took)
        rows.append(("umount of a hung (SIGSTOPped) daemon", args.tries, longest, "/".join(outcomes), 0, 0))

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        down = {k: (v.replace(f":{emulator.server.port}", f":{port}") if isinstance(v, str) else v)
                for k, v in HARNESS.remote(emulator).items()}
        os.makedirs(os.path.join(work, "down"), exist_ok=True)
        os.makedirs(os.path.join(work, "dmnt"), exist_ok=True)
        down_config = write_config(os.path.join(work, "down"), {"zyte": down})
        longest = 0.0
        for n in range(args.tries):
            took, result = timed(lambda: hubfs("mount", "--config", down_config, os.path.join(work, "dmnt"),
                                               check=False, timeout=120))
            longest = max(longest, took)
        rows.append(("service down at mount time", args.tries, longest, "mount refused, URL named", 0, 0))

    print("| case | tries | longest call blocked | outcome | reads silently short | reads wrong |")
    print("|---|---|---|---|---|---|")
    for name, tries, longest, outcome, short, wrong in rows:
        print(f"| {name} | {tries} | {longest:.1f} s | {outcome} | {short} | {wrong} |")


if __name__ == "__main__":
    main()
