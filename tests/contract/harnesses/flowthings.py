"""The flowthings backend's harness for the contract suite (demo seed data).

Known file: `weather/berlin/drops.jl` (24 drops); its expected bytes are built from the
emulator's API with plain `requests` paging, never from hubfs. The backend's only writes
are appends to drops.jl (a flow directory takes no new file names, and nothing is
replaced), so the harness has an `appendable` place, `sensors/garage/drops.jl`, and no
replace-a-file `writable` one.
"""

import contextlib
import json

import requests

from tests.contract.harness import Harness, Writable

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


APPEND_FLOW = "/demo/sensors/garage"


def read_elems(handle, name):
    """The `elems` of every drop of the append flow, oldest first, one compact JSON line
    each, read with plain `requests` (an appended line `{...}` becomes a drop whose
    elems are that object)."""
    from backends.flowthings.emulator import DEMO_TOKEN

    assert name == "drops.jl"
    flow = handle.server.state.paths[APPEND_FLOW]
    lines, skip = [], 0
    while True:
        page = requests.get(f"{handle.url}v4.0/demo/drop/{flow}", headers={"X-Auth-Token": DEMO_TOKEN},
                            params={"sort": "creationDate", "order": "asc", "limit": 100, "skip": skip},
                            timeout=10).json()["body"]
        if not page:
            return b"".join(lines)
        lines += [compact(d["elems"]) for d in page]
        skip += len(page)


def compact(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


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
    appendable=Writable(
        directory="sensors/garage",
        existing="drops.jl",
        good=lambda n: compact({"contract": n, "text": f"Zoë {n}"}),
        bad=[b"not json\n", b"[1]\n", b"\xff\n", b'"text"\n', b'{"elems": {}, "extra": 1}\n',
             b"[" * 100_000 + b"\n"],
        read_back=read_elems,
        send_path=r"^/v4\.0/demo/drop/f[0-9a-f]{24}/?$",
        normalise=lambda line: compact(json.loads(line)),
    ),
)
