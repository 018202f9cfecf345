"""Pull bodies to hour-file bytes: decompress a `LogGroupList`, write one JSON line per log.

The line format is the service's export convention as the official SDK flattens a pull
(`PullLogResponse.get_flatten_logs_json`): `__time__` (int), `__topic__`, `__source__`,
`__time_ns_part__` (int, only when non-zero), one `__tag__:<key>` per LogGroup tag, then
the log's own contents in their order; a later key of the same name replaces the value
in place, as the SDK's dict does. Lines are compact JSON, UTF-8 (`ensure_ascii=False`),
each ending in `\\n`, so the same logs always give the same bytes. Values that are not
UTF-8 are decoded with U+FFFD replacements.

This is the hot path of reading a mount (a million logs an hour). `render_list()` uses
the C renderer `_jsonlines.c` (built by `pip install`), which parses the wire format
itself and writes the same bytes without holding the interpreter lock, so renders in
plain threads use every core (about 0.4 CPU-s per million logs against 4.6-5 for the
Python one). `render_list_python()` is the reference it is tested against byte for
byte, the fallback for bodies the C one declines (corrupt, truncated or unusual wire
encodings: it then decides between output and `BadBody`), and the renderer when the
extension is missing (`NATIVE` is None; tests/unit asserts it is built). It parses with
upb; each LogGroup's shared part (topic, source, tags) is encoded once; content keys are
JSON-encoded once per distinct key; and the in-place replacement rule is checked once
per distinct tuple of keys, not per log.
"""

from __future__ import annotations

import zlib
from json.encoder import encode_basestring

import lz4.block

from hubfs.errors import ServiceError

from .wire import raw as pb_raw, text as pb_text

try:
    from . import _jsonlines as NATIVE
except ImportError:  # not built (a source tree without `pip install -e .`)
    NATIVE = None

# Bumped whenever the bytes of a rendered hour could change: it is part of cache keys.
FORMAT_VERSION = "2"  # 2: topics, sources and tags that are not UTF-8 get U+FFFD, not a repr
_RESERVED = ("__time__", "__topic__", "__source__", "__time_ns_part__")


class BadBody(ServiceError):
    """A pull body that cannot be decoded (corrupt, truncated, or not what the headers said)."""


def decompress(body: bytes, compress_type: str, raw_size: int) -> bytes:
    """The raw `LogGroupList` of a pull body; `BadBody` when it does not decompress to
    exactly *raw_size* bytes (a cut or corrupt body must never render short)."""
    kind = (compress_type or "").strip().lower()
    try:
        if kind == "lz4":
            raw = lz4.block.decompress(body, uncompressed_size=raw_size)
        elif kind in ("deflate", "gzip"):
            raw = zlib.decompress(body)
        elif kind == "":
            raw = body
        else:
            raise BadBody(f"unknown x-log-compresstype {compress_type!r}")
    except (lz4.block.LZ4BlockError, zlib.error) as exc:
        raise BadBody(f"the {kind} body does not decompress ({exc})") from None
    if len(raw) != raw_size:
        raise BadBody(f"the body decompresses to {len(raw)} bytes, x-log-bodyrawsize "
                      f"says {raw_size}")
    return raw


def render_body(body: bytes, compress_type: str, raw_size: int, groups: int) -> bytes:
    """Decompress and render one pull body; *groups* is x-log-count, checked."""
    if raw_size == 0:
        if groups:
            raise BadBody(f"x-log-count is {groups} but the body is empty")
        return b""
    return render_list(decompress(body, compress_type, raw_size), groups)


def render_list(raw: bytes, groups: int | None = None) -> bytes:
    """The JSON lines of a serialized `LogGroupList`; *groups* (x-log-count) is checked."""
    if NATIVE is not None:
        done = NATIVE.render(raw)
        if done is not None:
            lines, count = done
            if groups is not None and count != groups:
                raise BadBody(f"x-log-count is {groups} but the body holds {count} LogGroups")
            return lines
    return render_list_python(raw, groups)


def render_list_python(raw: bytes, groups: int | None = None) -> bytes:
    """The JSON lines of a serialized `LogGroupList`, in Python (the reference)."""
    try:
        parsed = pb_text.LogGroupList.FromString(raw)
        lines = _render(parsed.LogGroups, str)
    except Exception as first:  # upb's DecodeError, or TypeError from bytes values
        # Not UTF-8 somewhere (upb then hands back bytes, or refuses): the raw twin
        # parses every string as bytes and the renderer decodes with replacements.
        try:
            parsed = pb_raw.LogGroupList.FromString(raw)
        except Exception:
            raise BadBody(f"the body is not a LogGroupList ({first})") from None
        lines = _render(parsed.LogGroups, _text)
    if groups is not None and len(parsed.LogGroups) != groups:
        raise BadBody(f"x-log-count is {groups} but the body holds {len(parsed.LogGroups)} "
                      "LogGroups")
    return lines


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _str(value) -> str:
    """A text-schema string as is; upb hands back bytes for one that is not UTF-8, and
    raising then sends the whole list to the raw schema (`str()` would write its repr)."""
    if type(value) is not str:
        raise TypeError("not UTF-8")
    return value


def _render(log_groups, text) -> bytes:
    """Render parsed LogGroups; *text* is `str` for the text schema (values already
    str: the loop then skips the conversion calls) or `_text` for the raw one."""
    enc = encode_basestring  # json.dumps(..., ensure_ascii=False)'s string encoder, in C
    convert = text is not str
    if not convert:
        text = _str  # per LogGroup only; contents skip the call (enc() refuses bytes)
    key_json = {}  # content key -> ',"key":'
    out = []
    append = out.append
    for group in log_groups:
        tags = [(text(tag.Key), text(tag.Value)) for tag in group.LogTags]
        topic, source = text(group.Topic), text(group.Source)
        shared = ',"__topic__":' + enc(topic) + ',"__source__":' + enc(source)
        tag_json = "".join("," + enc("__tag__:" + k) + ":" + enc(v) for k, v in tags)
        fixed = set(_RESERVED).union("__tag__:" + k for k, _ in tags)
        tags_unique = len(fixed) == len(_RESERVED) + len(tags)
        plain_keys = {}  # tuple of content keys -> no key repeats or shadows a fixed one
        for log in group.Logs:
            ns = log.Time_ns
            parts = ['{"__time__":', str(log.Time), shared]
            if ns:
                parts.append(',"__time_ns_part__":' + str(ns))
            parts.append(tag_json)
            keys = []
            for content in log.Contents:
                key = content.Key
                value = content.Value
                if convert:
                    key, value = text(key), text(value)
                keys.append(key)
                prefix = key_json.get(key)
                if prefix is None:
                    prefix = key_json[key] = "," + enc(key) + ":"
                parts.append(prefix)
                parts.append(enc(value))
            keys = tuple(keys)
            plain = plain_keys.get(keys)
            if plain is None:
                plain = plain_keys[keys] = (tags_unique and len(set(keys)) == len(keys)
                                            and fixed.isdisjoint(keys))
            if plain:
                parts.append("}\n")
                append("".join(parts))
            else:
                append(_slow_line(log, topic, source, tags, text))
    return "".join(out).encode("utf-8")


def _slow_line(log, topic, source, tags, text) -> str:
    """One log with repeated or shadowing keys, by the SDK's dict rules."""
    import json

    item = {"__time__": log.Time, "__topic__": topic, "__source__": source}
    if log.Time_ns:
        item["__time_ns_part__"] = log.Time_ns
    for key, value in tags:
        item["__tag__:" + key] = value
    for content in log.Contents:
        item[text(content.Key)] = text(content.Value)
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
