"""Where a file node's bytes come from outside FUSE: the disk cache or a fresh snapshot.

The blocking counterpart of `hubfs.fuse.content` for callers without an event loop
(`hubfs cat`/`hubfs cp`, the fsspec filesystem): an immutable RENDERED file with a
`cache_key()` is rendered once into the shared `ContentCache` (a mount using the same
cache directory then serves it without rendering, and the other way round); any other
rendered file is rendered into a private snapshot; SIZED files are read by range from
the node. Renders count cache hits and misses and run as a `hubfs.stats` activity, so
they show in `hubfs status` and log progress when slow.
"""

import dataclasses
import os

from hubfs import errors, stats
from hubfs.tree import Kind


@dataclasses.dataclass
class Rendered:
    """A file's bytes: *path* None means SIZED (read from the node by range)."""

    path: str | None
    size: int
    private: bool = False  # a snapshot: the caller removes it once opened or done


def content_of(cache, node, remote, where):
    """Make *node*'s bytes available and say where they are (blocking; may render)."""
    if node.kind is Kind.SIZED:
        return Rendered(None, node.size)
    key = node.cache_key() if node.immutable and node.kind is Kind.RENDERED else None
    if key:
        hit = cache.lookup(key)
        if hit is not None:
            stats.count(remote, "cache_hits")
            return Rendered(*hit)
        stats.count(remote, "cache_misses")
        with stats.activity("render", remote, where):
            return Rendered(*cache.store(key, counted(node.render())))
    path = cache.new_snapshot()
    try:
        with stats.activity("render", remote, where), open(path, "wb") as out:
            for chunk, _cursor in counted(node.render()):
                out.write(chunk)
            size = out.tell()
    except BaseException:
        os.unlink(path)
        raise
    return Rendered(path, size, private=True)


def counted(chunks):
    """*chunks* of a render, each reported to this thread's `hubfs.stats` activity."""
    for chunk, cursor in chunks:
        stats.report(nbytes=len(chunk))
        yield chunk, cursor


def read_exact(node, offset, length, version=None):
    """*length* bytes of a SIZED node at *offset* (fewer only past its size), of the
    *version* pinned at open: a short answer from the service before the end is an
    error, never a short read."""
    length = max(0, min(length, node.size - offset))
    parts = []
    while length > 0:
        data = node.read(offset, length, version)
        if not data:
            raise errors.Transient(f"{node.name}: the service returned no data at offset "
                                   f"{offset} of {node.size}")
        parts.append(data)
        offset += len(data)
        length -= len(data)
    return b"".join(parts)
