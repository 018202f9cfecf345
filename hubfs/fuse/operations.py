"""pyfuse3 `Operations` over the hubfs node tree: names, attributes, listings, reads.

Every handler runs under `fuse_op` (`hubfs.fuse.guard`): neutral errors become errnos
through the one table in `hubfs.errors` with one log line naming the mounted path and the
cause, and nothing else ever escapes to pyfuse3. Backend calls (which block on HTTP) run
in worker threads under one shared limiter. The handlers that change the tree (write,
create, mkdir, unlink, rename, setattr) live in `hubfs.fuse.changes`; they refuse with
EROFS, at the first syscall that asks, whatever is not writable.
"""

import errno
import itertools
import logging
import os

import pyfuse3
import trio

from hubfs import errors
from hubfs.cache.blocks import BlockCache
from hubfs.cache.listings import ListingCache
from hubfs.cache.set_times import SetTimes
from hubfs.fuse.attrs import entry_attributes
from hubfs.fuse.changes import ChangeOperations
from hubfs.fuse.content import ContentManager, StreamHandle, streams
from hubfs.fuse.guard import fuse_op
from hubfs.fuse.handles import DirHandle, FileHandle, HandleTable
from hubfs.fuse.inodes import InodeTable
from hubfs.fuse.writing import Writer, WriteHandle
from hubfs.readahead import SizedReader
from hubfs.render.walk_prefetch import WalkPrefetch
from hubfs.tree import Kind

log = logging.getLogger(__name__)

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND | os.O_CREAT
# Worker threads one remote may hold at once: a stalled service fills its own, never
# another remote's (the shared limiter bounds renders and spool work as a whole).
REMOTE_THREADS = 16
MAX_BACKEND_THREADS = 16


def refused(name):
    """A handler for *name* that fails with EROFS (and its one log line)."""

    async def handler(self, *args):
        self._refuse_write(name)

    handler.__name__ = handler.__qualname__ = name
    return fuse_op(handler)


class HubfsOperations(ChangeOperations, pyfuse3.Operations):
    supports_dot_lookup = False
    enable_writeback_cache = False  # write-on-close needs every write to reach us

    def __init__(self, root_node, content_cache, spool, read_only=False, remote_name=None,
                 blocks=None, set_times=None):
        """*remote_name* is set when one remote is mounted at the root (`--remote`);
        otherwise the first path component names the remote. *blocks* is the daemon's
        `BlockCache` (its memory budget for read-ahead)."""
        super().__init__()
        self.read_only = read_only
        self.remote_name = remote_name
        self.limiter = trio.CapacityLimiter(MAX_BACKEND_THREADS)
        self._remote_limiters = {}
        self.blocks = blocks if blocks is not None else BlockCache()
        self.background = None  # a nursery for read-ahead, set while the mount serves
        self._opens = itertools.count()
        self.inodes = InodeTable(root_node)
        self.listings = ListingCache()
        self.content = ContentManager(content_cache, self.limiter, locate=self.locate)
        self.prefetch = WalkPrefetch(self.content, self.limiter)
        self.writer = Writer(spool, self.remote_limiter, self.locate, self.resolve)
        self.files = HandleTable()
        self.dirs = HandleTable()
        self.local = {}  # (parent inode, name) -> node created here, not yet on the service
        self.mtimes = {}  # inode -> mtime_ns set by utimensat, shown for the mount's life
        # ... and kept across mounts while the file is unchanged (hubfs/cache/set_times.py)
        self.set_times = set_times if set_times is not None else SetTimes()

    # -- paths -------------------------------------------------------------------------

    def _place(self, names):
        if self.remote_name:
            return self.remote_name, names
        return names[0], names[1:]

    def locate(self, number):
        """`(remote, [names])` of inode *number*, as the journal records it."""
        return self._place(self.inodes.names_of(number))

    def locate_names(self, parent, name):
        return self._place(self.inodes.names_of(parent) + [name])

    def resolve(self, remote, names):
        """The node at *names* under *remote* (blocking). Names the service does not know
        yet are made again (a directory made with `mkdir`, a new file): pending content
        may be the first of its kind."""
        node = self.inodes.get(pyfuse3.ROOT_INODE).node
        if not self.remote_name:
            node = node.child(remote)
        for name in names[:-1]:
            try:
                node = node.child(name)
            except errors.NotFound:
                node = node.mkdir(name)  # made by `mkdir` last time, local until written
        try:
            return node.child(names[-1])
        except errors.NotFound:
            return node.create(names[-1])

    # -- helpers -----------------------------------------------------------------------

    def describe(self, op, args):
        """The mounted path an operation was about, for log lines."""
        if not args:
            return "/"
        if op == "lookup":
            return self.inodes.path_of(args[0]).rstrip("/") + "/" + os.fsdecode(args[1])
        if op in ("read", "release", "flush", "fsync", "write"):
            handle = self.files.get(args[0])
            return self.inodes.path_of(handle.inode) if handle else f"fh {args[0]}"
        if op in ("readdir", "releasedir"):
            handle = self.dirs.get(args[0])
            return self.inodes.path_of(handle.inode) if handle else f"dh {args[0]}"
        if op in ("create", "mkdir", "mknod", "unlink", "rmdir", "rename"):
            return self.inodes.path_of(args[0]).rstrip("/") + "/" + os.fsdecode(args[1])
        if op == "symlink":  # (parent, name, target, ctx)
            return self.inodes.path_of(args[0]).rstrip("/") + "/" + os.fsdecode(args[1])
        if op == "link":  # (inode, new parent, new name, ctx)
            return self.inodes.path_of(args[1]).rstrip("/") + "/" + os.fsdecode(args[2])
        if isinstance(args[0], int):
            return self.inodes.path_of(args[0])
        return "?"

    def _inode(self, number):
        inode = self.inodes.get(number)
        if inode is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return inode

    def remote_limiter(self, remote):
        """The worker-thread limiter of remote *remote* (None: the mount's root)."""
        limiter = self._remote_limiters.get(remote)
        if limiter is None:
            limiter = self._remote_limiters[remote] = trio.CapacityLimiter(REMOTE_THREADS)
        return limiter

    def limiter_of(self, number):
        """The limiter of the remote inode *number* belongs to."""
        if self.remote_name:
            return self.remote_limiter(self.remote_name)
        names = self.inodes.names_of(number)
        return self.remote_limiter(names[0] if names else None)

    async def _call(self, fn, *args, inode=None):
        """Run blocking *fn* in a worker thread, under the limiter of *inode*'s remote."""
        limiter = self.limiter if inode is None else self.limiter_of(inode)
        return await trio.to_thread.run_sync(fn, *args, limiter=limiter)

    async def _attributes(self, inode, render, pid=None):
        node = inode.node
        if node.is_dir:
            return self._entry_attributes(inode, 0)
        size = self.writer.open_length(inode.number)  # local writes win over the service
        if size is not None:
            return self._write_attributes(inode, size)
        size = self.content.known_size(inode.number, node)
        if size is None and render:
            partial = self.content.partial_size(node, pid)
            if partial is not None:  # an opt-in early answer to a reader's fstat
                return self._entry_attributes(inode, partial, exact=False)
            size = (await self.content.ensure(inode.number, node)).size
        return self._entry_attributes(inode, size)

    def _entry_attributes(self, inode, size, exact=True):
        writable = getattr(inode.node, "writable", False) and not self.read_only
        attrs = entry_attributes(inode.number, inode.node, size, writable=writable,
                                 exact=exact)
        mtime = self.mtimes.get(inode.number)
        if mtime is None and size is not None and self.set_times.may_hold(inode.name) \
                and not inode.node.is_dir:
            mtime = self.set_times.shown(self.locate(inode.number), inode.node, size)
        if mtime is not None:
            attrs.st_mtime_ns = mtime
        return attrs

    def _bind(self, parent, name, node):
        inode, replaced = self.inodes.bind(parent, name, node)
        if replaced:
            self.content.drop(inode.number)
        return inode

    async def _child(self, parent, name):
        """The node called *name* in directory inode *parent* (cached when possible)."""
        node = self.local.get((parent.number, name)) or self.listings.child(parent.number, name)
        if node is not None:
            return node
        if self.listings.is_listed(parent.number):
            # A fresh complete listing without that name answers without a request.
            raise errors.NotFound(f"no {name!r} in listing")
        node = await self._call(parent.node.child, name, inode=parent.number)
        self.listings.store_child(parent.number, parent.node, node)
        return node

    def _refuse_write(self, what):
        raise errors.ReadOnly(f"{what}: " + ("mounted read-only" if self.read_only else "read-only here"))

    # -- names and attributes ----------------------------------------------------------

    @fuse_op
    async def lookup(self, parent_inode, name, ctx=None):
        parent = self._inode(parent_inode)
        if not parent.node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        name = os.fsdecode(name)
        if name in (".", ".."):
            target = parent if name == "." else self._inode(parent.parent)
            attrs = await self._attributes(target, render=False)
            target.lookups += 1
            return attrs
        node = await self._child(parent, name)
        inode = self._bind(parent.number, name, node)
        attrs = await self._attributes(inode, render=False)
        inode.lookups += 1
        return attrs

    async def forget(self, inode_list):
        # pyfuse3: forget must not raise at all (it answers no request).
        try:
            for number, count in inode_list:
                dropped = self.inodes.forget(number, count)
                if dropped is not None:
                    self.content.forget(number)
                    self.listings.forget_dir(number)
                    self.mtimes.pop(number, None)
        except Exception:
            log.exception("forget: unexpected error")

    @fuse_op
    async def getattr(self, inode, ctx=None):
        return await self._attributes(self._inode(inode), render=True,
                                      pid=ctx.pid if ctx is not None else None)

    @fuse_op
    async def statfs(self, ctx):
        stats = pyfuse3.StatvfsData()
        stats.f_bsize = stats.f_frsize = 4096
        stats.f_namemax = 255
        return stats

    @fuse_op
    async def getxattr(self, inode, name, ctx):
        # No service here has extended attributes. ENOSYS tells the kernel so once: it
        # then answers EOPNOTSUPP itself and stops asking, where ENOATTR would bring
        # `ls -l` here twice per file (its SELinux label and POSIX ACL checks).
        raise pyfuse3.FUSEError(errno.ENOSYS)

    @fuse_op
    async def listxattr(self, inode, ctx):
        return []

    # -- directories -------------------------------------------------------------------

    @fuse_op
    async def opendir(self, inode, ctx):
        directory = self._inode(inode)
        if not directory.node.is_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR)
        if directory.node.immutable:
            # A walk through sibling directories renders their files ahead of it.
            self.prefetch.opened(directory.parent, directory.name,
                                 self.listings.listing(directory.parent))
        local = [node for (parent, _), node in self.local.items() if parent == inode]
        cached = self.listings.listing(inode)
        if cached is None and directory.node.lists_locally:
            cached = list(directory.node.children())
            self.listings.store_listing(inode, directory.node, cached)
        if cached is not None:
            handle = DirHandle(inode, entries=((node.name, node) for node in cached), local=local)
        else:
            handle = DirHandle(inode, source=directory.node.children(), local=local)
        return self.dirs.add(handle)

    @fuse_op
    async def readdir(self, fh, start_id, token):
        handle = self.dirs.get(fh)
        if handle is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        directory = self._inode(handle.inode)
        async with handle.lock:
            index = start_id
            while True:
                while index < len(handle.entries):
                    name, node = handle.entries[index]
                    inode = self._bind(handle.inode, name, node)
                    attrs = await self._attributes(inode, render=False)
                    if not pyfuse3.readdir_reply(token, os.fsencode(name), attrs, index + 1):
                        if inode.lookups == 0:
                            self.inodes.forget(inode.number, 0)
                        return
                    inode.lookups += 1
                    index += 1
                if handle.complete:
                    return
                await handle.fetch_more(self.limiter_of(handle.inode))
                if handle.complete:
                    self.listings.store_listing(handle.inode, directory.node,
                                                [node for _, node in handle.entries
                                                 if (handle.inode, node.name) not in self.local])

    @fuse_op
    async def releasedir(self, fh):
        handle = self.dirs.pop(fh)
        if handle is not None:
            handle.close()

    # -- files -------------------------------------------------------------------------

    @fuse_op
    async def open(self, inode, flags, ctx):
        target = self._inode(inode)
        node = target.node
        if node.is_dir:
            raise pyfuse3.FUSEError(errno.EISDIR)
        if flags & WRITE_FLAGS:
            return await self._open_for_writing(inode, node, flags)
        if node.kind is Kind.SIZED:
            return self._open_sized(inode, node)
        if streams(node):
            content, stream = await self.content.open_reader(inode, node, getattr(ctx, "pid", None))
            if stream is not None:
                # Still rendering: the kernel cannot know the size, so every read comes
                # here (direct_io) and is answered from the bytes already on disk.
                info = pyfuse3.FileInfo(fh=self.files.add(stream))
                info.direct_io = True
                info.keep_cache = False
                return info
            return self._open_content(inode, node, content)
        content = await self.content.ensure(inode, node)
        return self._open_content(inode, node, content)

    def _open_content(self, inode, node, content):
        fd = os.open(content.path, os.O_RDONLY) if content.path else None
        handle = FileHandle(inode, node, fd, content.size)
        handle.data = content.data
        fh = self.files.add(handle)
        info = pyfuse3.FileInfo(fh=fh)
        # Immutable bytes may stay in the page cache across opens; anything that can
        # change is read directly so each open sees its own snapshot.
        info.keep_cache = bool(node.immutable)
        info.direct_io = not node.immutable
        return info

    def _open_sized(self, inode, node):
        """A sized file is read through its own `SizedReader` (read-ahead, one version).
        The kernel's page cache and read-ahead stay on (mmap works); pages are kept
        across opens only for immutable content."""
        # Blocks are shared across opens only when a version names the bytes.
        key = (inode, node.version) if node.version is not None else (inode, "open", next(self._opens))
        reader = SizedReader(node, key, self.blocks, self.limiter_of(inode),
                             spawn=self.background.start_soon if self.background else None,
                             where=self.inodes.path_of(inode))
        handle = FileHandle(inode, node, None, node.size)
        handle.reader = reader
        info = pyfuse3.FileInfo(fh=self.files.add(handle))
        info.keep_cache = bool(node.immutable)
        info.direct_io = False
        return info

    @fuse_op
    async def read(self, fh, off, size):
        handle = self.files.get(fh)
        if handle is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        if isinstance(handle, WriteHandle):
            return self.writer.read(handle, off, size)
        if isinstance(handle, StreamHandle):
            return await handle.read(off, size)
        size = max(0, min(size, handle.length - off))
        if size == 0:
            return b""
        if handle.fd is not None:
            return os.pread(handle.fd, size, off)
        if handle.data is not None:
            return handle.data[off:off + size]
        return await handle.reader.read(off, size)

    @fuse_op
    async def release(self, fh):
        handle = self.files.pop(fh)
        if isinstance(handle, WriteHandle):
            await self._release_writer(handle)
        elif handle is not None:
            handle.close()

    # -- what no service here can hold ------------------------------------------------

    mknod = refused("mknod")
    symlink = refused("symlink")

    @fuse_op
    async def link(self, inode, new_parent_inode, new_name, ctx):
        # No service here has hard links; EPERM is what link(2) gives on such filesystems.
        raise pyfuse3.FUSEError(errno.EPERM)

    def close(self):
        for handle in self.files.values():
            handle.close()  # a write handle's spool and journal entry stay for the next mount
        for handle in self.dirs.values():
            handle.close()
