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

from hubfs import jsonlines
from hubfs.errors import InvalidContent

SERVER_FIELDS = frozenset(("id", "flowId", "path", "creationDate", "lastEditDate",
                           "creatorId", "lastEditorId", "version"))
DROP_FIELDS = ("elems", "location", "fhash", "parentDropId")


def encode_page(drops):
    """A page of drops as drops.jl lines."""
    return b"".join(jsonlines.encode_line(drop) for drop in drops)


def drop_body(number, obj):
    """The request body for appended line *number* (a JSON object)."""
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
    return [drop_body(number, obj) for number, obj in jsonlines.iter_objects(path)]
