"""A project's collections as files: `collections/<store>/<key>` and `collections/<store>.jl`.

```
<project>/collections/<name>/<key>      value of <key> in store `s` <name>
<project>/collections/<name>.vs/<key>   ... in the `vs` store <name> (also .cs, .vcs)
<project>/collections/<name>.jl         the whole store: {"_key": ..., "value": ...} per line
<project>/collections/<name>.cs.jl      ... of the `cs` store (also .vs.jl, .vcs.jl)
```
Store names match `^\\w+$`, so the type suffix after the dot is unambiguous; `s` stores
carry none. A value file holds the key's value (the record without `_key`) as
`json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\\n"`, so
`cat x > y` round-trips. Key names are escaped as `hubfs/names.py` describes; keys without a
file name (over 255 bytes escaped) are left out of listings with one warning and stay
reachable through the `.jl` file. Listing a store reads it a page at a time with the
values, so the value files come with their bytes and exact size (no request per key for
`ls -l`, `cat`, `rsync`, `tar`); their mtime is the record's `_ts` (the service's write
time, which it adds as a field called `_ts`: a value written by another client with a
top-level `_ts` field of its own shows the write time there). Writing a value sets the
key (its content must be one JSON object without `_key` or `_ts`, at most 1 MiB as the
serialized record), `rm`
deletes it, writing the `.jl` file sets every key it lists (`restore.py`) without
deleting others. A new store (`mkdir collections/foo`, `foo.vs`, ...) exists only locally
until its first key is written: the service creates stores on first write. `rmdir` of a
store refuses while it holds keys and otherwise succeeds without a request.
"""

import logging
import re

from hubfs.errors import InvalidContent, NotEmpty, NotFound, Unsupported
from hubfs.tree import Dir, File, Kind

from hubfs import names

from . import restore, validation

log = logging.getLogger(__name__)

NAME = re.compile(r"\w+")
SUFFIX_TYPES = ("cs", "vs", "vcs")  # type `s` has no suffix
JL = ".jl"


def parse_store_name(name):
    """`(type, store, is_jl)` for an entry name of `collections/`, or None."""
    is_jl = name.endswith(JL)
    if is_jl:
        name = name[:-len(JL)]
    base, dot, suffix = name.rpartition(".")
    if dot:
        if suffix not in SUFFIX_TYPES:
            return None
        type_, name = suffix, base
    else:
        type_ = "s"
    if not NAME.fullmatch(name):
        return None
    return type_, name, is_jl


def store_entry(type_, name):
    """The directory name of store (*type_*, *name*)."""
    return name if type_ == "s" else f"{name}.{type_}"


def _mtime(record, default):
    ts = record.get("_ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return ts / 1000.0
    return default


class CollectionsDir(Dir):
    NAME = "collections"
    writable = True

    def __init__(self, site, project):
        super().__init__(self.NAME, site.started)
        self.site = site
        self.project = project

    def _store(self, type_, name, is_jl):
        if is_jl:
            return StoreFile(self.site, self.project, type_, name)
        return StoreDir(self.site, self.project, type_, name)

    def children(self):
        for type_, name in self.site.collections.list_stores(self.project):
            if NAME.fullmatch(name):  # anything else could not be told apart by suffix
                yield StoreDir(self.site, self.project, type_, name)
                yield StoreFile(self.site, self.project, type_, name)

    def child(self, name):
        parsed = parse_store_name(name)
        if parsed is None or (parsed[0], parsed[1]) not in \
                self.site.collections.list_stores(self.project):
            raise NotFound(f"{self.site.name}: no collection {name!r} in project {self.project}")
        return self._store(*parsed)

    def _parse_new(self, name, want_jl):
        parsed = parse_store_name(name)
        if parsed is None:
            raise InvalidContent(f"{name!r} is not a store name: a name of letters, digits "
                                 "and _ with an optional .cs, .vs or .vcs type suffix"
                                 + (" and .jl" if want_jl else ""))
        if want_jl and not parsed[2]:
            raise InvalidContent(f"{name!r}: stores are directories (mkdir it); their "
                                 ".jl files are the only files here")
        if parsed[2] and not want_jl:
            raise InvalidContent(f"{name!r} ends in .jl: that is a file (the whole store), "
                                 "not a directory")
        return parsed

    def mkdir(self, name):
        return self._store(*self._parse_new(name, want_jl=False))

    def create(self, name):
        return self._store(*self._parse_new(name, want_jl=True))


class StoreDir(Dir):
    """One store's keys as value files."""

    writable = True

    def __init__(self, site, project, type_, name):
        super().__init__(store_entry(type_, name), site.started)
        self.site = site
        self.project = project
        self.type = type_
        self.store = name

    @property
    def where(self):
        return f"{self.site.name}: collections/{self.project}/{self.name}"

    def children(self):
        api = self.site.collections
        for page in api.pages(self.project, self.type, self.store, meta=("_key", "_ts")):
            for record in page:
                node = self._value(record)
                if node is not None:
                    yield node

    def _split(self, record):
        """`(key, value, mtime)` of a scanned record (meta fields taken out)."""
        key = record.pop("_key")
        mtime = _mtime(record, self.site.started)
        record.pop("_ts", None)
        return key, record, mtime

    def _value(self, record):
        key, value, mtime = self._split(record)
        name = names.file_name(key)
        if name is None:
            log.warning("%s: a key of %d characters has no file name (over %d bytes "
                        "escaped); it is left out of the listing, read it in %s.jl",
                        self.where, len(key), names.NAME_MAX, self.name)
            return None
        return ValueFile(self, name, key, value, mtime)

    def child(self, name):
        try:
            key = names.unescape(name)
        except InvalidContent:
            raise NotFound(f"{self.where}: no key for the name {name!r}") from None
        record = self.site.collections.lookup(self.project, self.type, self.store, key,
                                              meta=("_key", "_ts"))
        if record is None:
            raise NotFound(f"{self.where}: no key {key!r}")
        key, value, mtime = self._split(record)
        return ValueFile(self, name, key, value, mtime)

    def create(self, name):
        key = names.unescape(name)
        if key == "":
            raise InvalidContent("the service refuses an empty key")
        return ValueFile(self, name, key, None, self.site.started)

    def mkdir(self, name):
        raise Unsupported(f"{self.where}: a store holds keys, not directories "
                          "(a / in a key is written %2F)")

    def delete(self):
        if self.site.collections.has_keys(self.project, self.type, self.store):
            raise NotEmpty(f"{self.where}: the store still holds keys")


class ValueFile(File):
    """One key's value; SIZED, its bytes held from the listing or lookup."""

    kind = Kind.SIZED
    writable = True
    write_mode = "replace"

    def __init__(self, store, name, key, value, mtime):
        super().__init__(name, mtime, immutable=False)
        self.store = store
        self.key = key
        self._set(value)

    def _set(self, value):
        # A new key (not yet written) is an empty file, as after `touch`.
        self.data = b"" if value is None else validation.encode(value) + b"\n"
        self.size = len(self.data)

    def read(self, offset, length, version=None):
        return self.data[offset:offset + length]

    def commit(self, path, progress):
        value = validation.parse_value(path)
        line = validation.record_line(self.key, value)
        store = self.store
        store.site.collections.set_lines(store.project, store.type, store.store, [line])
        self._set(value)

    def delete(self):
        store = self.store
        store.site.collections.delete_keys(store.project, store.type, store.store,
                                           [validation.encode(self.key)])


class StoreFile(File):
    """`<store>.jl`: every record of the store, re-read when its attributes expire."""

    kind = Kind.RENDERED
    writable = True
    write_mode = "replace"

    def __init__(self, site, project, type_, name):
        super().__init__(store_entry(type_, name) + JL, site.started, immutable=False)
        self.site = site
        self.project = project
        self.type = type_
        self.store = name

    def render(self, after=None):
        cursor = None
        for page in self.site.collections.pages(self.project, self.type, self.store):
            lines = []
            for record in page:
                cursor = record.pop("_key")
                lines.append(validation.encode({"_key": cursor, "value": record}))
            yield b"\n".join(lines) + b"\n", cursor
        if cursor is None:
            yield b"", None

    def commit(self, path, progress):
        restore.restore(self.site.collections, self.project, self.type, self.store, path,
                        progress=progress)

    def delete(self):
        raise Unsupported(f"{self.site.name}: collections/{self.project}/{self.name} is the "
                          "whole store: remove its keys in the store directory instead")
