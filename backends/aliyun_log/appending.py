"""Lines appended to `append.jl` as LogGroups for PutLogs: checked first, then batched.

Each non-blank line must be a JSON object; it becomes one log. The hour files' own
fields are understood, so that lines read from an hour file append back as the same
logs: `__time__` (unix seconds, an integer or a string of digits; default: the time the
line was written, taken from the spool file) and `__time_ns_part__` set the log's time,
`__topic__`, `__source__` and `__tag__:<key>` set the LogGroup's topic, source and tags
(consecutive lines that agree on them share a group). Every other key is a content; a
string value is sent as is, any other JSON value as its compact JSON text (SLS values
are strings). Limits are checked before anything is sent, with the line number: keys
must be non-empty, a value at most 1 MiB. Batches hold at most `MAX_LOGS` logs and
`MAX_BYTES` bytes of serialized LogGroup, within both the current (10 MB) and older
(3 MB / 4096 logs) published limits of one PutLogs request.
"""

from __future__ import annotations

import os

import lz4.block

from hubfs import jsonlines
from hubfs.errors import InvalidContent

from .wire import text as pb

MAX_LOGS = 4096
MAX_BYTES = 3 * 1024 * 1024
MAX_VALUE = 1024 * 1024
# A longer line could not fit one 10 MB request once serialized.
MAX_LINE = 8 * 1024 * 1024
_RESERVED = ("__time__", "__time_ns_part__", "__topic__", "__source__")



def _value(value):
    if isinstance(value, str):
        return value
    try:
        return jsonlines.encode(value).decode("utf-8")
    except InvalidContent as exc:
        raise ValueError(str(exc)) from None


def _time(value, name, low, high):
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return value


def parse(path):
    """The logs of a spooled `append.jl`: a list of `((topic, source, tags), time,
    time_ns, contents)`; `InvalidContent` naming the first bad line, nothing parsed."""
    default_time = int(os.stat(path).st_mtime)
    logs = []
    for number, obj in jsonlines.iter_objects(path, MAX_LINE):
        try:
            logs.append(_log(obj, default_time))
        except ValueError as exc:
            raise InvalidContent(f"line {number}: {exc}") from None
    return logs


def _log(obj, default_time):
    when = _time(obj.get("__time__", default_time), "__time__", 0, 0xFFFFFFFF)
    ns = _time(obj.get("__time_ns_part__", 0), "__time_ns_part__", 0, 999_999_999)
    topic = obj.get("__topic__", "")
    source = obj.get("__source__", "")
    if not isinstance(topic, str) or not isinstance(source, str):
        raise ValueError("__topic__ and __source__ must be strings")
    tags, contents = [], []
    for key, value in obj.items():
        if key in _RESERVED:
            continue
        if key.startswith("__tag__:"):
            if not isinstance(value, str):
                raise ValueError(f"tag {key!r} must be a string")
            tags.append((key[len("__tag__:"):], value))
            continue
        if not key:
            raise ValueError("a key is empty (the service refuses empty keys)")
        text = _value(value)
        if len(text.encode("utf-8")) > MAX_VALUE:
            raise ValueError(f"the value of {key!r} is larger than {MAX_VALUE} bytes (1 MiB)")
        contents.append((key, text))
    return (topic, source, tuple(tags)), when, ns, contents


def batches(logs):
    """Yield `(serialized LogGroup, its lz4 raw block, log count)` per PutLogs request."""
    group, size, head = None, 0, None
    for head_of_log, when, ns, contents in logs:
        entry = pb.Log(Time=when)
        for key, value in contents:
            entry.Contents.add(Key=key, Value=value)
        if ns:
            entry.Time_ns = ns
        entry_size = entry.ByteSize() + 6
        if group is not None and (head_of_log != head or len(group.Logs) >= MAX_LOGS
                                  or size + entry_size > MAX_BYTES):
            yield _finish(group)
            group = None
        if group is None:
            head = head_of_log
            topic, source, tags = head
            group = pb.LogGroup(Topic=topic, Source=source)
            for key, value in tags:
                group.LogTags.add(Key=key, Value=value)
            size = group.ByteSize()
        group.Logs.append(entry)
        size += entry_size
    if group is not None:
        yield _finish(group)


def _finish(group):
    raw = group.SerializeToString()
    return raw, lz4.block.compress(raw, store_size=False), len(group.Logs)
