"""Metadata caches with time-to-live: directory listings and looked-up children.

The kernel caches attributes and names for the timeouts we hand it; these caches spare
the service the repeated requests that arrive once those expire (an `ls -l` after an
`ls`, a `find` that revisits a directory). Entries of mutable directories live
`LISTING_TTL` seconds, those of immutable ones (a finished job) `IMMUTABLE_TTL`. Both
caches are bounded LRUs (cachetools `TLRUCache`, which takes a per-entry expiry), so a
walk over millions of names cannot grow the daemon without limit. Keys are inode
numbers, which are never reused within a mount.
"""

import time

from cachetools import TLRUCache

LISTING_TTL = 60.0
IMMUTABLE_TTL = 24 * 3600.0
ATTR_TTL = 1.0
MAX_LISTINGS = 4096
MAX_CHILDREN = 500_000


def _expiry(_key, value, now):
    return now + value[0]


class ListingCache:
    """Per-directory cache: the full listing (when one finished) and single children.

    A listing is kept as an ordered name -> node dict, so that a local change (a `cp -r`
    adding 10,000 files to a directory) updates it in constant time per file.
    """

    def __init__(self, clock=time.monotonic):
        self._listings = TLRUCache(MAX_LISTINGS, ttu=_expiry, timer=clock)  # dir -> (ttl, {name: node})
        self._children = TLRUCache(MAX_CHILDREN, ttu=_expiry, timer=clock)  # (dir, name) -> (ttl, node)

    @staticmethod
    def ttl_for(dir_node):
        return IMMUTABLE_TTL if dir_node.immutable else LISTING_TTL

    def listing(self, key):
        """The cached listing of directory *key* as a list, or None when absent or expired."""
        hit = self._listings.get(key)
        return None if hit is None else list(hit[1].values())

    def is_listed(self, key):
        """True while a complete listing of directory *key* is cached: a name missing
        from it does not exist."""
        return key in self._listings

    def store_listing(self, key, dir_node, nodes):
        ttl = self.ttl_for(dir_node)
        self._listings[key] = (ttl, {node.name: node for node in nodes})
        for node in nodes:
            self._children[(key, node.name)] = (ttl, node)

    def child(self, key, name):
        hit = self._children.get((key, name))
        return None if hit is None else hit[1]

    def store_child(self, key, dir_node, node):
        self._children[(key, node.name)] = (self.ttl_for(dir_node), node)

    def add(self, key, dir_node, node):
        """A local change made *node* appear in directory *key*: update what we cached
        instead of dropping it, so a `cp -r` of 10,000 new files asks nothing per file."""
        self.store_child(key, dir_node, node)
        hit = self._listings.get(key)
        if hit is not None:
            hit[1][node.name] = node

    def remove(self, key, name):
        """A local change removed *name* from directory *key*."""
        self._children.pop((key, name), None)
        hit = self._listings.get(key)
        if hit is not None:
            hit[1].pop(name, None)

    def forget_dir(self, key):
        """Drop the listing of directory *key* (the kernel forgot its inode); its
        children entries expire on their own, their keys are never reused."""
        self._listings.pop(key, None)
