"""Fixtures of the contract suite: one harness at a time, its emulator, config and mount."""

import os

import pytest

from tests.contract.harness import load_all
from tests.support import Mount, no_faults, write_config

HARNESSES = load_all()
REMOTE = "remote"  # the remote's name in every contract config
# Short retries and timeouts: faults that never clear fail in seconds, not minutes.
FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}


@pytest.fixture(scope="module", params=HARNESSES, ids=str)
def harness(request):
    return request.param


@pytest.fixture(scope="module")
def writable_harness(harness):
    if harness.writable is None:
        pytest.skip(f"{harness.type}: no file there is replaced by a write")
    return harness


@pytest.fixture(scope="module")
def appendable_harness(harness):
    if harness.appendable is None:
        pytest.skip(f"{harness.type}: no file there is appended to")
    return harness


@pytest.fixture(scope="module")
def emulator(harness):
    with harness.start() as handle:
        yield handle


@pytest.fixture
def clean(emulator):
    """The module's emulator with no fault rules and an empty request log."""
    with no_faults(emulator) as handle:
        yield handle


@pytest.fixture(scope="module")
def config(harness, emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("cfg"), {REMOTE: harness.remote(emulator)},
                        general=FAST)


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("m"), config) as live:
        yield live


def at(mount, *parts):
    """The mounted path of *parts* (each may hold `/`) under the contract remote."""
    return os.path.join(mount.path, REMOTE, *[p for part in parts for p in part.split("/") if p])
