"""The emulator contract: what each backend's emulator declares so the core can run it.

`hubfs emulate TYPE`, `hubfs demo` and the contract tests know an emulator only through
its `EmulatorSpec`, exported as `SPEC` by the backend's `emulator` package: how to build
a server for a seed data set, the remote options that mount a running server (its own
URL and its own demo credentials, not a global key), the data sets it has, and which
paths under the remote the demo shows. Nothing service-specific lives in the core.
"""

from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class EmulatorSpec:
    type: str
    # (data="demo", port=0) -> an `EmulatorServer`, bound to 127.0.0.1, not yet serving.
    create_server: Callable
    # (server) -> {option: value} of the remote table that mounts *server* (type included).
    remote_options: Callable
    datasets: tuple = ("demo",)
    # Paths under the remote (`a/b`) whose trees `hubfs demo` prints; empty: the root.
    demo_paths: tuple = ()
    summary: str = ""


def load_spec(type_name):
    """The `EmulatorSpec` of backend *type_name*, or None when it ships no emulator."""
    import importlib

    import backends

    module_name = backends.BACKENDS.get(type_name)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name + ".emulator")
    except ImportError:
        return None
    return getattr(module, "SPEC", None)
