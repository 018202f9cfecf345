"""Contract: appending records to a file, for every backend with an append-only file.

`echo line >> file` in bash and dash, `printf` of several lines, `tee -a` and a Python
append each add exactly their lines, once; a line that is not a record fails the close
with EINVAL and sends nothing of that close; a send that fails is EIO at close, kept, and
sent exactly once by the next mount after a SIGKILL of the daemon.
"""

import errno
import os
import signal
import subprocess

import pytest

from hubfs.emulation import FaultRule
from hubfs.runtime import read_state
from tests.contract.conftest import at
from tests.support import Mount, requires_fuse, wait_until

pytestmark = [requires_fuse, pytest.mark.mount]

APPENDERS = {
    "bash >>": ["bash", "-c", 'echo "$1" >> "$2"', "-"],
    "dash >>": ["dash", "-c", 'echo "$1" >> "$2"', "-"],
    "/bin/echo >>": ["dash", "-c", '/bin/echo "$1" >> "$2"', "-"],
    "printf >>": ["bash", "-c", 'printf "%s\\n" "$1" >> "$2"', "-"],
    "tee -a": ["bash", "-c", 'echo "$1" | tee -a "$2" > /dev/null', "-"],
}


@pytest.fixture(scope="module")
def place(appendable_harness):
    return appendable_harness.appendable


def holds(place, handle, expected):
    """True when the service holds exactly *expected* (as a multiset of lines when the
    place does not keep order)."""
    actual = place.read_back(handle, place.existing)
    if place.ordered:
        return actual == expected
    return sorted(actual.splitlines()) == sorted(expected.splitlines())


def append(path, data):
    try:
        with open(path, "ab") as fh:
            fh.write(data)
    except OSError as exc:
        return exc.errno
    return 0


def test_each_append_adds_its_lines_exactly_once(appendable_harness, place, emulator, mount):
    target = at(mount, place.directory, place.existing)
    expected = place.read_back(emulator, place.existing)
    for number, (how, command) in enumerate(APPENDERS.items(), 1):
        line = place.good(1000 + number)
        result = subprocess.run(command + [line.decode().rstrip("\n"), target],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{how}: {result.stderr}"
        expected += place.normalise(line)
        assert wait_until(lambda: holds(place, emulator, expected), timeout=20), how
    several = place.good(2001) + place.good(2002)
    assert append(target, several) == 0
    expected += place.normalise(place.good(2001)) + place.normalise(place.good(2002))
    assert wait_until(lambda: holds(place, emulator, expected), timeout=20)


def test_a_bad_line_is_einval_and_nothing_of_that_close_is_sent(appendable_harness, place, clean, mount):
    target = at(mount, place.directory, place.existing)
    before = place.read_back(clean, place.existing)
    for bad in place.bad:
        assert append(target, place.good(3001) + bad) == errno.EINVAL, bad[:40]
    assert holds(place, clean, before)


def test_a_failed_append_is_sent_once_after_sigkill_and_remount(appendable_harness, place, clean, config, tmp_path):
    before = place.read_back(clean, place.existing)
    line = place.good(4001)
    clean.server.faults.add(FaultRule(path=place.send_path, method=place.send_method,
                                      status=503, times=-1))
    with Mount(tmp_path, config, name="first") as first:
        assert append(at(first, place.directory, place.existing), line) == errno.EIO
        clean.server.faults.clear()
        pid = read_state(first.path)["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{pid}/cmdline") or
                   open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", timeout=10)
        subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
    assert holds(place, clean, before)
    with Mount(tmp_path, config, name="second"):
        assert wait_until(lambda: holds(place, clean, before + place.normalise(line)), timeout=30)
