"""What the aliyun-log benchmarks share: the SLS emulator in its own process, a hubfs
config and mount on it, the official SDK pointed at it, and peak-RSS readings.

Nothing is pinned to a CPU: hubfs renders pulled logs in several threads, which a
one-CPU affinity would serialize, and the emulator's work per pull (joining cached
LogGroups and an lz4 compression) is small next to either client's decoding.
"""

import hashlib
import json
import os
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import common  # noqa: E402

from backends.aliyun_log.emulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET  # noqa: E402


def summary(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def report(result, json_path):
    """Print the figures without the per-round detail; write them all to *json_path*."""
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(result, fh, indent=2)


def start_emulator(data="bench"):
    """`hubfs emulate aliyun-log` in its own process (unpinned); `(process, url)`."""
    return common.start_emulator(data, "aliyun-log", pin=False)


def write_config(workdir, url, **extra):
    config = os.path.join(workdir, "hubfs.toml")
    options = {"type": "aliyun-log", "endpoint": url.rstrip("/"),
               "access_key_id": DEMO_ACCESS_KEY_ID, "access_key_secret": DEMO_ACCESS_KEY_SECRET,
               **extra}
    with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        fh.write("[remotes.sls]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items()))
    return config


def sdk_client(url):
    """The official SDK on the emulator: a raw-IP endpoint with a port needs the flag the
    SDK sets itself for raw IPs without one (it then names the project only in Host)."""
    from aliyun.log import LogClient

    client = LogClient(url.rstrip("/").split("//", 1)[1], DEMO_ACCESS_KEY_ID,
                       DEMO_ACCESS_KEY_SECRET, source="10.0.0.9")
    client._isRowIp = True
    return client


def hubfs(*args):
    subprocess.run([sys.executable, "-m", "hubfs", *args], cwd=REPO, check=True,
                   capture_output=True, text=True)


def descendants(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                for child in fh.read().split():
                    out.append(int(child))
                    out.extend(descendants(int(child)))
    except OSError:
        pass
    return out


def peak_rss_mib(pid):
    """VmHWM of *pid* (MiB), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
