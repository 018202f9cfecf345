"""Contract: one daemon serves remotes of different types side by side.

Every pair of harnesses of different types is mounted together from one config: each
remote shows its own known file with the bytes its service holds, and a fault on one
service leaves the other answering.
"""

import contextlib
import errno
import itertools
import os

import pytest

from hubfs.emulation import FaultRule
from tests.contract.conftest import FAST, HARNESSES
from tests.support import Mount, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

# Each harness once as the first of a pair, with the next one of another type.
PAIRS = [(a, b) for a, b in zip(HARNESSES, HARNESSES[1:] + HARNESSES[:1]) if a.type != b.type]


@pytest.mark.parametrize("first,second", PAIRS, ids=lambda h: h.type)
def test_two_types_in_one_mount_and_a_fault_in_one_stays_there(first, second, tmp_path):
    with contextlib.ExitStack() as stack:
        one, two = stack.enter_context(first.start()), stack.enter_context(second.start())
        config = write_config(tmp_path, {"one": first.remote(one), "two": second.remote(two)},
                              general=FAST)
        with Mount(tmp_path, config) as live:
            assert sorted(os.listdir(live.path)) == ["one", "two"]
            one.server.faults.add(FaultRule(path=first.fault_path, status=503, times=-1))
            with pytest.raises(OSError) as raised:
                with open(os.path.join(live.path, "one", first.known_file), "rb") as fh:
                    fh.read()
            assert raised.value.errno == errno.EIO
            with open(os.path.join(live.path, "two", second.known_file), "rb") as fh:
                assert fh.read() == second.known_bytes(two)
            one.server.faults.clear()


def test_every_type_is_paired():
    assert {h.type for h in itertools.chain(*PAIRS)} == {h.type for h in HARNESSES}
