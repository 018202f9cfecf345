"""What a backend gives the contract suite: its emulator, how to mount it, and where.

The contract suite (`tests/contract/test_*.py`) holds the behaviour every backend
promises, run through real FUSE mounts; each test is parametrised over the `Harness`es
listed in `harnesses/`. A harness names no hubfs internals: it starts the backend's
emulator, gives the remote options that mount it (and options with a wrong secret), a
known file with a way to get its expected bytes *without hubfs* (the official client or
the emulator's own state), a small immutable tree to copy, a data path to inject faults
on, and, for backends that accept writes, a `Writable` place where a write replaces a
file and one where it appends records. Adding a backend to the
suite is one module in `harnesses/` exporting `HARNESS`, plus its name in `NAMES`.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Callable, Optional

# Modules of `tests/contract/harnesses/`, one per backend type that has an emulator.
NAMES = ["scrapinghub", "aliyun_log", "flowthings", "dataflowkit", "ds3", "s3"]


@dataclasses.dataclass
class Writable:
    """A writable place of a backend."""

    directory: str  # a writable directory under the remote, holding `existing`
    existing: str  # the name of a writable file there that already holds something
    good: Callable[[int], bytes]  # a valid content, different for each number
    # (emulator handle, name in `directory`) -> the bytes the service now holds, read
    # without hubfs, or None when the name does not exist there
    read_back: Callable
    send_path: str  # a regex of the emulator path a send of that file goes to
    bad: list = dataclasses.field(default_factory=list, repr=False)  # each EINVAL at close
    send_method: str = "POST"  # the HTTP method of such a send
    ordered: bool = True  # appended records read back in the order they were added
    # How the service's answer to `good(n)` reads back: same bytes for values, a
    # normalised form for others (defaults to identity).
    normalise: Callable[[bytes], bytes] = lambda data: data
    # For an append-only place (`Harness.appendable`): `good(n)` is one line, `existing`
    # is the file appended to, and `read_back` gives every record the service holds for
    # it, each as `normalise(line)` gives it, in order.


@dataclasses.dataclass
class Harness:
    type: str
    start: Callable  # () -> context manager yielding a running emulator handle (.url, .server)
    remote: Callable  # (handle) -> remote options that mount it
    bad_remote: Callable  # (handle) -> the same with a wrong secret
    known_file: str  # a finished, immutable file under the remote
    known_bytes: Callable  # (handle) -> its bytes, obtained without hubfs
    tree: str  # a small immutable directory to copy with cp -a, tar, rsync
    fault_path: str  # a regex of the emulator path that serves `known_file`'s bytes
    missing: list  # paths under the remote that do not exist
    read_only_file: Optional[str]  # a file that refuses writes (EROFS at open); None: none is
    writable: Optional[Writable] = None  # a place where a write replaces a file
    appendable: Optional[Writable] = None  # a file where a write adds records

    def __str__(self):
        return self.type


def load_all():
    return [importlib.import_module(f"tests.contract.harnesses.{name}").HARNESS for name in NAMES]
