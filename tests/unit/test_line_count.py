"""The C count of a JSON lines page's records (hubfs/render/_line_count.c).

It must be built (a missing extension would fail the import of the Scrapinghub client,
never fall back silently), agree with what its Python meaning is on any bytes, and let
other threads run while it scans.
"""

import os
import subprocess
import sysconfig

from hypothesis import given, settings, strategies as st

from hubfs.render import _line_count
from hubfs.render._line_count import count
from tests.support import lets_other_threads_run

SOURCE = os.path.join(os.path.dirname(_line_count.__file__), "_line_count.c")


def count_in_python(body):
    """The meaning: the number of lines when each starts with `{` or `[` and ends with
    a newline; 0 for nothing; -1 for anything else."""
    if not body:
        return 0
    if not body.endswith(b"\n"):
        return -1
    lines = body[:-1].split(b"\n")
    return len(lines) if all(line[:1] in (b"{", b"[") for line in lines) else -1


def test_it_compiles_without_warnings():
    include = sysconfig.get_paths()["include"]
    result = subprocess.run(["gcc", "-fsyntax-only", "-O2", "-Wall", "-Wextra", "-Werror",
                             "-std=c11", f"-I{include}", SOURCE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_pages_as_served_and_pages_that_are_not():
    assert count(b"") == 0
    assert count(b'{"a":1}\n[1,2]\n{}\n') == 3
    assert count(bytearray(b"{}\n")) == 1 and count(memoryview(b"{}\n{}\n")) == 2
    for bad in (b"{}", b"{}\n\n", b"\n", b"{}\n\n{}\n", b' {}\n', b'{}\n"x"\n', b"<html>\n"):
        assert count(bad) == -1, bad


@settings(max_examples=700, deadline=None)
@given(st.lists(st.sampled_from([b"{", b"}", b"[", b"]", b"\n", b"a", b" ", b'"', b"\x00",
                                 b'{"k":"v"}\n', b"[1]\n"]), max_size=40))
def test_it_counts_as_the_python_meaning(parts):
    body = b"".join(parts)
    assert count(body) == count_in_python(body)


def test_it_counts_without_the_interpreter_lock():
    """With a switch interval of minutes, another thread can run only when this one
    releases the lock itself: a thread waiting for it gets to run during the counts."""
    body = b'{"name":"a record of a page"}\n' * 200_000
    assert count(body) == 200_000
    assert lets_other_threads_run(lambda: count(body))
