"""FUSE handlers that change the tree: write, create, mkdir, unlink, rmdir, rename, setattr.

A mixin of `HubfsOperations` (which owns the inode table, caches and the `Writer`). Each
call checks first whether the node may change (writable nodes only; nothing at all on a
`--read-only` mount) and fails with EROFS before anything is accepted. Names created
here exist only locally (`self.local`) until their first send: a `touch`ed or `mkdir`ed
name is listed and can be written to, but the service learns of it when content arrives.
Harmless metadata calls on writable nodes (`chmod`, `chown`, `utimensat` from `cp -p`
and `rsync -a`) succeed; a time set that way is shown by `stat` for the life of the mount,
and after it while the file is unchanged on the service (`hubfs.cache.set_times`).
"""

import errno
import os
import shutil

import pyfuse3

from hubfs import errors
from hubfs.fuse.guard import fuse_op
from hubfs.fuse.writing import WriteHandle
from hubfs.tree import CommitProgress


class ChangeOperations:
    def _check_writable(self, node, what):
        if self.read_only or not getattr(node, "writable", False):
            self._refuse_write(what)


    async def _fill(self, inode, node, target):
        """Copy the present content of *node* into *target*; returns its size."""
        content = await self.content.ensure(inode, node)

        def copy():
            with open(target, "wb") as out:
                if content.data is not None:
                    out.write(content.data)
                elif content.path is not None:
                    with open(content.path, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                else:
                    offset = 0
                    while offset < content.size:
                        block = node.read(offset, min(1 << 20, content.size - offset))
                        if not block:
                            raise errors.Transient(f"{node.name}: short read at {offset}")
                        out.write(block)
                        offset += len(block)
            return content.size

        return await self._call(copy)

    async def _open_for_writing(self, inode, node, flags):
        self._check_writable(node, "open for writing")
        # New content gets the service's time again, unless a utimensat follows (cp -p).
        self.mtimes.pop(inode, None)
        self.set_times.drop(self.locate(inode))
        truncate = bool(flags & os.O_TRUNC)
        handle = await self.writer.open(inode, node, truncate,
                                        fill=lambda path: self._fill(inode, node, path))
        info = pyfuse3.FileInfo(fh=self.files.add(handle))
        info.direct_io = True  # every write must reach the spool; reads see the spool
        info.keep_cache = False
        return info

    @fuse_op
    async def create(self, parent_inode, name, mode, flags, ctx):
        parent = self._inode(parent_inode)
        self._check_writable(parent.node, "create")
        name = os.fsdecode(name)
        if parent.node.create_is_local:
            made = parent.node.create(name)  # no request: no worker-thread hop either
        else:
            made = await self._call(parent.node.create, name)
        inode = self._made_here(parent, name, made)
        node = inode.node
        # A new file closed unwritten is sent only where an empty file is content (an empty
        # object); elsewhere `touch` makes a local name, sent once something is written.
        handle = await self.writer.open(inode.number, node,
                                        truncate=bool(getattr(node, "empty_is_content", False)),
                                        created=True)
        info = pyfuse3.FileInfo(fh=self.files.add(handle))
        info.direct_io = True
        inode.lookups += 1
        attrs = self._write_attributes(inode, 0)
        # The empty file's attributes hold until its first write, which makes the kernel
        # drop its size and times (every write does), so the `fstat` a `cp` makes right
        # after the open is answered by the kernel: one FUSE request less per file.
        attrs.attr_timeout = attrs.entry_timeout
        return info, attrs

    def _made_here(self, parent, name, node):
        """Bind a name created by this mount; it stays local until content is sent."""
        inode = self._bind(parent.number, name, node)
        self.local[(parent.number, name)] = node
        self.listings.add(parent.number, parent.node, node)
        return inode

    def _write_attributes(self, inode, size):
        attrs = self._entry_attributes(inode, size)
        attrs.attr_timeout = 0  # the size changes with every write
        return attrs

    @fuse_op
    async def write(self, fh, off, buf):
        handle = self.files.get(fh)
        if not isinstance(handle, WriteHandle):
            raise pyfuse3.FUSEError(errno.EBADF)
        # A local pwrite of at most 128 KiB: cheaper inline than a worker-thread hop.
        return self.writer.write(handle, off, buf)

    @fuse_op
    async def flush(self, fh):
        handle = self.files.get(fh)
        if isinstance(handle, WriteHandle):
            await self._send(handle)

    @fuse_op
    async def fsync(self, fh, datasync):
        handle = self.files.get(fh)
        if isinstance(handle, WriteHandle):
            await self._send(handle)

    async def _send(self, handle):
        sent = False
        try:
            sent = await self.writer.flush(handle)
        except errors.HubfsError:
            self._sent(handle, reached=False)  # part of it may have reached the service
            raise
        if sent:
            self._sent(handle, reached=True)

    async def _release_writer(self, handle):
        if await self.writer.release(handle):
            self._sent(handle, reached=True)

    def _sent(self, handle, reached):
        """A send was made: what we cached about the file, and about its neighbours, may
        be out of date. When it *reached* the service, the name is no longer local."""
        inode = self.inodes.get(handle.inode)
        if inode is None:
            return
        if reached:
            self.local.pop((inode.parent, inode.name), None)
        self.content.drop(inode.number)
        # A send may change what sibling directories list (a store's `.jl` restore adds
        # keys to the store directory beside it): drop what we cached of them.
        for sibling in self.inodes.children_of(inode.parent):
            if sibling.node.is_dir:
                self.listings.forget_dir(sibling.number)

    @fuse_op
    async def mkdir(self, parent_inode, name, mode, ctx):
        parent = self._inode(parent_inode)
        self._check_writable(parent.node, "mkdir")
        name = os.fsdecode(name)
        made = await self._call(parent.node.mkdir, name)
        if getattr(made, "made_on_service", False):
            # It exists on the service now, with whatever the service put in it: list it
            # once, so that the names a `cp -r` creates next ask nothing each.
            inode = self._bind(parent.number, name, made)
            self.listings.add(parent.number, parent.node, made)
            listed = await self._call(lambda: list(made.children()), inode=inode.number)
            self.listings.store_listing(inode.number, made, listed)
        else:
            inode = self._made_here(parent, name, made)
            # A directory made here starts empty: lookups in it need not ask the service.
            self.listings.store_listing(inode.number, inode.node, [])
        attrs = self._entry_attributes(inode, 0)
        inode.lookups += 1
        return attrs

    @fuse_op
    async def unlink(self, parent_inode, name, ctx):
        await self._remove(parent_inode, os.fsdecode(name), want_dir=False)

    @fuse_op
    async def rmdir(self, parent_inode, name, ctx):
        await self._remove(parent_inode, os.fsdecode(name), want_dir=True)

    async def _remove(self, parent_number, name, want_dir):
        parent = self._inode(parent_number)
        if self.read_only:
            self._refuse_write("remove")
        node = await self._child(parent, name)
        if node.is_dir != want_dir:
            raise pyfuse3.FUSEError(errno.ENOTDIR if want_dir else errno.EISDIR)
        if want_dir and (parent.number, name) in self.local and self._holds_local(parent.number, name):
            raise errors.NotEmpty(f"rmdir: {name!r} holds files not sent yet")
        if self.local.pop((parent.number, name), None) is None:
            await self._call(node.delete)
        if not want_dir:
            place = self.locate_names(parent.number, name)
            self.writer.discard_pending(place)
            self.set_times.drop(place)
        self.inodes.detach(parent.number, name)
        self.listings.remove(parent.number, name)

    def _holds_local(self, parent, name):
        """True when the local-only directory *name* in *parent* holds anything: names
        made in it, or files of it still open or pending."""
        inode = self.inodes.lookup_name(parent, name)
        if inode is None:
            return False
        if any(key[0] == inode.number for key in self.local):
            return True
        return any(child.number in self.writer.handles or not child.node.is_dir
                   for child in self.inodes.children_of(inode.number))

    @fuse_op
    async def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        if self.read_only:
            self._refuse_write("rename")
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise errors.Unsupported("rename: exchanging names is not supported")
        old_parent, new_parent = self._inode(parent_inode_old), self._inode(parent_inode_new)
        old_name, new_name = os.fsdecode(name_old), os.fsdecode(name_new)
        node = await self._child(old_parent, old_name)
        if node.is_dir:
            # Services have no directory rename; EXDEV makes `mv` copy and delete instead.
            raise pyfuse3.FUSEError(errno.EXDEV)
        self._check_writable(node, "rename")
        self._check_writable(new_parent.node, "rename")
        try:
            target = await self._child(new_parent, new_name)
            if flags & pyfuse3.RENAME_NOREPLACE:
                raise errors.Exists(f"rename: {new_name!r} exists")
            self._check_writable(target, "rename onto")
        except errors.NotFound:
            target = await self._call(new_parent.node.create, new_name)
        source = self.inodes.lookup_name(old_parent.number, old_name)
        old_place = self.locate_names(old_parent.number, old_name)
        new_place = self.locate_names(new_parent.number, new_name)
        local_only = self.local.pop((old_parent.number, old_name), None) is not None
        spooled = source is not None and self.writer.retarget(source.number, old_place, target, new_place)
        if not (local_only or spooled):
            # Already on the service under the old name: copy, then delete the original.
            await self._copy_on_service(source, node, target)
            await self._call(node.delete)
        elif local_only and not spooled:
            self.local[(new_parent.number, new_name)] = target
        self.inodes.move(old_parent.number, old_name, new_parent.number, new_name, target)
        self.set_times.move(old_place, new_place)  # rsync sets times on its temp file
        self.listings.remove(old_parent.number, old_name)
        self.listings.add(new_parent.number, new_parent.node, target)
        if source is not None:
            self.content.drop(source.number)

    async def _copy_on_service(self, source, node, target):
        """Copy *node* to *target* on the service: a server-side copy where the backend
        has one, else the bytes through a spool file."""
        if await self._call(target.copy_from, node):
            return
        spool_id, path = await self._call(self.writer.spool.new_file)
        try:
            await self._fill(source.number if source else -1, node, path)
            await self._call(target.commit, path, CommitProgress())
        finally:
            self.writer.spool.discard(spool_id)

    @fuse_op
    async def setattr(self, inode, attr, fields, fh, ctx):
        target = self._inode(inode)
        self._check_writable(target.node, "setattr")
        if fields.update_size:
            handle = self.files.get(fh) if fh is not None else None
            if isinstance(handle, WriteHandle):
                await self._call(self.writer.truncate, handle, attr.st_size)
            else:
                # truncate(2) by path: a write of its own, sent at once.
                info = await self._open_for_writing(inode, target.node,
                                                    os.O_WRONLY | (os.O_TRUNC if attr.st_size == 0 else 0))
                handle = self.files.get(info.fh)
                try:
                    await self._call(self.writer.truncate, handle, attr.st_size)
                    await self._send(handle)
                finally:
                    self.files.pop(info.fh)
                    await self._release_writer(handle)
        if fields.update_mtime:
            self.mtimes[inode] = attr.st_mtime_ns
        attributes = await self._attributes(target, render=True)
        if fields.update_mtime and not target.node.is_dir:
            self.set_times.set(self.locate(inode), attr.st_mtime_ns, attributes.st_size)
        return attributes
