"""Local emulator of the Dataflow Kit task API: tasks, processes, getlink and results storage.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (see `seed`), whose `.state` is the `DataflowKitState` tests can read and
drive: its clock (seconds) is injectable, so a test moves a running process to finished
by moving the clock, without sleeping. `SPEC` tells `hubfs emulate dataflowkit`, `hubfs
demo` and the contract tests how to run it and mount it. The service has no
official client for its task API (protocols/dataflowkit.md section 0), so the emulator is
checked against the documented requests and responses; it never imports hubfs's own
Dataflow Kit client. The key below is a published demo value guarding nothing but this
local server.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Optional

from hubfs.emulation import EmulatorServer, EmulatorSpec

from .handlers import DataflowKitAPI, not_found
from .routes import build_router, make_auth
from .seed import RUNNING_SECONDS, SEEDS
from .state import DataflowKitState

DEMO_API_KEY = "dfk-demo-0c1d2e3f4a5b6c7d8e9f"

__all__ = ["SPEC", "DEMO_API_KEY", "RUNNING_SECONDS", "create_server", "remote_options",
           "DataflowKitState"]


def create_server(data: str = "demo", port: int = 0, *, api_key: str = DEMO_API_KEY,
                  host: str = "127.0.0.1", clock: Optional[Callable[[], float]] = None) -> EmulatorServer:
    """A Dataflow Kit emulator on *host*:*port* (0: any free port), not yet serving.

    *data* picks the seed set, *api_key* is the one key accepted, *clock* (seconds since
    the epoch) drives the processes. Raises ValueError for an unknown data set or a
    non-loopback host.
    """
    try:
        seed = SEEDS[data]
    except KeyError:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(SEEDS)}") from None
    state = DataflowKitState(clock=clock)
    seed(state)
    api = DataflowKitAPI(state, secret=hashlib.sha256(b"dfk-emulator:" + api_key.encode()).digest())
    server = EmulatorServer(build_router(api), host=host, port=port, auth=make_auth(api_key),
                            name="dataflowkit", not_found=not_found)
    api.base_url = server.url
    server.state = state
    server.api_key = api_key
    return server


def remote_options(server) -> dict:
    """The options of a `[remotes.NAME]` table that mounts *server*."""
    return {"type": "dataflowkit", "api_key": server.api_key, "url": server.url + "v1"}


SPEC = EmulatorSpec(
    type="dataflowkit",
    create_server=lambda data="demo", port=0: create_server(data, port),
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("tasks",),
    summary="Dataflow Kit task API: tasks, processes, getlink and signed results storage",
)
