"""What the S3 and DS3 benchmarks share: the emulator in its own process, the FUSE tools
under test (hubfs, `rclone mount`, `s3fs`), and how one measured step is recorded.

The emulator runs pinned to CPU 0, every mount daemon and the commands it serves to CPU 1.
Each tool is mounted fresh for each measured step (cold caches), its daemon's CPU time
and peak RSS are read from /proc, and the server's request log (`/__emulator__/requests`)
gives the requests the step made. Keys reach rclone through environment variables and
s3fs through a 0600 password file, never argv.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from backends.ds3.emulator import DEMO_ACCESS_KEY, DEMO_REGION, DEMO_SECRET_KEY  # noqa: E402
from bench.common import free_port, pinned  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def start_emulator(mode, data="bench", blob_size=None):
    """`hubfs emulate ds3|s3 --data bench` on CPU 0, objects in a temporary directory."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    root = tempfile.mkdtemp(prefix=f"bench-{mode}-objects-")
    command = [sys.executable, "-m", "backends.ds3.emulator", "--mode", mode, "--data", data,
               "--port", str(port), "--root", root]
    if blob_size:
        command += ["--blob-size", str(blob_size)]
    process = subprocess.Popen(pinned(0, command), cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "__emulator__/health", timeout=1)
            return process, url, root
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("the emulator exited at start")
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the emulator did not start on {url}")


def requests_made(url, clear=True):
    with urllib.request.urlopen(url + "__emulator__/requests", timeout=30) as response:
        entries = json.loads(response.read())
    if clear:
        urllib.request.urlopen(urllib.request.Request(url + "__emulator__/requests", method="DELETE"),
                               timeout=30).read()
    return entries


def classify(entries):
    """Requests by kind: GET/HEAD/LIST/PUT/MPU/JOB."""
    kinds = {}
    for entry in entries:
        query = entry["query"]
        if entry["path"].startswith("/_rest_/"):
            kind = "JOB"
        elif "uploadId" in query or "uploads" in query or "partNumber" in query:
            kind = "MPU"
        elif entry["method"] == "GET" and entry["path"].count("/") == 1:
            kind = "LIST"
        else:
            kind = entry["method"]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def proc_usage(pid):
    """(CPU seconds, peak RSS MiB) of *pid* so far (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as fh:
            hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, hwm / 1024


def wait_mounted(path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.ismount(path):
            return True
        time.sleep(0.05)
    return False


class Tool:
    """One FUSE client under test, mounted at `self.mountpoint`; `path(bucket, ...)`."""

    name = ""

    def __init__(self, workdir, url, mode="s3"):
        self.workdir = os.path.join(workdir, self.name)
        os.makedirs(self.workdir, exist_ok=True)
        self.mountpoint = os.path.join(self.workdir, "mnt")
        os.makedirs(self.mountpoint, exist_ok=True)
        self.url = url
        self.mode = mode
        self.pid = None
        self.process = None

    def path(self, bucket, *parts):
        raise NotImplementedError

    def usage(self):
        return proc_usage(self.pid) if self.pid else None

    def unmount(self):
        subprocess.run(["fusermount3", "-u", self.mountpoint], capture_output=True)
        if os.path.ismount(self.mountpoint):
            subprocess.run(["fusermount3", "-uz", self.mountpoint], capture_output=True)
        if self.process is not None:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
        self.pid = None


class Hubfs(Tool):
    name = "hubfs"

    def __init__(self, workdir, url, mode="s3", bucket="bench"):
        super().__init__(workdir, url, mode)
        self.config = os.path.join(self.workdir, "hubfs.toml")
        lines = ["[remotes.store]", f'type = "{mode}"', f'endpoint = "{url.rstrip("/")}"',
                 f'access_key = "{DEMO_ACCESS_KEY}"', f'secret_key = "{DEMO_SECRET_KEY}"']
        if mode == "s3":
            lines.append(f'region = "{DEMO_REGION}"')
        with open(os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def mount(self):
        cache = os.path.join(self.workdir, "cache")
        shutil.rmtree(cache, ignore_errors=True)
        subprocess.run(pinned(1, [sys.executable, "-m", "hubfs", "mount", "--config", self.config,
                                  "--cache-dir", cache, "--remote", "store",
                                  "--log-file", os.path.join(self.workdir, "hubfs.log"), self.mountpoint]),
                       cwd=REPO, check=True, capture_output=True, timeout=120)
        from hubfs.daemon import read_state

        self.pid = read_state(self.mountpoint)["pid"]

    def path(self, bucket, *parts):
        return os.path.join(self.mountpoint, bucket, *parts)

    def unmount(self):
        subprocess.run([sys.executable, "-m", "hubfs", "umount", self.mountpoint], cwd=REPO,
                       capture_output=True, timeout=600)
        super().unmount()


class Rclone(Tool):
    def __init__(self, workdir, url, cache_mode):
        self.name = f"rclone-{cache_mode}"
        self.cache_mode = cache_mode
        super().__init__(workdir, url)

    def mount(self):
        env = dict(os.environ, RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Other",
                   RCLONE_CONFIG_BENCH_ENDPOINT=self.url.rstrip("/"),
                   RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=DEMO_ACCESS_KEY,
                   RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=DEMO_SECRET_KEY,
                   RCLONE_CONFIG_BENCH_REGION=DEMO_REGION, RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true")
        # A CA bundle set for other tools makes rclone's AWS SDK refuse its own transport;
        # the endpoint is plain http anyway.
        env.pop("AWS_CA_BUNDLE", None)
        cache = os.path.join(self.workdir, "cache")
        shutil.rmtree(cache, ignore_errors=True)
        self.process = subprocess.Popen(
            pinned(1, ["rclone", "mount", "bench:", self.mountpoint, "--vfs-cache-mode", self.cache_mode,
                       "--cache-dir", cache, "--log-file", os.path.join(self.workdir, "rclone.log")]),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_mounted(self.mountpoint):
            raise RuntimeError("rclone mount did not come up")
        self.pid = self.process.pid

    def path(self, bucket, *parts):
        return os.path.join(self.mountpoint, bucket, *parts)


class S3fs(Tool):
    name = "s3fs"

    def __init__(self, workdir, url, bucket="bench"):
        super().__init__(workdir, url)
        self.bucket = bucket
        self.passwd = os.path.join(self.workdir, "passwd")
        with open(os.open(self.passwd, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write(f"{DEMO_ACCESS_KEY}:{DEMO_SECRET_KEY}\n")

    def mount(self, bucket=None):
        self.bucket = bucket or self.bucket
        self.process = subprocess.Popen(
            pinned(1, ["s3fs", self.bucket, self.mountpoint, "-f", "-o", f"url={self.url.rstrip('/')}",
                       "-o", "use_path_request_style", "-o", f"passwd_file={self.passwd}",
                       "-o", f"endpoint={DEMO_REGION}"]),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.workdir, "s3fs.log"), "w"))
        if not wait_mounted(self.mountpoint):
            raise RuntimeError("s3fs did not come up")
        self.pid = self.process.pid

    def path(self, bucket, *parts):
        if bucket != self.bucket:
            raise ValueError("s3fs mounts one bucket")
        return os.path.join(self.mountpoint, *parts)


def run(command, timeout=900, **kwargs):
    """Run *command* on CPU 1; returns wall seconds; raises on failure."""
    started = time.monotonic()
    subprocess.run(pinned(1, command), check=True, timeout=timeout, **kwargs)
    return time.monotonic() - started


def sha256_file(path):
    out = subprocess.run(pinned(1, ["sha256sum", path]), check=True, capture_output=True, text=True,
                         timeout=900).stdout
    return out.split()[0]


def manifest(root):
    """{relative path: sha256} of a tree."""
    out = subprocess.run(pinned(1, ["sh", "-c", "find . -type f -print0 | sort -z | xargs -0 sha256sum"]),
                         cwd=root, check=True, capture_output=True, text=True, timeout=900).stdout
    return dict(reversed(line.split(None, 1)) for line in out.splitlines())


def stats(values):
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def new_row():
    return {"wall": [], "requests": [], "cpu": [], "rss": [], "ok": True, "kinds": {}}


def usage_between(base, used):
    """(daemon CPU seconds, peak RSS MiB) between two `proc_usage` reads, or (None, None)."""
    if used and base:
        return used[0] - base[0], used[1]
    return None, None


def record(row, wall, kinds, ok, cpu, rss):
    """Add one measured step to a result row."""
    row["wall"].append(wall)
    row["requests"].append(sum(kinds.values()))
    row["kinds"] = kinds
    row["ok"] = row["ok"] and ok
    if cpu is not None:
        row["cpu"].append(cpu)
        row["rss"].append(rss)


def copy_out(source, out, expected):
    """`cp -r` *source* to *out*, timed; (wall seconds, whether the copy's sha256 manifest
    is *expected*). The copy is removed afterwards."""
    started = time.monotonic()
    run(["cp", "-r", source, out])
    wall = time.monotonic() - started
    ok = manifest(out) == expected
    shutil.rmtree(out, ignore_errors=True)
    return wall, ok
