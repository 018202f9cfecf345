"""Local emulator of a Spectra S3 (DS3, BlackPearl) appliance, or of a plain S3 store.

`create_server(data, port, mode="ds3"|"s3")` returns a `hubfs.emulation` server (not yet
serving) whose `.state` is the `Ds3State` tests read and change: objects on disk
(`store`), bulk jobs and how they are released (`jobs.settings`: blob size, chunk size,
polls before a chunk is ready, Retry-After), keys (`credentials`). DS3 mode speaks the
S3 subset DS3 has plus its `/_rest_/` bulk requests, checks AWS signature V2 and answers
DS3's error bodies; S3 mode speaks plain S3 (multipart included) with V4 (or V2)
signatures, and boto3 works against it unchanged. `remote_options(server)` gives the
TOML options of a hubfs remote that mounts it; `main()` is `hubfs emulate ds3|s3`. The
emulator never imports hubfs's own DS3/S3 client, so the two cannot share a mistake.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional

from hubfs.emulation import EmulatorSpec, serve_forever

from .jobs import JobSettings
from .routes import build_router, make_auth, not_found
from .seed import SEEDS, seed
from .serving import ObjectServer
from .state import Ds3State

# Published demo keys: they guard nothing but this local emulator. The access id looks
# like a real BlackPearl one (base64 of a user name).
DEMO_ACCESS_KEY = "aHViZnMtZGVtbw=="
DEMO_SECRET_KEY = "hubfs-demo-secret"
DEMO_REGION = "us-east-1"
DEMO_APIKEY = DEMO_SECRET_KEY  # what `hubfs demo` looks up; the secret of the demo keys

__all__ = ["DEMO_ACCESS_KEY", "DEMO_SECRET_KEY", "DEMO_REGION", "JobSettings", "SPEC", "create_server",
           "remote_options", "remote_toml", "main"]


def create_server(data: str = "demo", port: int = 0, mode: str = "ds3", *, host: str = "127.0.0.1",
                  settings: Optional[JobSettings] = None, root: Optional[str] = None,
                  credentials: Optional[dict] = None) -> ObjectServer:
    """An emulator bound to *host*:*port* (0: any free port), seeded with *data*.

    *mode* is "ds3" or "s3"; *settings* plan and release bulk jobs (the demo uses 1 MiB
    blobs so that its objects show several); *root* keeps object files there instead of
    a temporary directory; *credentials* maps access ids to secret keys.
    """
    if settings is None:
        settings = JobSettings(blob_size=1024 * 1024) if data == "demo" else JobSettings()
    state = Ds3State(mode, credentials or {DEMO_ACCESS_KEY: DEMO_SECRET_KEY}, root, settings)
    try:
        seed(state.store, data)
        server = ObjectServer(build_router(state), host=host, port=port, auth=make_auth(state),
                              name=mode, not_found=not_found(state))
    except Exception:
        state.close()
        raise
    server.state = state
    return server


def remote_options(server, access_key: str = DEMO_ACCESS_KEY, secret_key: str = DEMO_SECRET_KEY) -> dict:
    """The options of a hubfs remote that mounts *server* (its type follows the mode)."""
    options = {"type": server.state.mode, "endpoint": server.url.rstrip("/"),
               "access_key": access_key, "secret_key": secret_key}
    if server.state.mode == "s3":
        options["region"] = DEMO_REGION
    return options


def remote_toml(name: str, url: str, apikey: str = DEMO_SECRET_KEY, mode: str = "ds3") -> str:
    """The hubfs config section that mounts the emulator at *url* as remote *name*."""
    lines = [f"[remotes.{name}]", f'type = "{mode}"', f'endpoint = "{url.rstrip("/")}"',
             f'access_key = "{DEMO_ACCESS_KEY}"', f'secret_key = "{apikey}"']
    if mode == "s3":
        lines.append(f'region = "{DEMO_REGION}"')
    return "\n".join(lines) + "\n"


SPEC = EmulatorSpec(
    type="ds3",
    create_server=lambda data="demo", port=0: create_server(data, port, mode="ds3"),
    remote_options=remote_options,
    datasets=tuple(sorted(SEEDS)),
    demo_paths=("books", "data"),
    summary="Spectra S3 (DS3): the S3 subset and bulk jobs, AWS signature V2",
)


def main(argv: Optional[list[str]] = None, mode: str = "ds3") -> int:
    """Run the emulator in the foreground: `[--port N] [--data demo|bench] [--mode ds3|s3]`."""
    parser = argparse.ArgumentParser(prog=f"hubfs emulate {mode}",
                                     description="Local Spectra S3 (DS3) / plain S3 emulator.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free)")
    parser.add_argument("--data", choices=sorted(SEEDS), default="demo", help="seed data set")
    parser.add_argument("--mode", choices=("ds3", "s3"), default=mode, help="which service to play")
    parser.add_argument("--blob-size", type=int, default=None, help="bulk job blob size in bytes")
    parser.add_argument("--root", default=None, help="directory for object files (default: a temporary one)")
    parser.add_argument("--name", default=None, help="remote name in the printed TOML")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = JobSettings(blob_size=args.blob_size) if args.blob_size else None
    server = create_server(args.data, args.port, args.mode, settings=settings, root=args.root)
    sys.stderr.write(f"{args.mode.upper()} emulator ({args.data} data) listening on {server.url}\n"
                     "Add this remote to your hubfs config (the keys are public demo keys); "
                     "press Ctrl-C to stop.\n")
    sys.stdout.write(remote_toml(args.name or f"{args.mode}-demo", server.url, mode=args.mode))
    sys.stdout.flush()
    serve_forever(server)
    return 0
