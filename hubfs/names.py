"""The mount's one reversible escaping of service names into file names (DESIGN.md
"Directory layouts"): collection keys, frontier and slot names, object keys, flow names.

Service names may hold any character, while a file name cannot contain `/` or NUL, cannot be
empty, `.` or `..`, and is at most 255 bytes. The rule escapes only what must be
escaped, so that `ls` shows ordinary keys as they are: `%` is written `%25`, `/` is
written `%2F` and NUL `%00` (uppercase hex, nothing else is escaped); a key that is
exactly `.` or `..` is written `%2E` or `%2E%2E`; the empty key is written `%%` (no
other key can give that name, since every `%` an escape writes is followed by two hex
digits). `unescape()` is the exact inverse and accepts only names `escape()` can
produce: a lone `%`, lowercase `%2f`, or any other `%XX` is refused, so every file name
stands for exactly one service name and `ls` shows the name that was created. A key whose name
would exceed 255 bytes (UTF-8; keys decoded from non-UTF-8 file names use the
surrogateescape convention of `os.fsencode`) has no file name: `file_name()` gives None
and listings leave it out (it stays reachable through the store's `.jl` file).
"""

import os

from hubfs.errors import InvalidContent

NAME_MAX = 255
EMPTY = "%%"
_ESCAPES = {"%25": "%", "%2F": "/", "%00": "\0"}
_SPECIAL = {"": EMPTY, ".": "%2E", "..": "%2E%2E"}
_SPECIAL_NAMES = {name: key for key, name in _SPECIAL.items()}


def escape(key):
    """The file name for *key* (not yet checked against the length limit)."""
    special = _SPECIAL.get(key)
    if special is not None:
        return special
    if "%" in key:
        key = key.replace("%", "%25")
    if "/" in key:
        key = key.replace("/", "%2F")
    if "\0" in key:
        key = key.replace("\0", "%00")
    return key


def unescape(name):
    """The key a file name stands for; `InvalidContent` when `escape()` cannot give it."""
    special = _SPECIAL_NAMES.get(name)
    if special is not None:
        return special
    if "%" not in name:
        return name
    parts = name.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        char = _ESCAPES.get("%" + part[:2])
        if char is None:
            raise InvalidContent(
                f"{name!r} is not a valid escaped name: write % as %25, / as %2F, "
                "NUL as %00 (uppercase), a key '.' or '..' as %2E or %2E%2E")
        out.append(char)
        out.append(part[2:])
    return "".join(out)


def file_name(key, suffix=""):
    """The escaped name of *key* plus *suffix*, or None when no file name can hold it."""
    name = escape(key) + suffix
    try:
        size = len(os.fsencode(name))
    except UnicodeError:  # a lone surrogate that surrogateescape cannot carry
        return None
    return name if size <= NAME_MAX else None
