"""Benchmark: metadata walks over a mounted project, and a whole-project export.

Tools people run over a tree (`du -sh`, `find -type f -size +0`, `rsync -a --dry-run`,
`ls -lR`) walk project 102 of the emulator's demo data (1,506 finished jobs, 6 files
each) through hubfs, cold (fresh mount, empty disk cache) and warm (the same mount
again), counting the requests the emulator served. With `--baseline REPO` the same cold
walks also run on the hubfs of another checkout (say `/work/main`, what hubfs did
before), in interleaved rounds. Then the user's other way: an official-client script
that exports every finished job of project 102 to a directory, against `rsync -a` of the
mounted project to a directory (wall time and requests).

The emulator runs pinned to CPU 0; the tools and the daemon may use both CPUs.
Usage: python bench/scrapinghub_walks.py [--rounds 2] [--baseline /work/main]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import REPO, start_emulator, write_config

PROJECT = "102"
TOOLS = {
    "du -sh": ["du", "-sh", "{p}"],
    "find -type f -size +0": ["find", "{p}", "-type", "f", "-size", "+0"],
    "rsync -a --dry-run": ["rsync", "-a", "--dry-run", "{p}/", "{out}/dry"],
    "ls -lR": ["ls", "-lR", "{p}"],
}
TIME_LIMIT = 3600


def requests_served(url):
    with urllib.request.urlopen(url + "__emulator__/requests", timeout=30) as response:
        return json.load(response)


def clear_requests(url):
    request = urllib.request.Request(url + "__emulator__/requests", method="DELETE")
    urllib.request.urlopen(request, timeout=30).close()


class Mounted:
    def __init__(self, repo, config, workdir, name):
        self.repo, self.config = repo, config
        self.path = os.path.join(workdir, name)
        self.cache = os.path.join(workdir, name + "-cache")
        self.log = os.path.join(workdir, name + ".log")

    def __enter__(self):
        shutil.rmtree(self.cache, ignore_errors=True)
        os.makedirs(self.path, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=self.repo)
        subprocess.run([sys.executable, "-m", "hubfs", "mount", "--config", self.config,
                        "--cache-dir", self.cache, "--log-file", self.log, self.path],
                       check=True, cwd=self.repo, env=env, capture_output=True, timeout=120)
        return self

    def __exit__(self, *exc):
        env = dict(os.environ, PYTHONPATH=self.repo)
        subprocess.run([sys.executable, "-m", "hubfs", "umount", self.path], cwd=self.repo,
                       env=env, capture_output=True, timeout=300)


def timed(command, url):
    clear_requests(url)
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=TIME_LIMIT)
    wall = time.monotonic() - started
    served = requests_served(url)
    job_data = [e for e in served if e["path"].split("/")[1] in
                ("jobs", "items", "logs", "requests", "samples")]
    return {"wall": wall, "requests": len(served), "job_requests": len(job_data)}


def walk(repo, config, workdir, url, tool, name):
    out = os.path.join(workdir, "out-" + name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with Mounted(repo, config, workdir, name) as mount:
        project = os.path.join(mount.path, "zyte", PROJECT)
        command = [part.format(p=project, out=out) for part in TOOLS[tool]]
        cold = timed(command, url)
        warm = timed(command, url)
    return {"cold": cold, "warm": warm}


def official_export(url, target):
    command = [sys.executable, os.path.join(REPO, "bench", "official_export_project.py"), url,
               PROJECT, target]
    clear_requests(url)
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=TIME_LIMIT)
    return {"wall": time.monotonic() - started, "requests": len(requests_served(url))}


def rsync_copy(config, workdir, url, target):
    with Mounted(REPO, config, workdir, "rsync") as mount:
        clear_requests(url)
        started = time.monotonic()
        subprocess.run(["rsync", "-a", os.path.join(mount.path, "zyte", PROJECT) + "/spiders/",
                        target + "/"], check=True, capture_output=True, timeout=TIME_LIMIT)
        return {"wall": time.monotonic() - started, "requests": len(requests_served(url))}


def spread(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="another hubfs checkout to compare (cold walks)")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--json", default=os.path.join(REPO, "bench", "results",
                                                       "scrapinghub_walks.json"))
    args = parser.parse_args()
    tools = args.tools.split(",")
    workdir = tempfile.mkdtemp(prefix="hubfs-walks-")
    emulator, url = start_emulator("demo")
    results = {"rounds": args.rounds, "tools": {}, "export": {}}
    try:
        config = write_config(workdir, url)
        # One untimed walk first fills the emulator's caches (its encoded records), as the
        # items benchmark's untimed pass does: every timed walk then meets the same server.
        walk(REPO, config, workdir, url, tools[0], "warmup")
        for tool in tools:
            runs = {"hubfs": [], "baseline": []}
            for number in range(args.rounds):
                order = [("hubfs", REPO)] + ([("baseline", args.baseline)] if args.baseline else [])
                for label, repo in (order if number % 2 == 0 else order[::-1]):
                    runs[label].append(walk(repo, config, workdir, url, tool, label))
            summary = {}
            for label, rounds in runs.items():
                if not rounds:
                    continue
                summary[label] = {
                    phase: {"wall": spread([r[phase]["wall"] for r in rounds]),
                            "requests": spread([r[phase]["requests"] for r in rounds]),
                            "job_requests": spread([r[phase]["job_requests"] for r in rounds])}
                    for phase in ("cold", "warm")}
            if "baseline" in summary:
                summary["cold_speedup"] = (summary["baseline"]["cold"]["wall"]["median"]
                                           / summary["hubfs"]["cold"]["wall"]["median"])
            results["tools"][tool] = {"summary": summary, "raw": runs}
            print(tool, json.dumps(summary), flush=True)
        export = {"official": [], "rsync": []}
        for number in range(args.rounds):
            for label in (["official", "rsync"] if number % 2 == 0 else ["rsync", "official"]):
                target = os.path.join(workdir, "export-" + label)
                shutil.rmtree(target, ignore_errors=True)
                os.makedirs(target)
                if label == "official":
                    export[label].append(official_export(url, target))
                else:
                    export[label].append(rsync_copy(config, workdir, url, target))
        results["export"] = {label: {"wall": spread([r["wall"] for r in runs]),
                                     "requests": spread([r["requests"] for r in runs])}
                             for label, runs in export.items()}
        print("export", json.dumps(results["export"]), flush=True)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as fh:
        json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
