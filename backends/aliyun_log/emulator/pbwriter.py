"""Fast writers of the SLS protobuf messages for the emulator's seeded data.

Seeding a million logs through the generated message classes costs seconds; writing
the few wire constructs `logs.proto` uses by hand (varints, length-delimited fields,
one fixed32) costs a fraction of that, and the bytes are the same as
`SerializeToString()` gives for fields written in number order (checked by the
emulator tests). Content entries that repeat (a key with one of a few values) can be
prepared once with `content()` and joined into many logs.
"""

from __future__ import annotations

import struct

_FIXED32 = struct.Struct("<I").pack


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    return tag + varint(len(data)) + data


def content(key: str, value: str) -> bytes:
    """One `Log.Contents` entry (field 2 of Log), ready to join into a log."""
    k = key.encode("utf-8")
    v = value.encode("utf-8")
    return _field(b"\x12", _field(b"\x0a", k) + _field(b"\x12", v))


def log(time: int, contents: bytes, time_ns: int | None = None) -> bytes:
    """One `Log` message: *contents* is the join of `content()` entries."""
    body = b"\x08" + varint(time) + contents
    if time_ns is not None:
        body += b"\x25" + _FIXED32(time_ns)
    return body


def log_group(logs: list[bytes], topic: str = "", source: str = "",
              tags: tuple[tuple[str, str], ...] = ()) -> bytes:
    """One `LogGroup` message with *logs* (each from `log()`), topic, source and tags."""
    parts = [_field(b"\x0a", entry) for entry in logs]
    parts.append(_field(b"\x1a", topic.encode("utf-8")))
    parts.append(_field(b"\x22", source.encode("utf-8")))
    for key, value in tags:
        parts.append(_field(b"\x32", _field(b"\x0a", key.encode("utf-8"))
                            + _field(b"\x12", value.encode("utf-8"))))
    return b"".join(parts)
