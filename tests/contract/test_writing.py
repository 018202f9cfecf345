"""Contract: writes the way people write them, for every backend that accepts writes.

Shell redirects in bash and dash, `/bin/echo`, `printf`, `cat >`, `cp` and `tee` over an
existing file and onto new names: every close that reports success means the service
holds exactly those bytes (the shell's `open(O_TRUNC)`, `dup2`, `close` before the first
byte must not send an empty file nor give up the spool). Malformed content fails the
close with EINVAL, sends nothing and leaves nothing in the journal; a fuzzer writes deep,
huge, non-UTF-8 and malformed values and the daemon answers each with success or EINVAL,
never EIO, never a crash. A send that fails is EIO at close, kept, listed by `hubfs
status`, and sent by the next mount after a SIGKILL. A time set after a write outlives the
mount until the file is written again.
"""

import errno
import json
import os
import re
import signal
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from hubfs.emulation import FaultRule
from hubfs.runtime import read_state
from tests.contract.conftest import at
from tests.support import Mount, hubfs, pending_in, requires_fuse, wait_until

pytestmark = [requires_fuse, pytest.mark.mount]

SHELLS = {
    "bash echo": ["bash", "-c", 'echo "$1" > "$2"', "-"],
    "dash echo": ["dash", "-c", 'echo "$1" > "$2"', "-"],
    "/bin/echo": ["dash", "-c", '/bin/echo "$1" > "$2"', "-"],
    "bash printf": ["bash", "-c", 'printf "%s\\n" "$1" > "$2"', "-"],
    "dash printf": ["dash", "-c", 'printf "%s\\n" "$1" > "$2"', "-"],
    "bash exec fd": ["bash", "-c", 'exec 3>"$2"; echo "$1" >&3; exec 3>&-', "-"],
    "tee": ["bash", "-c", 'echo "$1" | tee "$2" > /dev/null', "-"],
}


def run_shell(command, text, path):
    return subprocess.run(command + [text, path], capture_output=True, text=True, timeout=60)


def write_python(path, data):
    """open, write, close; returns the errno of the first failing step, or 0."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        return exc.errno
    return 0


def journal(mount):
    spool = os.path.join(mount.cache_dir, "spool")
    return sorted(n for n in os.listdir(spool) if n.endswith(".json")) if os.path.isdir(spool) else []


@pytest.fixture(scope="module")
def place(writable_harness):
    return writable_harness.writable


def test_shell_redirects_over_an_existing_file_are_sent(writable_harness, place, emulator, mount):
    target = at(mount, place.directory, place.existing)
    for number, (shell, command) in enumerate(SHELLS.items(), 1):
        content = place.good(100 + number)
        result = run_shell(command, content.decode().rstrip("\n"), target)
        assert result.returncode == 0, f"{shell}: {result.stderr}"
        assert place.read_back(emulator, place.existing) == place.normalise(content), shell
        with open(target, "rb") as fh:
            assert fh.read() == place.normalise(content), shell
    assert "FileNotFoundError" not in mount.log() and "unexpected" not in mount.log()
    assert journal(mount) == []


def test_shell_redirects_onto_new_names_create_them(writable_harness, place, emulator, mount):
    for number, (shell, command) in enumerate(SHELLS.items(), 1):
        name = f"new-{number}"
        content = place.good(200 + number)
        result = run_shell(command, content.decode().rstrip("\n"), at(mount, place.directory, name))
        assert result.returncode == 0, f"{shell}: {result.stderr}"
        assert place.read_back(emulator, name) == place.normalise(content), shell


def test_cat_cp_and_python_writes_are_sent(writable_harness, place, emulator, mount, tmp_path):
    source = tmp_path / "value"
    source.write_bytes(place.good(301))
    subprocess.run(["bash", "-c", f'cat "{source}" > "{at(mount, place.directory, place.existing)}"'],
                   check=True, timeout=60)
    assert place.read_back(emulator, place.existing) == place.normalise(place.good(301))
    subprocess.run(["cp", str(source), at(mount, place.directory, "copied")], check=True, timeout=60)
    assert place.read_back(emulator, "copied") == place.normalise(place.good(301))
    assert write_python(at(mount, place.directory, place.existing), place.good(302)) == 0
    assert place.read_back(emulator, place.existing) == place.normalise(place.good(302))


def test_malformed_content_is_einval_sends_nothing_and_is_not_journaled(writable_harness, place, clean, mount):
    before = place.read_back(clean, place.existing)
    for bad in place.bad:
        clean.server.requests.clear()
        assert write_python(at(mount, place.directory, place.existing), bad) == errno.EINVAL, bad[:40]
        sent = [r for r in clean.server.requests.entries()
                if r["method"] == place.send_method and re.search(place.send_path, r["path"])]
        assert sent == [], bad[:40]
        assert journal(mount) == []
    assert place.read_back(clean, place.existing) == before
    assert os.listdir(at(mount, place.directory))  # the daemon still answers
    assert "RecursionError" not in mount.log()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.one_of(
    st.binary(max_size=300),
    st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=30).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=200_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=3_000_000).map(lambda size: b'{"x": "' + b"y" * size + b'"}'),
    st.text(max_size=50).map(lambda t: t.encode("utf-8", "surrogatepass")),
))
def test_fuzzed_values_are_accepted_or_einval_and_never_hurt_the_daemon(writable_harness, place, emulator, mount, data):
    # Writing nothing is an O_TRUNC alone, sent at the last close, whose error only the
    # log can show (docs/semantics.md "When a write is sent"): not what this checks.
    assume(data)
    code = write_python(at(mount, place.directory, "fuzzed"), data)
    assert code in (0, errno.EINVAL), (code, data[:60])
    if code == 0:
        assert place.read_back(emulator, "fuzzed") == place.normalise(data)
    assert journal(mount) == []
    assert os.listdir(at(mount, place.directory))


def test_failed_send_is_eio_kept_listed_and_sent_after_sigkill_and_remount(writable_harness, place, clean, config, tmp_path):
    content = place.good(401)
    clean.server.faults.add(FaultRule(path=place.send_path, method=place.send_method,
                                      status=503, times=-1))
    with Mount(tmp_path, config, name="first") as first:
        assert write_python(at(first, place.directory, "kept"), content) == errno.EIO
        status = hubfs("status").stdout
        assert f"/{place.directory}/kept" in status and "pending" in status
        clean.server.faults.clear()
        pid = read_state(first.path)["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                   open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] == "Z", timeout=10)
        subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
    assert place.read_back(clean, "kept") is None
    with Mount(tmp_path, config, name="second"):
        assert wait_until(lambda: place.read_back(clean, "kept") == place.normalise(content), timeout=30)
    assert pending_in(tmp_path / "cache", config) == []


SET_TIME = 1_500_000_000_123_456_789  # 2017, in nanoseconds: never a service's own time


def test_a_set_time_outlives_the_mount_until_the_file_is_written_again(writable_harness, place, emulator, config, tmp_path):
    """`cp -p`, `touch -d`, `rsync -a`: a time set with utimensat after a write is shown by
    later mounts on the same cache while the file is unchanged; a new write through a
    mount gives the file the service's time again."""
    with Mount(tmp_path, config, name="first") as first:
        path = at(first, place.directory, "timed")
        assert write_python(path, place.good(501)) == 0
        os.utime(path, ns=(SET_TIME, SET_TIME))
        assert os.stat(path).st_mtime_ns == SET_TIME
    with Mount(tmp_path, config, name="second") as second:
        path = at(second, place.directory, "timed")
        assert os.stat(path).st_mtime_ns == SET_TIME
        assert write_python(path, place.good(502)) == 0
        assert os.stat(path).st_mtime_ns != SET_TIME
    with Mount(tmp_path, config, name="third") as third:
        path = at(third, place.directory, "timed")
        assert os.stat(path).st_mtime_ns != SET_TIME
        with open(path, "rb") as fh:
            assert fh.read() == place.normalise(place.good(502))


WRITER = r"""
import sys
path, data = sys.argv[1], sys.argv[2].encode()
with open(path, "wb") as fh:
    fh.write(data)
"""


def test_twenty_processes_writing_at_once_lose_nothing(writable_harness, place, emulator, mount):
    """10 processes write 10 different names, 10 more write one name: every different
    name holds its bytes, and the shared name holds exactly one of the contents written
    to it (the last close wins, never a mix)."""
    import sys

    directory = at(mount, place.directory)
    shared = [place.good(600 + n) for n in range(10)]
    own = {f"crowd-{n}": place.good(700 + n) for n in range(10)}
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, os.path.join(directory, name),
                                   data.decode()]) for name, data in own.items()]
    processes += [subprocess.Popen([sys.executable, "-c", WRITER, os.path.join(directory, "shared"),
                                    data.decode()]) for data in shared]
    assert [p.wait(timeout=120) for p in processes] == [0] * 20
    for name, data in own.items():
        assert place.read_back(emulator, name) == place.normalise(data), name
    assert place.read_back(emulator, "shared") in [place.normalise(d) for d in shared]
    with open(os.path.join(directory, "shared"), "rb") as fh:
        assert fh.read() == place.read_back(emulator, "shared")
    assert journal(mount) == []


def test_editors_write_a_temp_file_then_rename_it_over_the_original(writable_harness, place, emulator, mount):
    directory = at(mount, place.directory)
    target = os.path.join(directory, place.existing)
    content = place.good(801)
    temp = os.path.join(directory, ".edit.tmp")
    with open(temp, "wb") as fh:  # what editors and `write_atomic` helpers do
        fh.write(content)
    os.replace(temp, target)
    assert place.read_back(emulator, place.existing) == place.normalise(content)
    assert place.read_back(emulator, ".edit.tmp") is None
    assert ".edit.tmp" not in os.listdir(directory)


def test_sed_in_place_edits_the_file(writable_harness, place, emulator, mount):
    target = at(mount, place.directory, place.existing)
    assert write_python(target, place.good(900)) == 0
    subprocess.run(["sed", "-i", "s/900/901/g", target], check=True, timeout=60)
    expected = place.normalise(place.good(900).replace(b"900", b"901"))
    assert place.read_back(emulator, place.existing) == expected
    leftovers = [n for n in os.listdir(at(mount, place.directory)) if n.startswith("sed")]
    assert leftovers == []
