"""Local emulator of Alibaba Cloud Log Service (SLS, API 0.6) for tests, demos and scripts.

`create_server()` returns a `hubfs.emulation.EmulatorServer` seeded with the `demo` or
`bench` data set (`seed`), whose `.state` is the `LogState` tests can read; run it with
`hubfs.emulation.start_in_thread()`, or through `SPEC` (`hubfs emulate aliyun-log`,
`hubfs demo`).
It speaks the real wire protocol: projects chosen by the Host header, V1 signatures
checked, protobuf + lz4 bodies, cursors and PullLogs' end-of-data rules. The official
`aliyun-log-python-sdk` works against it unchanged with
`LogClient("127.0.0.1:<port>", DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET)` once the
client is told its endpoint is a raw IP (`client._isRowIp = True`, so it connects to the
endpoint and only names the project in Host, as it does for any IPv4 endpoint without a
port). Quota errors are injected as fault rules (`quota_fault()`). The emulator never
imports hubfs's own SLS client; the two share only the `.proto` schema.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Optional

from hubfs.emulation import EmulatorServer, EmulatorSpec, serve_forever

from .handlers import LogAPI, error_body
from .routes import build_router, make_auth, not_found
from .seed import BENCH_INGEST, BENCH_LOGS, BENCH_LOGSTORE, BENCH_PROJECT, SEEDS, bench_hour
from .state import LogState

# Published, deliberately public demo credentials: they guard nothing but this emulator.
DEMO_ACCESS_KEY_ID = "LTAI5tDemoHubfsEmulator"
DEMO_ACCESS_KEY_SECRET = "hubfsDemoSecretNotARealAliyunKey0"
# Names the emulator answers to as its bare endpoint (no project in front).
HOSTS = ("127.0.0.1", "localhost", "::1")

__all__ = ["DEMO_ACCESS_KEY_ID", "DEMO_ACCESS_KEY_SECRET", "BENCH_PROJECT", "BENCH_LOGSTORE",
           "BENCH_INGEST", "BENCH_LOGS", "bench_hour", "create_server", "remote_options",
           "remote_toml", "quota_fault", "main", "LogState", "SPEC"]


def create_server(data: str = "demo", port: int = 0, *, host: str = "127.0.0.1",
                  keys: Optional[dict] = None, clock: Optional[Callable[[], float]] = None
                  ) -> EmulatorServer:
    """An SLS emulator bound to *host*:*port* (0 = any free port), not yet serving.

    *data* picks the seed set ("demo" or "bench"); *keys* maps AccessKeyIds to secrets
    (default: the demo pair); *clock* (seconds) replaces the wall clock.
    """
    try:
        seed = SEEDS[data]
    except KeyError:
        raise ValueError(f"unknown data set {data!r}; choose one of {sorted(SEEDS)}") from None
    state = LogState(clock=clock)
    seed(state)
    keys = dict(keys or {DEMO_ACCESS_KEY_ID: DEMO_ACCESS_KEY_SECRET})
    router = build_router(LogAPI(state), HOSTS)
    server = EmulatorServer(router, host=host, port=port, auth=make_auth(keys.get, state),
                            name="aliyun-log", not_found=not_found, gzip_level=0)
    server.state = state
    server.keys = keys
    return server


def remote_options(server: EmulatorServer) -> dict:
    """The hubfs remote options that mount *server* with the demo credentials."""
    return {"type": "aliyun-log", "endpoint": server.url.rstrip("/"),
            "access_key_id": DEMO_ACCESS_KEY_ID, "access_key_secret": DEMO_ACCESS_KEY_SECRET}


SPEC = EmulatorSpec(
    type="aliyun-log",
    create_server=lambda data="demo", port=0: create_server(data, port),
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("web-shop/nginx-access",),
    summary="Alibaba Cloud Log Service (SLS API 0.6): projects by Host, signed requests, lz4 protobuf pulls",
)


def remote_toml(name: str, url: str, apikey: str = DEMO_ACCESS_KEY_ID) -> str:
    """The hubfs config section that mounts the emulator at *url* as remote *name*."""
    return (f"[remotes.{name}]\n"
            f'type = "aliyun-log"\n'
            f'endpoint = "{url.rstrip("/")}"\n'
            f'access_key_id = "{apikey}"\n'
            f'access_key_secret = "{DEMO_ACCESS_KEY_SECRET}"\n')


def quota_fault(code: str = "ReadQuotaExceed", *, path: str = "/shards/", times: int = 1,
                skip: int = 0, query: Optional[str] = None) -> dict:
    """A fault rule answering 403 with a quota error code (`ReadQuotaExceed`,
    `ExceedQPSLimit`, `WriteQuotaExceed`, ...) in the service's JSON envelope."""
    rule = {"path": path, "status": 403, "times": times, "skip": skip,
            "body": error_body(code, f"{code}: the emulator's injected quota error"),
            "headers": {"Content-Type": "application/json"}}
    if query is not None:
        rule["query"] = query
    return rule


def main(argv: Optional[list[str]] = None) -> int:
    """Run the emulator in the foreground: `[--port N] [--data demo|bench] [--name NAME]`."""
    parser = argparse.ArgumentParser(prog="hubfs emulate aliyun-log",
                                     description="Local Alibaba Cloud Log Service emulator.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free)")
    parser.add_argument("--data", choices=sorted(SEEDS), default="demo", help="seed data set")
    parser.add_argument("--name", default="aliyun-log-demo", help="remote name in the printed TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = create_server(args.data, args.port)
    err = sys.stderr
    err.write(f"Aliyun Log Service emulator ({args.data} data) listening on {server.url}\n")
    err.write("Add this remote to your hubfs config (the keys are public demo keys):\n\n")
    err.flush()
    sys.stdout.write(remote_toml(args.name, server.url) + "\n")
    sys.stdout.flush()
    err.write("Press Ctrl-C to stop.\n")
    err.flush()
    serve_forever(server)
    return 0
