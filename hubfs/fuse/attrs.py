"""Build pyfuse3 `EntryAttributes` for a node, with the kernel timeouts it deserves.

Immutable nodes get long entry and attribute timeouts (the kernel stops asking), mutable
ones about a second (DESIGN.md "The node model"), unless the backend set the node's own
`ttl`. A file whose size is not known yet
gets an attribute timeout of 0 so the kernel asks `getattr` (which renders) before any
`stat`, `tar` or `rsync` can use a size: the kernel treats 0 as "expired at once", never
as "valid for this tick".
"""

import os
import stat

import pyfuse3

IMMUTABLE_TIMEOUT = 3600.0
MUTABLE_TIMEOUT = 1.0
BLOCK_SIZE = 128 * 1024  # what FUSE reads per request; tools size their buffers on it
# The daemon's user and group own every node. Read once: two system calls for each
# entry's attributes were a third of the FUSE thread's system calls in a walk.
_OWNER = (os.getuid(), os.getgid())


def entry_attributes(number, node, size, writable=False, exact=True):
    """Attributes of inode *number* holding *node*; *size* None means "not known yet",
    and *exact* False a size that is only a lower bound (a file still rendering): both
    get an attribute timeout of 0."""
    attrs = pyfuse3.EntryAttributes()
    attrs.st_ino = number
    attrs.generation = 0
    if node.is_dir:
        attrs.st_mode = stat.S_IFDIR | (0o755 if writable else 0o555)
        attrs.st_nlink = 2
        attrs.st_size = 0
    else:
        attrs.st_mode = stat.S_IFREG | (0o644 if writable else 0o444)
        attrs.st_nlink = 1
        attrs.st_size = size or 0
    attrs.st_blocks = (attrs.st_size + 511) // 512
    attrs.st_blksize = BLOCK_SIZE
    attrs.st_uid = _OWNER[0]
    attrs.st_gid = _OWNER[1]
    mtime_ns = int(node.mtime * 1e9)
    attrs.st_mtime_ns = attrs.st_ctime_ns = attrs.st_atime_ns = mtime_ns
    timeout = node.ttl if node.ttl is not None else (IMMUTABLE_TIMEOUT if node.immutable
                                                     else MUTABLE_TIMEOUT)
    attrs.entry_timeout = timeout
    attrs.attr_timeout = timeout if (node.is_dir or (size is not None and exact)) else 0
    return attrs
