"""Local emulator of the flowthings.io platform API: flows and drops under `/v0.1/` and `/v4.0/`.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (see `seed`), whose `.state` is the `FlowthingsState` tests can read and
change directly; `main()` (what `hubfs emulate flowthings` runs) serves it in the
foreground and prints the TOML remote that mounts it. No official Python client of the
service works on current Python (protocols/flowthings.md section 12), so the emulator is
checked against the documented requests and responses instead; it never imports hubfs's
own flowthings client. The token below is a published demo value guarding nothing but
this local server.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Optional

from hubfs.emulation import EmulatorServer, serve_forever

from .handlers import FlowthingsAPI, not_found
from .routes import RequestHandler, build_router, make_auth
from .seed import BENCH_DROPS, BENCH_FLOW, SEEDS, SINK_FLOW
from .state import FlowthingsState

DEMO_ACCOUNT = "demo"
DEMO_TOKEN = "demo-token-7f3c9a1e5b2d4086"

__all__ = ["DEMO_ACCOUNT", "DEMO_TOKEN", "BENCH_DROPS", "BENCH_FLOW", "SINK_FLOW",
           "create_server", "remote_options", "remote_toml", "main", "FlowthingsState"]


def create_server(data: str = "demo", port: int = 0, *, token: str = DEMO_TOKEN,
                  host: str = "127.0.0.1", clock: Optional[Callable[[], int]] = None) -> EmulatorServer:
    """A flowthings emulator on *host*:*port* (0: any free port), not yet serving.

    *data* picks the seed set; *token* is the one token of account `demo`; *clock*
    (epoch ms) stamps what is created after seeding. Raises ValueError for an unknown
    data set or a non-loopback host.
    """
    try:
        seed = SEEDS[data]
    except KeyError:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(SEEDS)}") from None
    state = FlowthingsState(clock=clock)
    account = state.add_account(DEMO_ACCOUNT, token)
    seed(state, account)
    server = EmulatorServer(build_router(FlowthingsAPI(state)), host=host, port=port,
                            auth=make_auth(state), name="flowthings", not_found=not_found)
    server.RequestHandlerClass = RequestHandler  # MGET/MPUT as well
    server.state = state
    server.token = token
    return server


def remote_options(server, version: str = "4.0") -> dict:
    """The options of a `[remotes.NAME]` table that mounts *server*."""
    return {"type": "flowthings", "url": server.url.rstrip("/"), "account": DEMO_ACCOUNT,
            "token": server.token, "version": version}


def remote_toml(name: str, url: str, token: str = DEMO_TOKEN, version: str = "4.0") -> str:
    return (f"[remotes.{name}]\n"
            f'type = "flowthings"\n'
            f'url = "{url.rstrip("/")}"\n'
            f'account = "{DEMO_ACCOUNT}"\n'
            f'token = "{token}"\n'
            f'version = "{version}"\n')


def main(argv: Optional[list[str]] = None) -> int:
    """Serve in the foreground: `[--port N] [--data demo|bench] [--name NAME]`. The TOML
    goes to stdout, everything else to stderr."""
    parser = argparse.ArgumentParser(prog="hubfs emulate flowthings",
                                     description="Local flowthings.io platform API emulator.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free)")
    parser.add_argument("--data", choices=sorted(SEEDS), default="demo", help="seed data set")
    parser.add_argument("--name", default="flowthings-demo", help="remote name in the printed TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server(args.data, args.port)
    err = sys.stderr
    err.write(f"flowthings emulator ({args.data} data) listening on {server.url} "
              f"(API versions 0.1 and 4.0, account {DEMO_ACCOUNT!r})\n"
              "Add this remote to your hubfs config (the token is the public demo token):\n")
    err.flush()
    sys.stdout.write(remote_toml(args.name, server.url, server.token) + "\n")
    sys.stdout.flush()
    err.write("Press Ctrl-C to stop.\n")
    serve_forever(server)
    return 0
