"""What the benchmarks share: CPU pinning, a Scrapinghub emulator in its own process, and
a hubfs config pointing at it.

The emulator runs pinned to CPU 0 and the tools under test to CPU 1 (on this 2-core
machine a Python server and a Python client would otherwise measure the scheduler).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from backends.scrapinghub.emulator import DEMO_APIKEY  # noqa: E402


def pinned(cpu, command):
    """*command* run on CPU *cpu* (when taskset and a second CPU exist)."""
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() > 1 else []) + command


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(data="demo", type_name="scrapinghub", pin=True):
    """Start `hubfs emulate TYPE` (on CPU 0 with *pin*); returns `(process, url)` once
    healthy."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "hubfs", "emulate", type_name, "--data", data,
               "--port", str(port)]
    process = subprocess.Popen(pinned(0, command) if pin else command,
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "__emulator__/health", timeout=1)
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the emulator did not start on {url}")


def write_config(workdir, url):
    """A 0600 hubfs config with the remote `zyte` on the emulator at *url*."""
    config = os.path.join(workdir, "hubfs.toml")
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
        fh.write(f'[remotes.zyte]\ntype = "scrapinghub"\napikey = "{DEMO_APIKEY}"\n'
                 f'app_url = "{url}api/"\nstorage_url = "{url}"\n')
    return config
