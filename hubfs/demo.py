"""`hubfs demo`: start the emulators, mount them, and show the tree a user can explore.

The emulators run as background processes (so the mount stays useful after the command
returns) with the `demo` seed data on free loopback ports; their config goes to a 0600
file under the runtime directory. `hubfs demo --stop` unmounts and stops them.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import backends
from hubfs import errors
from hubfs.runtime import read_private, runtime_dir, write_private
from hubfs.emulation import load_spec

DEFAULT_MOUNTPOINT = "/tmp/hubfs-demo"
SHOW_PER_DIR = 3  # entries shown per directory before "... N more"


def state_file():
    return os.path.join(runtime_dir(), "demo.json")


def emulated_types():
    """Backend types that ship an emulator (an `EmulatorSpec`), in registry order."""
    return [type_name for type_name in backends.BACKENDS if load_spec(type_name) is not None]


def remote_name(type_name):
    """The demo's name for the remote of *type_name* (a TOML bare key)."""
    return type_name.replace("-", "_")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "__emulator__/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise errors.HubfsError(f"emulator at {url} did not start within {timeout:.0f}s")


def start(mountpoint=None):
    mountpoint = os.path.abspath(mountpoint or DEFAULT_MOUNTPOINT)
    if os.path.exists(state_file()):
        stop(quiet=True)
    os.makedirs(mountpoint, exist_ok=True)
    workdir = os.path.join(runtime_dir(), "demo")
    os.makedirs(workdir, mode=0o700, exist_ok=True)
    state = {"mountpoint": mountpoint, "emulators": []}
    tables = []
    try:
        for type_name in emulated_types():
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            log = open(os.path.join(workdir, f"{type_name}-emulator.log"), "w")
            table_file = os.path.join(workdir, f"{type_name}.toml")
            process = subprocess.Popen(
                [sys.executable, "-m", "hubfs", "emulate", type_name, "--port", str(port),
                 "--data", "demo", "--name", remote_name(type_name), "--toml-file", table_file],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            state["emulators"].append({"type": type_name, "pid": process.pid, "url": url})
            wait_healthy(url)
            with open(table_file) as fh:
                tables.append(fh.read())
        config_path = os.path.join(workdir, "hubfs.toml")
        write_private(config_path, f'[hubfs]\ncache_dir = {json.dumps(os.path.join(workdir, "cache"))}\n\n'
                      + "\n".join(tables))
        state["config"] = config_path
        write_private(state_file(), json.dumps(state))
        subprocess.run([sys.executable, "-m", "hubfs", "mount", "--config", config_path, mountpoint],
                       check=True)
    except BaseException:
        stop(quiet=True)
        raise
    print(f"\nThe demo tree at {mountpoint} (first {SHOW_PER_DIR} entries per directory):\n")
    for emulator in state["emulators"]:
        remote = remote_name(emulator["type"])
        print(f"{remote}/    ({emulator['type']} emulator at {emulator['url']})")
        for path in load_spec(emulator["type"]).demo_paths or ("",):
            top = os.path.join(mountpoint, remote, path)
            if path:
                print(f"    {path}/")
            show_tree(top, prefix="        " if path else "    ", depth=path.count("/") + 1)
    print(f"\nExplore it with ls, cat, grep, cp, rsync, tar. Config: {config_path}")
    print(f"Try:  cat {first_file(mountpoint, 'items.jl')} | head -3")
    print("Unmount and stop the emulators with:  make demo-stop   (or: hubfs demo --stop)")
    return 0


def show_tree(root, prefix="", depth=0, shown_files=None):
    """Print directories breadth-limited, and the files of the first job with their sizes
    (a `stat` renders a finished job's file into the cache: exact sizes)."""
    shown_files = [] if shown_files is None else shown_files
    entries = list(os.scandir(root))  # the service's order: projects up, newest job first
    directories = [e for e in entries if e.is_dir()]
    files = [e for e in entries if not e.is_dir()]
    for entry in directories[:SHOW_PER_DIR]:
        print(f"{prefix}{entry.name}/")
        if depth < 6:
            show_tree(entry.path, prefix + "    ", depth + 1, shown_files)
    sizes = [os.stat(e.path).st_size for e in files] if files and not shown_files else []
    if sum(sizes) > sum(size for e, size in zip(files, sizes) if e.name == "meta.json"):
        # The first job with data: show its files with their (exact, rendered) sizes.
        for entry, size in zip(files, sizes):
            print(f"{prefix}{entry.name}  ({size} bytes)")
        shown_files.append(root)
    elif files:
        names = "  ".join(e.name for e in files[:6])
        more = f"  ... and {len(files) - 6} more" if len(files) > 6 else ""
        print(f"{prefix}{names}{more}")
    if len(directories) > SHOW_PER_DIR:
        print(f"{prefix}... and {len(directories) - SHOW_PER_DIR} more")


def first_file(root, name):
    """A non-empty file called *name* under *root* (for the "try this" hint)."""
    for directory, _dirs, files in os.walk(root):
        if name in files and os.stat(os.path.join(directory, name)).st_size:
            return os.path.join(directory, name)
    return os.path.join(root, "...", name)


def _is_our_emulator(pid):
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
        return os.stat(f"/proc/{int(pid)}").st_uid == os.getuid() and b"emulate" in argv
    except (OSError, TypeError, ValueError):
        return False


def stop(quiet=False):
    try:
        state = json.loads(read_private(state_file()) or "")
    except ValueError:
        if not quiet:
            print("hubfs: no demo is running")
        return 0
    from hubfs.fuse.mount import is_mounted

    if is_mounted(state["mountpoint"]):
        subprocess.run([sys.executable, "-m", "hubfs", "umount", state["mountpoint"]], check=False)
    for emulator in state.get("emulators", []):
        if not _is_our_emulator(emulator.get("pid")):
            continue  # gone, or the pid now belongs to some other process: leave it alone
        try:
            os.kill(emulator["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    os.unlink(state_file())
    if not quiet:
        print("hubfs: demo stopped")
    return 0
