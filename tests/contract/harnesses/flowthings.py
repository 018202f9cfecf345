"""The flowthings backend's harness for the contract suite (demo seed data).

Known file: `weather/berlin/drops.jl` (24 drops); its expected bytes are built from the
emulator's API with plain `requests` paging, never from hubfs. The backend's writes are
appends to drops.jl, not the replace-a-file writes the writing contract exercises (and a
flow directory takes no new file names), so the harness declares no `Writable`; drop
appends are tested in tests/mount/test_flowthings_mount.py and
tests/faults/test_flowthings_faults.py.
"""

import contextlib

from tests.contract.harness import Harness

KNOWN_FLOW = "/demo/weather/berlin"


@contextlib.contextmanager
def start():
    from backends.flowthings.emulator import create_server
    from hubfs.emulation import start_in_thread

    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


def remote(handle, token=None):
    from backends.flowthings.emulator import SPEC

    options = SPEC.remote_options(handle.server)
    if token is not None:
        options["token"] = token
    return options


def known_bytes(handle):
    from tests.flowthings_export import expected_drops

    return expected_drops(handle, KNOWN_FLOW)


HARNESS = Harness(
    type="flowthings",
    start=start,
    remote=remote,
    bad_remote=lambda handle: remote(handle, token="not-the-demo-token"),
    known_file="weather/berlin/drops.jl",
    known_bytes=known_bytes,
    tree="weather",
    fault_path=r"^/v4\.0/demo/drop/f[0-9a-f]{24}/?$",
    missing=["nothing", "weather/nothing", "sensors/flow.json", "sensors/drops.jl",
             "weather/berlin/nothing.jl"],
    read_only_file="weather/flow.json",
)
