"""Checking content written into the mount before anything is sent to the service.

Every writable Scrapinghub file validates its whole spooled content first and raises
`InvalidContent` (EINVAL at `close`) with a reason fit for one log line, naming the line
number for line-based files, so that malformed content never reaches the service
half-sent. This module only parses and encodes: a collection value (one JSON object),
a line of a store's `.jl` file (`{"_key": ..., "value": {...}}`), a frontier request line
(`{"fp": ..., "qdata": {...}, "p": N}`) and a tags file. Records are encoded for the
wire as compact JSON in UTF-8 (`hubfs.jsonlines`, which also does the parsing), the form
whose size the service limits to 1 MiB.
"""

import os

from hubfs import jsonlines
from hubfs.errors import InvalidContent

# The service refuses a serialized value above this many bytes (protocol section 7).
MAX_RECORD_BYTES = 1024 * 1024
# A value file larger than this cannot hold a value under the limit, however much
# whitespace pads it: refuse it without reading it into memory.
MAX_VALUE_FILE = 16 * MAX_RECORD_BYTES
FRONTIER_FIELDS = frozenset(("fp", "qdata", "p"))

encode = jsonlines.encode


def parse_value(path):
    """The JSON object a collection value file holds (whitespace around it is fine)."""
    if os.path.getsize(path) > MAX_VALUE_FILE:
        raise InvalidContent(f"value larger than the service limit of {MAX_RECORD_BYTES} "
                             "bytes (1 MiB)")
    with open(path, "rb") as spool:
        value = jsonlines.parse(spool.read())
    if not isinstance(value, dict):
        raise InvalidContent(f"not a JSON object (a collection value is one object, "
                             f"got {jsonlines.type_name(value)})")
    if "_key" in value:
        raise InvalidContent("the value holds _key: the key is the file name, "
                             "remove the _key field")
    if "_ts" in value:
        # Listings ask for the write time, which the service adds as `_ts`, hiding a field
        # of that name: the value file would not read back as written. (A store's `.jl`
        # file asks for no `_ts`, so restoring such values through it is fine.)
        raise InvalidContent("the value holds _ts, the name of the service's write-time "
                             "field; rename that field (or write it through <store>.jl)")
    return value


def record_line(key, value):
    """The wire line `{..value.., "_key": key}` of a value; `InvalidContent` over 1 MiB."""
    record = dict(value)
    record["_key"] = key
    line = encode(record)
    if len(line) > MAX_RECORD_BYTES:
        raise InvalidContent(f"value too large: {len(line)} bytes serialized, the service "
                             f"limit is {MAX_RECORD_BYTES} bytes (1 MiB)")
    return line


def parse_lines(path):
    """Yield `(line_number, decoded JSON)` for each non-blank line of a spooled file,
    streaming; one gigantic line (a file without newlines) is refused, not read whole."""
    return jsonlines.iter_lines(path, MAX_VALUE_FILE)


def store_record(number, obj):
    """The `(key, wire line)` of one line of a store's `.jl` file; `InvalidContent`
    naming line *number* unless it is `{"_key": <non-empty string>, "value": {...}}`."""
    if not isinstance(obj, dict):
        raise InvalidContent(f"line {number}: not a JSON object")
    extra = set(obj) - {"_key", "value"}
    if extra:
        raise InvalidContent(f"line {number}: unexpected field {sorted(extra)[0]!r} "
                             '(a line is {"_key": ..., "value": {...}})')
    key = obj.get("_key")
    if not isinstance(key, str):
        raise InvalidContent(f"line {number}: _key must be a string")
    if key == "":
        raise InvalidContent(f"line {number}: the service refuses an empty _key")
    value = obj.get("value")
    if not isinstance(value, dict):
        raise InvalidContent(f"line {number}: value must be a JSON object")
    if "_key" in value:
        raise InvalidContent(f"line {number}: value holds _key")
    try:
        return key, record_line(key, value)
    except InvalidContent as exc:
        raise InvalidContent(f"line {number}: {exc}") from None


def frontier_request(number, obj):
    """The wire line of one appended frontier request; `InvalidContent` naming line
    *number* unless it is an object with a string `fp`, an optional `qdata` object (null
    means none) and an optional integer `p`, and nothing else."""
    if not isinstance(obj, dict):
        raise InvalidContent(f"line {number}: not a JSON object")
    extra = set(obj) - FRONTIER_FIELDS
    if extra:
        raise InvalidContent(f"line {number}: unexpected field {sorted(extra)[0]!r} "
                             "(fields are fp, qdata, p)")
    fp = obj.get("fp")
    if not isinstance(fp, str) or not fp:
        raise InvalidContent(f"line {number}: fp must be a non-empty string")
    request = {"fp": fp}
    qdata = obj.get("qdata")
    if qdata is not None:
        if not isinstance(qdata, dict):
            raise InvalidContent(f"line {number}: qdata must be a JSON object")
        request["qdata"] = qdata
    if "p" in obj:
        if type(obj["p"]) is not int:
            raise InvalidContent(f"line {number}: p must be an integer")
        request["p"] = obj["p"]
    line = encode(request)
    if len(line) > MAX_RECORD_BYTES:
        raise InvalidContent(f"line {number}: request larger than {MAX_RECORD_BYTES} bytes")
    return line


def parse_tags(path):
    """The tags of a tags file, in file order without repeats: one tag per line,
    surrounding whitespace stripped, blank lines ignored (spaces inside a tag are kept)."""
    if os.path.getsize(path) > MAX_VALUE_FILE:
        raise InvalidContent("tags file too large")
    with open(path, "rb") as spool:
        data = spool.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidContent(f"not UTF-8 text (byte {exc.start})") from None
    tags = [line.strip() for line in text.split("\n")]
    return list(dict.fromkeys(tag for tag in tags if tag))
