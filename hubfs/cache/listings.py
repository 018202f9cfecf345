"""Metadata cache with time-to-live: what each directory is known to contain.

The kernel caches attributes and names for the timeouts we hand it; this cache spares
the service the repeated requests that arrive once those expire (an `ls -l` after an
`ls`, a `find` that revisits a directory). Each directory has one entry: the children
known by name (from single lookups or a listing) and whether a complete listing is among
them, in which case a name missing from it does not exist. Keeping a directory's names
together is what keeps the cache truthful under pressure: eviction drops a directory's
entry whole, so a complete listing can never outlive some of its children (which made
`find` skip existing names once more than the cache's bound had been walked).

How long an entry lives is the directory node's `ttl` when the backend sets one,
otherwise `IMMUTABLE_TTL` for immutable directories (a finished job) and `LISTING_TTL`
for the rest. The cache is a bounded LRU (cachetools `TLRUCache`, per-entry expiry)
whose bound counts names, so a walk over millions of names cannot grow the daemon
without limit. Keys are inode numbers, which are never reused within a mount.
"""

import time

from cachetools import TLRUCache

LISTING_TTL = 60.0
IMMUTABLE_TTL = 24 * 3600.0
ATTR_TTL = 1.0
MAX_NAMES = 1_000_000


class _Known:
    """The children of one directory known so far, and until when."""

    __slots__ = ("expires", "complete", "nodes")

    def __init__(self, expires):
        self.expires = expires
        self.complete = False
        self.nodes = {}  # name -> node, in listing order


def _expiry(_key, value, _now):
    return value.expires


def _names_in(value):
    return len(value.nodes) + 1


def ttl_for(node):
    """How long what we learned about *node* may be trusted."""
    if node.ttl is not None:
        return node.ttl
    return IMMUTABLE_TTL if node.immutable else LISTING_TTL


class ListingCache:
    def __init__(self, clock=time.monotonic, max_names=MAX_NAMES):
        self._clock = clock
        self._dirs = TLRUCache(max_names, ttu=_expiry, timer=clock, getsizeof=_names_in)

    def _known(self, key, dir_node, create):
        known = self._dirs.get(key)
        if known is None and create:
            known = _Known(self._clock() + ttl_for(dir_node))
        return known

    def _put(self, key, known):
        # Re-inserting recounts the entry's size against the bound (its expiry stays).
        try:
            self._dirs[key] = known
        except ValueError:  # one listing larger than the whole bound: not cached
            self._dirs.pop(key, None)

    def listing(self, key):
        """The cached complete listing of directory *key* as a list, or None."""
        known = self._dirs.get(key)
        return list(known.nodes.values()) if known is not None and known.complete else None

    def is_listed(self, key):
        """True while a complete listing of directory *key* is cached: a name missing
        from it does not exist."""
        known = self._dirs.get(key)
        return known is not None and known.complete

    def store_listing(self, key, dir_node, nodes):
        known = _Known(self._clock() + ttl_for(dir_node))
        known.complete = True
        known.nodes = {node.name: node for node in nodes}
        self._put(key, known)

    def child(self, key, name):
        known = self._dirs.get(key)
        return None if known is None else known.nodes.get(name)

    def store_child(self, key, dir_node, node):
        known = self._known(key, dir_node, create=True)
        known.nodes[node.name] = node
        self._put(key, known)

    def add(self, key, dir_node, node):
        """A local change made *node* appear in directory *key*: update what we cached
        instead of dropping it, so a `cp -r` of 10,000 new files asks nothing per file."""
        self.store_child(key, dir_node, node)

    def remove(self, key, name):
        """A local change removed *name* from directory *key*."""
        known = self._dirs.get(key)
        if known is not None:
            known.nodes.pop(name, None)

    def forget_dir(self, key):
        """Drop what we know of directory *key* (the kernel forgot its inode, or a
        write changed it behind our back)."""
        self._dirs.pop(key, None)

    def __len__(self):
        return len(self._dirs)
