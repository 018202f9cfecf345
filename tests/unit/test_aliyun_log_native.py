"""The C renderer of SLS pull bodies (`backends/aliyun_log/_jsonlines.c`) against the
Python reference (`render.render_list_python`): byte-identical output for any
LogGroupList, the same `BadBody` for anything that is not one, never a crash. Also that
the extension is built and used (a silent fallback to Python would hide a broken build),
that it compiles without warnings, and that it runs without the interpreter lock."""

import os
import subprocess
import sysconfig

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from backends.aliyun_log import render
from backends.aliyun_log.emulator import pbwriter as pb
from tests.support import lets_other_threads_run

NATIVE = render.NATIVE
SOURCE = os.path.join(os.path.dirname(render.__file__), "_jsonlines.c")


def test_the_extension_is_built_and_used():
    assert NATIVE is not None, "backends/aliyun_log/_jsonlines.c is not built: run pip install -e ."
    raw = _field(1, _group([_log(7, [("k", "v")])]))
    assert NATIVE.render(raw) == (b'{"__time__":7,"__topic__":"","__source__":"","k":"v"}\n', 1)
    # render_list takes the C path for a body it accepts (the result object is its own)
    assert render.render_list(raw, 1) == NATIVE.render(raw)[0]


def test_it_compiles_without_warnings(tmp_path):
    include = sysconfig.get_paths()["include"]
    result = subprocess.run(["gcc", "-fsyntax-only", "-O2", "-Wall", "-Wextra", "-Werror",
                             "-std=c11", f"-I{include}", SOURCE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- wire writers (independent of both renderers) -------------------------------------------

def _field(number, data, wire=2):
    tag = pb.varint(number << 3 | wire)
    if wire == 2:
        return tag + pb.varint(len(data)) + data
    return tag + data


def _string(value):
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def _pair(key, value):
    out = b""
    if key is not None:
        out += _field(1, _string(key))
    if value is not None:
        out += _field(2, _string(value))
    return out


def _log(time_, contents, ns=None, time_last=False):
    body = b"".join(_field(2, _pair(k, v)) for k, v in contents)
    stamp = b"" if time_ is None else _field(1, pb.varint(time_), 0)
    body = body + stamp if time_last else stamp + body
    if ns is not None:
        body += _field(4, ns.to_bytes(4, "little"), 5)
    return body


def _group(logs, topic=None, source=None, tags=(), extra=b"", meta_first=False):
    meta = b""
    if topic is not None:
        meta += _field(3, _string(topic))
    if source is not None:
        meta += _field(4, _string(source))
    meta += b"".join(_field(6, _pair(k, v)) for k, v in tags)
    body = b"".join(_field(1, log) for log in logs)
    return (meta + body if meta_first else body + meta) + extra


def both(raw, groups=None):
    """What each renderer makes of *raw*: bytes, or the BadBody it raises."""
    out = []
    for fn in (render.render_list, render.render_list_python):
        try:
            out.append(fn(raw, groups))
        except render.BadBody:
            out.append("BadBody")
    return out


# -- strategies ------------------------------------------------------------------------------

KEYS = ["k", "x", "msg", "__time__", "__topic__", "__source__", "__time_ns_part__",
        "__tag__:host", "__tag__:a", "host", "a", "", "é", "\u2028"]
text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from('"\\\n\r\t\b\f\x00\x01\x1f\x7f \u2028\u2029é☕😀a'),
            max_size=12),
    st.sampled_from(KEYS),
)
# Not UTF-8: random bytes, lone surrogates, overlong forms, truncated sequences.
raw_bytes = st.one_of(
    st.binary(max_size=10),
    st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\xf0\x9f\x98",
                     b"\xf4\x90\x80\x80", b"a\x80b", b"\xe0\x80\x80", b"\xf8\x88\x80\x80\x80"]),
)
string = st.one_of(text, text, text, raw_bytes)
maybe = st.one_of(st.none(), string)
contents = st.lists(st.tuples(maybe, maybe), max_size=6)
log = st.builds(_log, st.one_of(st.none(), st.integers(0, 2**32 - 1)), contents,
                st.one_of(st.none(), st.integers(0, 2**32 - 1)), st.booleans())
group = st.builds(_group, st.lists(log, max_size=5), maybe, maybe,
                  st.lists(st.tuples(maybe, maybe), max_size=4),
                  st.sampled_from([b"", _field(5, b"uuid"), _field(2, b"r"), _field(9, b"\x01", 0),
                                   _field(15, b"abcd", 5), _field(12, b"12345678", 1)]),
                  st.booleans())
group_list = st.lists(group, max_size=4).map(lambda gs: b"".join(_field(1, g) for g in gs))


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(group_list)
@example(_field(1, _group([_log(1, [("__tag__:host", "x"), ("host", "y")])], tags=[("host", "h")])))
@example(_field(1, _group([_log(0, [("__time_ns_part__", "s")])])))
@example(_field(1, _group([_log(5, [(b"\xff", "a"), (b"\xfe", "b")])])))
@example(_field(1, _group([_log(5, [])], tags=[("t", "1"), ("t", "2")])))
def test_the_c_renderer_writes_the_bytes_of_the_python_one(raw):
    c, python = both(raw)
    assert c == python
    assert NATIVE.render(raw) is not None  # well-formed bodies never need the fallback


@settings(max_examples=700, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(group_list, st.data())
def test_cut_or_corrupted_bodies_fail_alike_and_never_crash(raw, data):
    if raw:
        how = data.draw(st.sampled_from(["cut", "flip", "insert"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "cut":
            raw = raw[:at]
        elif how == "flip":
            raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
        else:
            raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=4)) + raw[at:]
    c, python = both(raw)
    assert c == python


@pytest.mark.parametrize("raw", [
    b"\x0a",                                  # a length missing
    b"\x0a\x05abc",                           # a length past the end
    b"\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # an 11-byte varint
    b"\x00\x01",                              # field number 0
    b"\x0b\x0c",                              # groups
    b"\x0f",                                  # wire type 7
    _field(1, b"\x08\xff\xff\xff\xff\x1f", 2),                           # LogGroup that is a varint run
    _field(1, _field(1, b"\x08\x80\x80\x80\x80\x20")),                   # Time above 32 bits
    _field(1, _field(1, b"\x08", 2)),                                    # Time cut
    _field(1, _field(1, _field(1, b"", 2))),                             # Time with wire type 2
    _field(1, _field(3, b"\x05", 0)),                                    # Topic as a varint
    _field(1, b"\x01", 0),                                               # a LogGroup as a varint
])
def test_malformed_bodies(raw):
    c, python = both(raw)
    assert c == python
    assert render.NATIVE.render(raw) is None or c != "BadBody"


def test_x_log_count_is_checked_on_the_c_path():
    raw = _field(1, _group([_log(1, [("k", "v")])])) * 3
    assert render.render_list(raw, 3)
    with pytest.raises(render.BadBody, match="x-log-count is 2"):
        render.render_list(raw, 2)


def test_it_renders_without_the_interpreter_lock():
    """With a switch interval of minutes, another thread can run only when this one
    releases the lock itself: a thread waiting for it gets to run during renders."""
    raw = _field(1, _group([_log(1700000000, [("k", "value \" é " * 50)])] * 500))
    released = lets_other_threads_run(lambda: NATIVE.render(raw))
    assert released, "no other thread ran during 10,000 renders: the lock was held"
