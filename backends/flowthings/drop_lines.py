"""drops.jl lines: how a drop is written as a line, and what an appended line means.

A drop is shown as one line of compact JSON (UTF-8, the service's key order, elements as
plain JSON values), oldest drop first. An appended line is one JSON object: when it has
an `elems` member that is an object, the line is a whole drop (`elems` plus optional
`location`, `fhash`, `parentDropId`; the server's own fields `id`, `flowId`, `path`,
`creationDate`, `lastEditDate`, `creatorId`, `lastEditorId`, `version` are ignored, so a
line copied from another flow's drops.jl appends as is); otherwise the whole object is the
new drop's elements (`echo '{"temp": 21}' >> drops.jl`). Every line is checked before
anything is sent; a bad one fails the whole append with `InvalidContent` naming its line.
"""

import json

from hubfs.errors import InvalidContent

SERVER_FIELDS = frozenset(("id", "flowId", "path", "creationDate", "lastEditDate",
                           "creatorId", "lastEditorId", "version"))
DROP_FIELDS = ("elems", "location", "fhash", "parentDropId")
# No line of a sane drop comes near this; a file without newlines is refused, not read.
MAX_LINE = 16 * 1024 * 1024

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_compact_ascii = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


_loads = json.JSONDecoder(parse_constant=_no_constant).decode


def encode_line(value):
    """One compact JSON line (`\\uXXXX` only where a lone surrogate cannot be UTF-8)."""
    try:
        return _compact(value).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return _compact_ascii(value).encode("ascii") + b"\n"


def encode_page(drops):
    return b"".join(encode_line(drop) for drop in drops)


def drop_body(number, obj):
    """The request body for appended line *number* (decoded to *obj*)."""
    if not isinstance(obj, dict):
        raise InvalidContent(f"line {number}: not a JSON object")
    if not isinstance(obj.get("elems"), dict):
        return {"elems": obj}
    body = {}
    for key, value in obj.items():
        if key in SERVER_FIELDS:
            continue
        if key not in DROP_FIELDS:
            raise InvalidContent(f"line {number}: unexpected drop field {key!r} (a drop "
                                 "line holds elems, location, fhash, parentDropId)")
        body[key] = value
    return body


def parse_appended(path):
    """The request bodies of every appended line in the spool file at *path*."""
    bodies = []
    with open(path, "rb") as spool:
        number = 0
        while True:
            raw = spool.readline(MAX_LINE)
            if not raw:
                return bodies
            number += 1
            if len(raw) == MAX_LINE and not raw.endswith(b"\n"):
                raise InvalidContent(f"line {number}: longer than {MAX_LINE} bytes")
            if not raw.strip():
                continue
            try:
                obj = _loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidContent(f"line {number}: not UTF-8 text (byte {exc.start})") from None
            except json.JSONDecodeError as exc:
                raise InvalidContent(f"line {number}: not JSON: {exc.msg} at column {exc.colno}") from None
            except (ValueError, RecursionError) as exc:
                raise InvalidContent(f"line {number}: not JSON: {exc}") from None
            bodies.append(drop_body(number, obj))
