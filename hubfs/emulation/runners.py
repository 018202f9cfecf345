"""Ways to run an `EmulatorServer`: in a background thread for tests, or in the foreground.

`start_in_thread()` serves from a daemon thread and returns a `ServerHandle` (`.url`,
`.state`, `.stop()`, usable with `with`) once the server accepts requests; `stop()` also
closes idle keep-alive connections so no client hangs on a dead server. `serve_forever()`
is what `hubfs emulate` runs: serve until Ctrl-C, then close every connection.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .server import EmulatorServer

# The whole kit logs as one "hubfs.emulation" logger, so log lines and any level set on
# it stay as they were before the kit was split into modules.
log = logging.getLogger(__package__)


class ServerHandle:
    """A server running in a background thread; `.url`, `.stop()`, usable with `with`."""

    def __init__(self, server: EmulatorServer, thread: threading.Thread):
        self.server = server
        self.thread = thread
        self.url = server.url

    @property
    def state(self) -> Any:
        return self.server.state

    def stop(self, timeout: float = 5.0) -> None:
        if not self.thread.is_alive():
            return
        self.server.shutdown()
        self.server.close_connections()
        self.server.server_close()
        self.thread.join(timeout)

    def __enter__(self) -> "ServerHandle":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start_in_thread(server: EmulatorServer, *, poll_interval: float = 0.1) -> ServerHandle:
    """Serve *server* from a daemon thread; returns once it accepts requests."""
    ready = threading.Event()

    def run() -> None:
        ready.set()
        server.serve_forever(poll_interval=poll_interval)

    thread = threading.Thread(target=run, name=f"{server.name}-server", daemon=True)
    thread.start()
    # The socket already listens (bound in the constructor), so connections made from here
    # on queue until serve_forever picks them up; the event only guards the thread start.
    if not ready.wait(10):
        raise RuntimeError(f"{server.name} did not start")
    log.debug("%s: serving on %s", server.name, server.url)
    return ServerHandle(server, thread)


def serve_forever(server: EmulatorServer) -> None:
    """Serve in the foreground until interrupted (Ctrl-C), then close every connection."""
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.close_connections()
        server.server_close()
