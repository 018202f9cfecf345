"""The write path: spooled writers, sends at close and fsync, renames, the resend loop.

A file opened for writing gets a `WriteHandle` over a spool data file (`hubfs.cache.spool`).
`write` stores bytes there (ENOSPC when the spool has no room); `flush` (every `close`)
and `fsync` journal the file and call the node's `commit()` in a worker thread, and the
errno of a failed send is what that `close`/`fsync` returns (DESIGN.md semantics 3-4).
A failed send of well-formed content stays in the journal and is sent again by the
background loop, by the next mount, or while `hubfs umount` waits; malformed content
(EINVAL) is dropped, since sending it again could never succeed. Renaming a file whose
bytes are still only in the spool retargets it without any request.

Paths in the journal are `(remote, [names...])` so that a later mount, which has other
inode numbers, can find the node again: it walks the remote's tree by name, and names
the service does not know yet are made again (`mkdir()` for a directory on the way,
`create()` for the file).
"""

import logging
import os
import time

import trio

from hubfs import errors
from hubfs.cache.spool import entry_path, shown_path

log = logging.getLogger(__name__)

RESEND_INTERVAL = 30.0  # seconds between passes over what failed to send
RETRY_PAUSE = 2.0


class WriteHandle:
    """One open-for-writing descriptor: its spool file, dirty state and the node to send to."""

    def __init__(self, inode, node, spool_id, path, dirty=False):
        self.inode = inode
        self.node = node
        self.spool_id = spool_id
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        # Append mode: offsets the app uses start at the first write's (None until then).
        self.base = None if node.write_mode == "append" else 0
        self.dirty = dirty
        self.attempted = False  # a close/fsync tried to send (the journal took it over)
        self.failed = None  # the error of a write that did not go through

    @property
    def length(self):
        """The size the app sees (what `stat` reports while this handle is open)."""
        return (self.base or 0) + self.size

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Writer:
    """Owns every write handle of a mount and the resend of pending journal entries."""

    def __init__(self, spool, limiter, locate, resolve):
        self.spool = spool
        self.limiter = limiter
        self._locate = locate  # inode number -> (remote, [names])
        self._resolve = resolve  # (remote, [names]) -> node (blocking; may create)
        self.handles = {}  # inode number -> set of open WriteHandles
        self._sending = set()  # spool ids being sent right now
        self._wakeup = trio.Event()

    # -- opening -----------------------------------------------------------------------

    async def open(self, inode, node, truncate, fill=None):
        """A handle for *node*. In replace mode without *truncate*, the async *fill(path)*
        copies the node's present content into the new spool file first (an edit keeps
        what it does not overwrite). Append-mode spools start empty: their offsets are
        counted from the first write (the kernel puts O_APPEND writes at its idea of the
        end of the file)."""
        spool_id, path = self.spool.new_file()
        try:
            if node.write_mode != "append" and not truncate and fill is not None:
                self.spool.reserve(await fill(path), self._where(inode))
        except BaseException:
            self.spool.discard(spool_id)
            raise
        handle = WriteHandle(inode, node, spool_id, path, dirty=truncate)
        self.handles.setdefault(inode, set()).add(handle)
        return handle

    # -- data --------------------------------------------------------------------------

    def write(self, handle, offset, data):
        if handle.base is None:
            handle.base = offset
        offset -= handle.base
        if offset < 0:
            raise errors.Unsupported(f"{self._where(handle.inode)}: append-only file: "
                                     "writes must go to its end")
        end = offset + len(data)
        try:
            self.spool.reserve(end - handle.size, self._where(handle.inode))
        except errors.SpoolFull as exc:
            handle.failed = exc
            raise
        written = os.pwrite(handle.fd, data, offset)
        handle.size = max(handle.size, offset + written)
        handle.dirty = True
        return written

    def read(self, handle, offset, size):
        return os.pread(handle.fd, size, max(0, offset - (handle.base or 0)))

    def truncate(self, handle, length):
        length = max(0, length - (handle.base or 0))
        if length > handle.size:
            self.spool.reserve(length - handle.size, self._where(handle.inode))
        else:
            self.spool.release(handle.size - length)
        os.ftruncate(handle.fd, length)
        handle.size = length
        handle.dirty = True

    def open_length(self, inode):
        """The size of the newest open writer of *inode*, or None when none is open."""
        handles = self.handles.get(inode)
        if not handles:
            return None
        return max(handle.length for handle in handles)

    # -- sending -----------------------------------------------------------------------

    async def flush(self, handle):
        """Send the handle's content if it changed; raises the mapped neutral error."""
        if handle.failed is not None:
            # A write was refused: the content is incomplete and must never be sent.
            raise type(handle.failed)(f"{handle.failed}; nothing was sent")
        if not handle.dirty:
            return
        remote, names = self._locate(handle.inode)
        handle.attempted = True
        # Journal (again: the data may have changed since an earlier failed send) before
        # sending, so that what this close is sending survives a crash of the daemon.
        await self._send(handle.spool_id, handle.node, remote, names, journal=handle.node.write_mode)
        handle.dirty = False

    async def _send(self, spool_id, node, remote, names, journal=None):
        """Send one spooled file (one worker-thread hop for journal, send and cleanup).
        A new failure (from a close, not from the resend loop itself) wakes the loop."""
        self._sending.add(spool_id)
        try:
            await trio.to_thread.run_sync(self._send_blocking, spool_id, node, remote, names,
                                          journal, limiter=self.limiter)
        except errors.HubfsError:
            if journal is not None:
                self._wakeup.set()
            raise
        finally:
            self._sending.discard(spool_id)

    def _send_blocking(self, spool_id, node, remote, names, journal):
        if journal is not None:
            self.spool.journal(spool_id, remote, names, journal)
        try:
            node.commit(self.spool.data_path(spool_id))
        except errors.InvalidContent:
            # Malformed content can never be sent: drop it (the app got EINVAL).
            self.spool.done(spool_id)
            raise
        except errors.HubfsError as exc:
            # The app is told its data is kept: make that durable, and note why.
            entry = self.spool.entry(spool_id) or {}
            self.spool.make_durable(spool_id)
            self.spool.update(spool_id, attempts=entry.get("attempts", 0) + 1, last_error=str(exc))
            raise
        self.spool.done(spool_id)
        log.debug("sent %s", shown_path(remote, names))

    async def release(self, handle):
        """Last close of a descriptor. A send that failed stays pending for the resend
        loop; a handle that wrote nothing leaves nothing behind."""
        handle.close()
        handles = self.handles.get(handle.inode, set())
        handles.discard(handle)
        if not handles:
            self.handles.pop(handle.inode, None)
        if handle.failed is not None:
            self.spool.discard(handle.spool_id)
        elif handle.dirty and not handle.attempted:
            # Written but never flushed (no close reached us): keep it like a close would.
            remote, names = self._locate(handle.inode)
            await trio.to_thread.run_sync(self.spool.journal, handle.spool_id, remote, names,
                                          handle.node.write_mode, limiter=self.limiter)
            self._wakeup.set()
        elif self.spool.entry(handle.spool_id) is None:
            self.spool.discard(handle.spool_id)  # nothing written, or sent: nothing to keep

    def retarget(self, inode, old, node, new):
        """A rename moved *inode* from *old* to *new* (each `(remote, names)`): its unsent
        content, open or pending in the journal, now belongs to *node* there. Returns
        True when the content exists only here (nothing was sent under the old name)."""
        handles = self.handles.get(inode, set())
        for handle in handles:
            handle.node = node
        moved = False
        for entry in self.spool.pending():
            if (entry["remote"], entry["path"]) == (old[0], list(old[1])):
                self.spool.update(entry["id"], remote=new[0], path=list(new[1]))
                moved = True
        return moved or (bool(handles) and any(h.dirty for h in handles))

    def discard_pending(self, place):
        """The name at *place* `(remote, names)` was removed: what the journal still held
        for it must not be sent later (it would bring the name back)."""
        for entry in self.spool.pending():
            if (entry["remote"], entry["path"]) == (place[0], list(place[1])) \
                    and entry["id"] not in self.busy_ids():
                self.spool.done(entry["id"])

    def busy_ids(self):
        """Spool ids that must not be resent now: being sent, or still open for writing."""
        return self._sending | {h.spool_id for hs in self.handles.values() for h in hs}

    # -- resending ---------------------------------------------------------------------

    async def resend_loop(self, remotes):
        """Send what the journal holds for *remotes* now, then retry failures
        periodically (woken early when a new failure is recorded)."""
        while True:
            await self.resend(remotes)
            with trio.move_on_after(RESEND_INTERVAL):
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            # A close just failed: give the service a moment before the first retry.
            await trio.sleep(RETRY_PAUSE)

    async def resend(self, remotes, deadline=None):
        """One pass over the pending entries of *remotes*; returns how many remain."""
        remaining = 0
        for entry in self.spool.pending():
            if entry["remote"] not in remotes or entry["id"] in self.busy_ids():
                remaining += entry["remote"] in remotes
                continue
            if deadline is not None and time.monotonic() > deadline:
                remaining += 1
                continue
            where = entry_path(entry)
            try:
                node = await trio.to_thread.run_sync(self._resolve, entry["remote"], entry["path"],
                                                     limiter=self.limiter)
                await self._send(entry["id"], node, entry["remote"], entry["path"])
                log.info("sent pending %s (%d bytes)", where, entry["size"])
            except errors.InvalidContent as exc:
                log.error("dropped pending %s: %s", where, exc)
            except errors.HubfsError as exc:
                remaining += 1
                log.warning("pending %s not sent yet: %s", where, exc)
        return remaining

    def _where(self, inode):
        remote, names = self._locate(inode)
        return shown_path(remote, names)

