"""Render ahead of a tree walk: when `du`, `find`, `rsync` or `ls -lR` go through sibling
directories one after another, render the files of the next few before they are asked.

A walk shows itself by opening a second directory of the same parent right after the
first; a single `ls` of one directory prefetches nothing. From then on, each opened
directory starts background renders of the files of itself and of the next `AHEAD`
siblings in the order the walk goes: the parent's listing order when the last two
directories were neighbours in it (`du`, `find`), name order when they were neighbours
by name (`rsync`, `ls -R`), both when neither. Only immutable directories are walked ahead
(a finished job's files do not change, so nothing rendered ahead is wasted by a change):
their immutable rendered files are streamed into the disk cache exactly as a `stat`
would (`ContentManager.prefetch`), and their small mutable files are rendered once and
dropped, which warms whatever the backend caches for them (a finished job's metadata).
The work runs in trio system tasks under its own limiter, so the walker's own requests
are never queued behind more than `PARALLEL` renders ahead.
"""

import logging

import trio

log = logging.getLogger(__name__)

AHEAD = 8        # sibling directories rendered ahead of the walker
PARALLEL = 8     # directories being prefetched at once
REMEMBERED = 4096  # directories already prefetched, remembered to avoid doing them twice


class _Order(list):
    """Names in one order, with their positions found in constant time."""

    def __init__(self, names):
        super().__init__(names)
        self._at = {name: at for at, name in enumerate(names)}

    def index(self, name):
        try:
            return self._at[name]
        except KeyError:
            raise ValueError(name) from None


class WalkPrefetch:
    def __init__(self, content, limiter):
        self.content = content
        self.limiter = limiter  # worker threads (shared with the FUSE handlers)
        self.slots = trio.CapacityLimiter(PARALLEL)
        self._last = None  # (parent inode, directory name) of the last opendir
        self._done = {}  # id(node) -> node, insertion ordered, bounded
        self._orders = {}  # parent inode -> (listing names, name-sorted names, nodes by name)

    def opened(self, parent, name, siblings):
        """Directory *name* of inode *parent* was opened; *siblings* is the parent's
        complete cached listing (nodes) or None."""
        last, self._last = self._last, (parent, name)
        if siblings is None or last is None or last[0] != parent or last[1] == name:
            return
        orders = self._orders.get(parent)
        if orders is None or len(orders[0]) != len(siblings):
            names = [node.name for node in siblings]
            orders = (_Order(names), _Order(sorted(names)), {node.name: node for node in siblings})
            self._orders = {parent: orders}  # one parent at a time is walked
        listed, by_name, nodes = orders
        positions = []
        for order in (listed, by_name):
            try:
                positions.append((order, order.index(name), order.index(last[1])))
            except ValueError:
                continue
        followed = [p for p in positions if p[1] - p[2] == 1]
        ahead = []
        for order, index, _ in followed or positions:
            ahead += order[index:index + AHEAD + 1]
        for sibling in ahead:
            node = nodes.get(sibling)
            if node is None or not node.is_dir or not node.immutable or id(node) in self._done:
                continue
            self._done[id(node)] = node
            if len(self._done) > REMEMBERED:
                del self._done[next(iter(self._done))]
            trio.lowlevel.spawn_system_task(self._prefetch, node, name=f"prefetch {sibling}")

    async def _prefetch(self, directory):
        try:
            async with self.slots:
                if directory.lists_locally:
                    children = list(directory.children())
                else:
                    children = await trio.to_thread.run_sync(
                        lambda: list(directory.children()), limiter=self.limiter)
                await self.content.prefetch_files(children)
        except trio.Cancelled:
            raise
        except Exception as exc:  # prefetching is a guess: a failure is the walker's later
            log.debug("prefetch of %r failed: %s", directory, exc)
