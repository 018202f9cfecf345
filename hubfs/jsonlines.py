"""JSON and JSON lines as every backend writes and reads them: one encoder, one parser.

Files that hold records (items, logs, drops, restores, appends) are JSON lines: one
compact JSON value per line in UTF-8 with a trailing newline (DESIGN.md "The node model":
deterministic rendering). Content a user writes into the mount is parsed here too, so
that every backend refuses bad input the same way: whatever the bytes (not UTF-8, not
JSON, NaN/Infinity, nesting deep enough to exhaust the interpreter's stack, a line with
no end), the parser raises `InvalidContent` with the line number, never `RecursionError`
or `UnicodeError`, which would escape as EIO and could crash a resend.
"""

import json

from hubfs.errors import InvalidContent

# One line longer than this is refused while reading it, so a file without newlines is
# never read into memory whole.
MAX_LINE_BYTES = 16 * 1024 * 1024

_compact_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


def _not_json(value):
    raise TypeError(f"a {type(value).__name__} value")


def _compact_encoder():
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`
    with the C encoder built once rather than per call (building it costs more than
    encoding a small record)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
    encoder = make(None, _not_json, json.encoder.encode_basestring, None, ":", ",",
                   False, False, False)
    join = "".join
    return lambda value: join(encoder(value, 0))


_compact = _compact_encoder()


def encode(value):
    """Compact JSON bytes of *value*, no newline (UTF-8; `\\uXXXX` escapes only when a
    lone surrogate cannot be written as UTF-8). Infinity cannot be written as JSON:
    `InvalidContent`."""
    try:
        return _compact(value).encode("utf-8")
    except UnicodeEncodeError:
        return _compact_ascii(value).encode("ascii")
    except ValueError:
        raise InvalidContent("a number is out of range (JSON has no infinity)") from None
    except RecursionError:
        raise InvalidContent("nested too deeply to encode") from None


def encode_line(value):
    """One JSON-lines line: `encode(value) + b"\\n"`."""
    return encode(value) + b"\n"


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


# Refuses the NaN/Infinity constants no service stores; built once (`json.loads` with an
# argument builds a decoder per call).
_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def parse(data, where=""):
    """The JSON value of *data* (bytes), or `InvalidContent` naming *where* and why."""
    prefix = f"{where}: " if where else ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidContent(f"{prefix}not UTF-8 text (byte {exc.start})") from None
    try:
        return _decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidContent(f"{prefix}not JSON: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from None
    except RecursionError:  # the C decoder recurses once per nesting level
        raise InvalidContent(f"{prefix}nested too deeply") from None
    except ValueError as exc:
        raise InvalidContent(f"{prefix}not JSON: {exc}") from None


def iter_lines(path, max_line=MAX_LINE_BYTES):
    """Yield `(line_number, value)` for each non-blank line of the file at *path*,
    streaming (a 1 GB restore is never held in memory). A bad line raises
    `InvalidContent("line N: ...")`."""
    with open(path, "rb") as source:
        number = 0
        while True:
            raw = source.readline(max_line)
            if not raw:
                return
            number += 1
            if len(raw) == max_line and not raw.endswith(b"\n"):
                raise InvalidContent(f"line {number}: longer than {max_line} bytes")
            if not raw.strip():
                continue
            yield number, parse(raw, f"line {number}")


def iter_objects(path, max_line=MAX_LINE_BYTES):
    """Like `iter_lines`, but every line must be a JSON object."""
    for number, value in iter_lines(path, max_line):
        if not isinstance(value, dict):
            raise InvalidContent(f"line {number}: not a JSON object (got {type_name(value)})")
        yield number, value


def parse_objects(data, where=""):
    """Every non-blank line of *data* (bytes) as a JSON object, in order."""
    objects = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        label = f"{where}: line {number}" if where else f"line {number}"
        value = parse(raw, label)
        if not isinstance(value, dict):
            raise InvalidContent(f"{label}: not a JSON object (got {type_name(value)})")
        objects.append(value)
    return objects


def type_name(value):
    """How a JSON value's type is named in messages ("an array", "null", ...)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
