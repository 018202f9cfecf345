"""Local emulator of the Dataflow Kit task API: tasks, processes, getlink and results storage.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (see `seed`), whose `.state` is the `DataflowKitState` tests can read and
drive: its clock (seconds) is injectable, so a test moves a running process to finished
by moving the clock, without sleeping. `main()` (what `hubfs emulate dataflowkit` runs)
serves it in the foreground and prints the TOML remote that mounts it. The service has no
official client for its task API (protocols/dataflowkit.md section 0), so the emulator is
checked against the documented requests and responses; it never imports hubfs's own
Dataflow Kit client. The key below is a published demo value guarding nothing but this
local server.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from typing import Callable, Optional

from hubfs.emulation import EmulatorServer, serve_forever

from .handlers import DataflowKitAPI, not_found
from .routes import build_router, make_auth
from .seed import RUNNING_SECONDS, SEEDS
from .state import DataflowKitState

DEMO_API_KEY = "dfk-demo-0c1d2e3f4a5b6c7d8e9f"

__all__ = ["DEMO_API_KEY", "RUNNING_SECONDS", "create_server", "remote_options", "remote_toml",
           "main", "DataflowKitState"]


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


def remote_toml(name: str, url: str, api_key: str = DEMO_API_KEY) -> str:
    return (f"[remotes.{name}]\n"
            f'type = "dataflowkit"\n'
            f'api_key = "{api_key}"\n'
            f'url = "{url.rstrip("/")}/v1"\n')


def main(argv: Optional[list[str]] = None) -> int:
    """Serve in the foreground: `[--port N] [--data demo|bench] [--name NAME]`. The TOML
    goes to stdout, everything else to stderr."""
    parser = argparse.ArgumentParser(prog="hubfs emulate dataflowkit",
                                     description="Local Dataflow Kit task API emulator.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free)")
    parser.add_argument("--data", choices=sorted(SEEDS), default="demo", help="seed data set")
    parser.add_argument("--name", default="dataflowkit-demo", help="remote name in the printed TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server(args.data, args.port)
    err = sys.stderr
    err.write(f"Dataflow Kit emulator ({args.data} data) listening on {server.url} "
              f"(API under {server.url}v1/)\n"
              "Add this remote to your hubfs config (the key is the public demo key):\n")
    err.flush()
    sys.stdout.write(remote_toml(args.name, server.url, server.api_key) + "\n")
    sys.stdout.flush()
    err.write("Press Ctrl-C to stop.\n")
    serve_forever(server)
    return 0
