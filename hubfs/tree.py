"""The node model every backend returns: directories and files, and what kind of file.

A backend presents its service as a tree of `Dir` and `File` nodes rooted at
`Remote.root()`. Nodes are plain synchronous objects that may block on the network: the
FUSE layer calls them from worker threads (so one slow request never stalls the mount),
and `hubfs ls`/`hubfs cat` call them directly. Listings are generators that yield child by
child as the service's pages arrive, so the first entries of a 100,000-entry directory
are served before its last page is fetched (DESIGN.md "The node model"; the design asked
for async iterators, generators driven from threads give the same streaming without
making backends async). Nodes raise only `hubfs.errors` classes.

Files come in three kinds:
- `SIZED`: the service reports the byte size; `read(offset, length)` serves ranges.
- `RENDERED`: bytes rendered from API records, size known only once rendered. When the
  node is immutable the core renders it once into the disk cache (keyed by `cache_key`)
  and reuses it across mounts; otherwise it is re-rendered when its attributes expire.
- `GROWING`: rendered content that is still being appended to (a running job). An `open`
  reads a snapshot; with `appendable` the core extends its previous snapshot by calling
  `render(after=cursor)` instead of rendering everything again.
"""

import enum


class Kind(enum.Enum):
    SIZED = "sized"
    RENDERED = "rendered"
    GROWING = "growing"


class Node:
    """Something with a name in the tree.

    *mtime* is seconds since the epoch as the service reports it (never "now", so that
    `rsync -a` and `tar` see stable times); *immutable* promises that the node itself will
    not change (for a directory: its list of names; for a file: its bytes), which earns
    long kernel timeouts and, for rendered files, disk caching. Each node decides for
    itself: a finished job's directory is immutable while its `meta.json` is not.
    """

    is_dir = False
    # Seconds for which this node's attributes (and, for a directory, its listing) may be
    # trusted without asking the service again; None leaves it to the core (long for
    # immutable nodes, about a second for attributes and a minute for listings otherwise).
    ttl = None

    def __init__(self, name, mtime=0.0, immutable=False):
        self.name = name
        self.mtime = mtime
        self.immutable = immutable

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"

    def delete(self):
        """Remove this node on the service (`rm`, `rmdir`). Raises `ReadOnly` unless the
        backend allows it; a directory that must be empty first raises `NotEmpty`."""
        from hubfs.errors import ReadOnly

        raise ReadOnly(f"{self.name!r} cannot be removed")


class Dir(Node):
    """A directory. Subclasses implement `children()` and, where the service can answer
    for one name, `child()`."""

    is_dir = True
    # True when `create()`/`mkdir()` accept new names here.
    writable = False
    # Set by `mkdir()` on a directory it already created on the service.
    made_on_service = False
    # True when `children()` never blocks (no I/O): the FUSE thread then lists it itself
    # instead of handing the listing to a worker thread and back.
    lists_locally = False
    # True when `create()` sends nothing and waits on nothing (it only makes the node):
    # the core then calls it on its own thread, sparing a worker-thread hop per new file.
    create_is_local = False

    def children(self):
        """Yield child nodes in a stable order, page by page. Raises `HubfsError`."""
        raise NotImplementedError

    def child(self, name):
        """Return the child called *name* or raise `NotFound`.

        The default walks the listing; backends override it where one request (or none,
        when the name cannot be valid) answers.
        """
        from hubfs.errors import NotFound

        for node in self.children():
            if node.name == name:
                return node
        raise NotFound(f"{name!r} not found")

    def create(self, name):
        """Return a new writable `File` called *name*, not yet sent to the service (its
        first `commit()` creates it). Raises `ReadOnly`, or `InvalidContent` for a name
        the service cannot hold."""
        from hubfs.errors import ReadOnly

        raise ReadOnly(f"cannot create {name!r} here")

    def mkdir(self, name):
        """Return a new `Dir` called *name*. By default it exists only locally until
        something is written in it; a backend that creates it on the service right away
        (a flow, a folder object) sets `made_on_service = True` on it, and the core then
        lists it from the service and removes it there. Raises `ReadOnly` or
        `InvalidContent`."""
        from hubfs.errors import ReadOnly

        raise ReadOnly(f"cannot make a directory {name!r} here")


class StaticDir(Dir):
    """A directory whose children are known up front (a remote's fixed sub-folders).
    A subclass whose `children()` does I/O must set `lists_locally = False`."""

    lists_locally = True

    def __init__(self, name, nodes, mtime=0.0, immutable=False):
        super().__init__(name, mtime, immutable)
        self._nodes = {node.name: node for node in nodes}

    def children(self):
        yield from self._nodes.values()

    def child(self, name):
        from hubfs.errors import NotFound

        try:
            return self._nodes[name]
        except KeyError:
            raise NotFound(f"{name!r} not found") from None


class File(Node):
    """A regular file. Set `kind` and implement the methods that kind needs."""

    kind = Kind.RENDERED
    # When True, `render(after=cursor)` continues exactly where the chunk that returned
    # *cursor* ended (append-only record streams).
    appendable = False
    # Writable files accept `open` for writing; what a write means is `commit()`'s call.
    writable = False
    # "replace": the spool holds the whole new content (an open without O_TRUNC starts
    # from the current content). "append": the spool holds only the bytes written after
    # the open, and `commit()` adds them (appending JSON lines = adding records).
    write_mode = "replace"
    # True when an empty file is content the service stores (an empty object): a file
    # created and closed without a byte written is then sent, at its last close. False
    # (collection values, append files): such a file stays a local name until written.
    empty_is_content = False
    # For an immutable RENDERED file that streams while it is read (`hubfs.fuse.content`):
    # "wait" makes every `stat` wait for the exact size; "partial" answers the `fstat` of
    # a process reading it with the size rendered so far (the remote's option of that
    # name, `hubfs.config.fstat_during_render`).
    fstat_during_render = "wait"
    # For SIZED files: the exact byte size, and a token naming this version of the bytes
    # (an ETag, a version id) or None. The core pins the version seen at `open` and passes
    # it to every `read` of that open, so one open never mixes two versions.
    size = None
    version = None

    def cache_key(self):
        """A string naming this content for the cross-mount disk cache, or None.

        Only immutable RENDERED files are cached across mounts; the key must change when
        the service, the resource or the rendering format changes.
        """
        return None

    def read(self, offset, length, version=None):
        """SIZED files: return exactly *length* bytes at *offset* (fewer only at the end of
        the file). *version* is the `version` seen at open: raise `Conflict` when the
        service no longer has it. A body that arrives short must raise, never return
        short: the core turns a short read into EIO, but cannot know the cause."""
        raise NotImplementedError

    def render(self, after=None):
        """RENDERED/GROWING files: yield `(chunk_bytes, cursor)` pairs in order.

        The concatenated chunks are the file. *cursor* is opaque to the core; for an
        `appendable` file, `render(after=cursor)` yields what follows that chunk. A
        failure must raise, never end the stream early: a short file would be a lie.
        """
        raise NotImplementedError

    def commit(self, path, progress):
        """Send the content spooled at *path* (see `write_mode`); blocking.

        Called when a writer closes or fsyncs the file, and again after a crash or a
        failure for what the journal still holds. Check the whole content first and raise
        `InvalidContent` (EINVAL) before sending anything when it is malformed or too
        large; raise other `HubfsError`s for failures of the service (the spool is kept
        and sent again later). *progress* is a `CommitProgress`: a commit that sends in
        steps the service cannot take twice (appended logs, drops, upload parts) records
        each acknowledged step with `progress.record(...)` and, when called again for the
        same journal entry, finds them in `progress.state` and sends only the rest.
        """
        from hubfs.errors import ReadOnly

        raise ReadOnly(f"{self.name!r} is read-only")

    def copy_from(self, source):
        """Make this (new) file a copy of *source*, a file of the same remote, on the
        service itself (a rename of content already sent). Return False when the service
        has no such copy; the core then copies the bytes through the mount."""
        return False


class CommitProgress:
    """What earlier attempts of one pending send got the service to acknowledge.

    *state* is a dict of JSON-able fields, `{}` on the first attempt. `record(**fields)`
    merges fields into it and writes them to the journal entry before it returns, so a
    daemon killed right after survives with them (the journal write is atomic).
    """

    def __init__(self, state=None, saver=None):
        self.state = dict(state or {})
        self._saver = saver

    def record(self, **fields):
        self.state.update(fields)
        if self._saver is not None:
            self._saver(dict(self.state))


class Remote:
    """One configured remote: a backend instance with its credentials and HTTP pool.

    Backends subclass this as `Remote` in their package. `check()` is called before
    mounting so that refused credentials fail the mount with a clear message.
    """

    def __init__(self, name, options):
        self.name = name
        self.options = options

    def check(self):
        """Make one cheap authenticated call; raise `AccessDenied` etc. on failure."""
        raise NotImplementedError

    def root(self):
        """Return the `Dir` presented at `<mountpoint>/<remote>/`."""
        raise NotImplementedError

    def close(self):
        """Release connections."""
