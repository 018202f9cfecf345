"""The inode table: stable inode numbers per path, node objects, kernel lookup counts.

An inode number belongs to a (parent inode, name) pair for as long as the kernel knows
it, so `tar` and `rsync` (which compare `st_ino` to spot hard links) see stable values,
and a refreshed node (a job that finished since the last lookup) keeps its inode. Entries
are dropped when `forget` brings the kernel's lookup count to zero, which bounds memory
on long walks (pyfuse3 lookup-count rules). Inode 1 is the root and is never dropped.
"""

import dataclasses
import itertools

import pyfuse3


@dataclasses.dataclass(eq=False)
class Inode:
    number: int
    parent: int
    name: str
    node: object
    lookups: int = 0


class InodeTable:
    def __init__(self, root_node):
        self._numbers = itertools.count(pyfuse3.ROOT_INODE + 1)
        self._by_number = {}
        self._by_name = {}  # (parent inode, name) -> Inode
        self._children = {}  # parent inode -> {name: Inode} (the same bindings, by parent)
        root = Inode(pyfuse3.ROOT_INODE, pyfuse3.ROOT_INODE, "", root_node, lookups=1)
        self._by_number[root.number] = root

    def get(self, number):
        """Return the `Inode` for *number* or None (stale numbers happen after forget)."""
        return self._by_number.get(number)

    def names_of(self, number):
        """The names from the root down to inode *number*."""
        parts = []
        inode = self._by_number.get(number)
        while inode is not None and inode.number != pyfuse3.ROOT_INODE:
            parts.append(inode.name)
            inode = self._by_number.get(inode.parent)
        return parts[::-1]

    def path_of(self, number):
        """A '/'-joined path for log lines."""
        return "/" + "/".join(self.names_of(number))

    def bind(self, parent, name, node):
        """Return the inode for *name* under *parent*, created or refreshed with *node*.

        Returns `(inode, replaced)` where *replaced* is True when the inode existed and
        its node changed kind or mutability (so cached content must be dropped).
        """
        inode = self._by_name.get((parent, name))
        if inode is None:
            inode = Inode(next(self._numbers), parent, name, node)
            self._by_number[inode.number] = inode
            self._link(inode)
            return inode, False
        old, inode.node = inode.node, node
        replaced = old is not node and (
            old.is_dir != node.is_dir
            or old.immutable != node.immutable
            or getattr(old, "kind", None) != getattr(node, "kind", None))
        return inode, replaced

    def _link(self, inode):
        self._by_name[(inode.parent, inode.name)] = inode
        self._children.setdefault(inode.parent, {})[inode.name] = inode

    def _unlink(self, parent, name):
        inode = self._by_name.pop((parent, name), None)
        siblings = self._children.get(parent)
        if siblings is not None:
            siblings.pop(name, None)
            if not siblings:
                del self._children[parent]
        return inode

    def children_of(self, parent):
        """The inodes bound under *parent* right now."""
        return list(self._children.get(parent, {}).values())

    def lookup_name(self, parent, name):
        """The `Inode` bound to *name* under *parent*, or None."""
        return self._by_name.get((parent, name))

    def detach(self, parent, name):
        """*name* was removed: the inode keeps its number (open handles, kernel lookups)
        but the name no longer leads to it."""
        self._unlink(parent, name)

    def move(self, old_parent, old_name, new_parent, new_name, node):
        """A rename: the inode of the old name now answers for the new one with *node*."""
        inode = self._unlink(old_parent, old_name)
        self._unlink(new_parent, new_name)
        if inode is not None:
            inode.parent, inode.name, inode.node = new_parent, new_name, node
            self._link(inode)
        return inode

    def forget(self, number, count):
        """Subtract *count* lookups; return the dropped `Inode` when it reached zero."""
        inode = self._by_number.get(number)
        if inode is None or number == pyfuse3.ROOT_INODE:
            return None
        inode.lookups -= count
        if inode.lookups > 0:
            return None
        del self._by_number[number]
        if self._by_name.get((inode.parent, inode.name)) is inode:
            self._unlink(inode.parent, inode.name)
        return inode

    def __len__(self):
        return len(self._by_number)
