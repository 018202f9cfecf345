"""Local emulator of Scrapinghub / Scrapy Cloud: the Dash app API and the storage API on one port.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (see `seed`), whose `.state` is the `ScrapinghubState` tests can read and
change directly; run it with `hubfs.emulation.start_in_thread()` or, from the command line,
`main()` (what `hubfs emulate scrapinghub` calls), which prints the URL and the TOML remote
that mounts it. The official `scrapinghub` client works against it unchanged with
`ScrapinghubClient(DEMO_APIKEY, dash_endpoint=url + "api/", endpoint=url)`. The emulator
never imports hubfs's own Scrapinghub client, so the two cannot share a parsing mistake.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Optional

from hubfs.emulation import DEFAULT_CACHE_BYTES, EmulatorServer, EmulatorSpec, serve_forever

from .collection_handlers import CollectionsAPI
from .dash import DashAPI
from .frontier_handlers import FrontierAPI
from .handlers import StorageAPI
from .routes import build_router, make_auth, not_found
from .seed import BENCH_ITEMS, BENCH_JOB_KEY, SEEDS
from .state import ScrapinghubState

# A published, deliberately public demo key: it guards nothing but this local emulator.
DEMO_APIKEY = "5ca1ab1edeadbeef0badf00dcafe0042"

__all__ = ["SPEC", "remote_options", "DEMO_APIKEY", "BENCH_ITEMS", "BENCH_JOB_KEY", "create_server", "remote_toml", "main",
           "ScrapinghubState"]


def create_server(data: str = "demo", port: int = 0, apikey: str = DEMO_APIKEY, *,
                  host: str = "127.0.0.1", clock: Optional[Callable[[], int]] = None,
                  cache_bytes: int = DEFAULT_CACHE_BYTES) -> EmulatorServer:
    """A Scrapinghub emulator bound to *host*:*port* (0 = any free port), not yet serving.

    *data* picks the seed set ("demo" or "bench"); *apikey* is the only key accepted;
    *clock* (ms) replaces the wall clock for changes made after seeding. Raises ValueError
    for an unknown data set or a non-loopback host.
    """
    try:
        seed = SEEDS[data]
    except KeyError:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(SEEDS)}") from None
    state = ScrapinghubState(seed=seed, clock=clock)
    storage = StorageAPI(state, server=None)
    router = build_router(storage, DashAPI(state), CollectionsAPI(state), FrontierAPI(state))
    server = EmulatorServer(router, host=host, port=port, auth=make_auth(apikey, state),
                            name="scrapinghub", not_found=not_found, cache_bytes=cache_bytes)
    storage.server = server  # handlers reach the shared body cache through it
    server.state = state
    server.apikey = apikey
    return server


def remote_toml(name: str, url: str, apikey: str = DEMO_APIKEY) -> str:
    """The hubfs config section that mounts the emulator at *url* as remote *name*."""
    base = url if url.endswith("/") else url + "/"
    return (f"[remotes.{name}]\n"
            f'type = "scrapinghub"\n'
            f'apikey = "{apikey}"\n'
            f'app_url = "{base}api/"\n'
            f'storage_url = "{base}"\n')


def remote_options(server: EmulatorServer) -> dict:
    """The options of a remote table that mounts *server* (see `EmulatorSpec`)."""
    return {"type": "scrapinghub", "apikey": server.apikey,
            "app_url": server.url + "api/", "storage_url": server.url}


SPEC = EmulatorSpec(
    type="scrapinghub",
    create_server=lambda data="demo", port=0: create_server(data, port),
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("101/spiders", "101/collections"),
    summary="Scrapinghub / Scrapy Cloud: Dash app API and storage API on one port",
)


def main(argv: Optional[list[str]] = None) -> int:
    """Run the emulator in the foreground: `[--port N] [--data demo|bench] [--name NAME]`."""
    parser = argparse.ArgumentParser(prog="hubfs emulate scrapinghub",
                                     description="Local Scrapinghub (Scrapy Cloud) emulator.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free)")
    parser.add_argument("--data", choices=sorted(SEEDS), default="demo", help="seed data set")
    parser.add_argument("--name", default="scrapinghub-demo", help="remote name in the printed TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server(args.data, args.port)
    out = sys.stdout
    out.write(f"Scrapinghub emulator ({args.data} data) listening on {server.url}\n")
    out.write(f"  Dash API:    {server.url}api/\n  storage API: {server.url}\n")
    out.write("Add this remote to your hubfs config (the key is the public demo key):\n\n")
    out.write(remote_toml(args.name, server.url, server.apikey) + "\n")
    out.write("Press Ctrl-C to stop.\n")
    out.flush()
    serve_forever(server)
    return 0
