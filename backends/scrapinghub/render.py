"""Deterministic rendering of Scrapinghub job records to file bytes.

`items.jl`, `logs.jl`, `requests.jl` and `samples.jl` hold one record per line, exactly
`json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\\n"` in UTF-8, keys in
the order the service sent them (samples are JSON arrays, rendered the same way); a record
holding a lone surrogate (valid JSON, not encodable as UTF-8) is written with `\\uXXXX`
escapes instead. `log.txt` holds one human line per log record,
`YYYY-MM-DD HH:MM:SS.mmm LEVELNAME message`, time in UTC, level 10/20/30/40/50 as
DEBUG/INFO/WARNING/ERROR/CRITICAL and any other level as its number; a newline or
carriage return inside a message is written as the two characters `\\n` or `\\r`, so one
record is always exactly one line (`wc -l` counts records, `grep` finds whole records).
Backslashes are not escaped, so that rewriting is for reading, not reversible. A message
that is not a string is written as compact JSON; a missing time is written as `-`.
`meta.json` is the job metadata with sorted keys and two-space indentation. Any change to
these rules must bump `FORMAT_VERSION`, which is part of the disk cache key.
"""

import json
import json.encoder
import time

FORMAT_VERSION = "v1"


class RenderError(ValueError):
    """A record that cannot be rendered; the caller adds which file it belongs to."""


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _not_json(value):
    raise TypeError(f"a {type(value).__name__} value")


def _record_encoder():
    """A per-record encoder giving exactly `_encode`'s output, faster.

    `JSONEncoder.encode` builds a new C encoder for every call, which costs more than
    encoding a typical item; building the C encoder once (same arguments as the stdlib
    uses for `_encode`) halves the rendering time. Decoded records cannot be circular, so
    the circular-reference check (`markers`) is off. Without the C accelerator, `_encode`.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _encode
    encoder = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",",
                   False, False, True)
    join = "".join
    return lambda record: join(encoder(record, 0))


_encode_record = _record_encoder()
_encode_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode
_encode_meta = json.JSONEncoder(ensure_ascii=False, indent=2, sort_keys=True).encode

LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


def json_lines(records):
    """Render a page of records as JSON Lines bytes (one chunk per page)."""
    if not records:
        return b""
    # The service adds `_key` only when asked (we never ask); drop it if it comes anyway,
    # as the official client does, so the file holds the record as written.
    for record in records:
        if type(record) is dict and "_key" in record:
            del record["_key"]
    try:
        text = "\n".join(map(_encode_record, records))
    except (TypeError, ValueError) as exc:  # msgpack may carry bytes, which JSON cannot
        raise RenderError(f"a record cannot be written as JSON: {exc}") from None
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return _json_lines_slow(records)


def _json_lines_slow(records):
    lines = []
    for record in records:
        line = _encode_record(record)
        try:
            lines.append(line.encode("utf-8"))
        except UnicodeEncodeError:
            lines.append(_encode_ascii(record).encode("ascii"))
    return b"\n".join(lines) + b"\n"


def log_lines(records):
    """Render a page of log records as `log.txt` lines."""
    if not records:
        return b""
    out = []
    last_second = None
    stamp = ""
    for record in records:
        ms = record.get("time")
        if isinstance(ms, (int, float)) and not isinstance(ms, bool):
            ms = int(ms)
            second = ms // 1000
            if second != last_second:  # records come in bursts: format each second once
                stamp = _utc_second(second)
                last_second = second
            when = f"{stamp}.{ms % 1000:03d}" if stamp else "-"
        else:
            when = "-"
        level = record.get("level")
        name = LEVELS.get(level) if type(level) is int else None
        if name is None:
            name = "-" if level is None else str(level)
        message = record.get("message", "")
        if not isinstance(message, str):
            message = _encode(message)
        if "\n" in message or "\r" in message:
            message = message.replace("\n", "\\n").replace("\r", "\\r")
        out.append(f"{when} {name} {message}")
    text = "\n".join(out) + "\n"
    return text.encode("utf-8", "backslashreplace")


def _utc_second(second):
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
    except (OverflowError, OSError, ValueError):  # a time no calendar can show
        return ""


def meta_json(meta):
    """Render job metadata as `meta.json` bytes."""
    text = _encode_meta(meta) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("ascii")
