"""Local emulator of the flowthings.io platform API: flows and drops under `/v0.1/` and `/v4.0/`.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (see `seed`), whose `.state` is the `FlowthingsState` tests can read and
change directly; `SPEC` tells `hubfs emulate flowthings`, `hubfs demo` and the contract
tests how to run it and mount it. No official Python client of the
service works on current Python (protocols/flowthings.md section 12), so the emulator is
checked against the documented requests and responses instead; it never imports hubfs's
own flowthings client. The token below is a published demo value guarding nothing but
this local server.
"""

from __future__ import annotations

from typing import Callable, Optional

from hubfs.emulation import EmulatorServer, EmulatorSpec

from .handlers import FlowthingsAPI, not_found
from .routes import build_router, make_auth
from .seed import BENCH_DROPS, BENCH_FLOW, SEEDS, SINK_FLOW
from .state import FlowthingsState

DEMO_ACCOUNT = "demo"
DEMO_TOKEN = "demo-token-7f3c9a1e5b2d4086"

__all__ = ["SPEC", "DEMO_ACCOUNT", "DEMO_TOKEN", "BENCH_DROPS", "BENCH_FLOW", "SINK_FLOW",
           "create_server", "remote_options", "FlowthingsState"]


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
    server.state = state
    server.token = token
    return server


def remote_options(server, version: str = "4.0") -> dict:
    """The options of a `[remotes.NAME]` table that mounts *server*."""
    return {"type": "flowthings", "url": server.url.rstrip("/"), "account": DEMO_ACCOUNT,
            "token": server.token, "version": version}


SPEC = EmulatorSpec(
    type="flowthings",
    create_server=lambda data="demo", port=0: create_server(data, port),
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("weather",),
    summary="flowthings.io platform API (v0.1 and v4.0): flows and drops of account 'demo'",
)
