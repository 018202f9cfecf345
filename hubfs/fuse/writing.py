"""The write path: spooled writers, sends at close and fsync, renames, the resend loop.

A file opened for writing gets a `WriteHandle` over a spool data file (`hubfs.cache.spool`).
`write` stores bytes there (ENOSPC when the spool has no room). When is a write sent?
- At every `close` (FUSE `flush`) and `fsync` that comes after new data was written to
  the open file: its send's errno is what that `close`/`fsync` returns (DESIGN.md
  semantics 3-4). A flush with nothing new to send does nothing, which matters because a
  shell's `echo x > file` opens with O_TRUNC, `dup2`s the descriptor and closes the
  original before writing a byte: that first close must neither send an empty file nor
  give up the spool.
- At the last close (FUSE `release`) when the open changed the file but no flush sent it
  (an `O_TRUNC` open with nothing written, `: > file`): release has no caller to report
  to, so the result goes to the log, and a failure stays pending like any other.
A send journals the spooled file first, then calls the node's `commit(path, progress)`.
While the file stays open its spool stays with the handle: in replace mode the next send
sends the whole file again, in append mode the sent bytes are handed to the journal and
the handle continues in a fresh spool file, so appended lines are never sent twice.
A failed send of well-formed content stays in the journal and is sent again by the
background loop, by the next mount, or while `hubfs umount` waits; malformed content
(EINVAL) is dropped from the journal, since sending it again could never succeed. A send
that fails with something that is not a service error (a bug) is set aside whole, never
retried in a loop and never allowed to stop the daemon. Renaming a file whose bytes are
still only in the spool retargets it without any request.

Paths in the journal are `(remote, [names...])` so that a later mount, which has other
inode numbers, can find the node again: it walks the remote's tree by name, and names
the service does not know yet are made again (`mkdir()` for a directory on the way,
`create()` for the file).
"""

import logging
import os
import time

import trio

from hubfs import errors, sending, thread_hop
from hubfs.cache.spool import entry_path, shown_path

log = logging.getLogger(__name__)

RESEND_INTERVAL = 30.0  # seconds between passes over what failed to send
RETRY_PAUSE = 2.0


class WriteHandle:
    """One open-for-writing file: its spool file, what changed since the last send, and
    the node to send to."""

    def __init__(self, inode, node, spool_id, path, truncated=False, created=False):
        self.inode = inode
        self.node = node
        self.spool_id = spool_id
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        self.size = os.fstat(self.fd).st_size
        # Append mode: offsets the app uses start at the first write's (None until then).
        self.base = None if node.write_mode == "append" else 0
        self.changes = 0  # writes and truncates so far
        self.sent_changes = 0  # `changes` as of the last send attempt
        # Opened with O_TRUNC (or made by this open): the file changed even if nothing is
        # written; *created*: the name did not exist on the service before this open.
        self.truncated = truncated
        self.created = created
        self.failed = None  # the error of a write that did not go through

    @property
    def dirty(self):
        """Written since the last send attempt (what a flush must send)."""
        return self.changes != self.sent_changes

    @property
    def unsent(self):
        """Changed, and no send attempt has covered it yet (what release must send)."""
        return self.dirty or self.truncated

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

    def __init__(self, spool, limiter_of, locate, resolve):
        self.spool = spool
        self._limiter_of = limiter_of  # remote name -> its worker-thread limiter
        self._locate = locate  # inode number -> (remote, [names])
        self._resolve = resolve  # (remote, [names]) -> node (blocking; may create)
        self.handles = {}  # inode number -> set of open WriteHandles
        self._sending = set()  # spool ids being sent right now
        # One send per name at a time: two closes of the same key reach the service in
        # the order they complete here, so the last close wins there and in the mount.
        self._name_locks = {}
        self._wakeup = trio.Event()

    # -- opening -----------------------------------------------------------------------

    async def open(self, inode, node, truncate, fill=None, created=False):
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
        handle = WriteHandle(inode, node, spool_id, path, truncated=truncate, created=created)
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
        handle.changes += 1
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
        handle.changes += 1

    def open_length(self, inode):
        """The size of the newest open writer of *inode*, or None when none is open."""
        handles = self.handles.get(inode)
        if not handles:
            return None
        return max(handle.length for handle in handles)

    # -- sending -----------------------------------------------------------------------

    async def flush(self, handle, final=False):
        """Send what the handle changed since its last send; raises the mapped neutral
        error. With *final* (the last close) an O_TRUNC with nothing written counts as a
        change too."""
        if handle.failed is not None:
            # A write was refused: the content is incomplete and must never be sent.
            raise type(handle.failed)(f"{handle.failed}; nothing was sent")
        # Where an empty file is content (an object), the close of a file this open
        # created sends even with nothing written, so that close reports the error (a
        # shell's first close then sends an empty object its last close replaces). An
        # existing file truncated by O_TRUNC is not emptied on the service before the new
        # bytes arrive: that waits for the last close.
        counts_truncation = final or (handle.created and getattr(handle.node, "empty_is_content", False))
        if not (handle.unsent if counts_truncation else handle.dirty):
            return False
        remote, names = self._locate(handle.inode)
        handle.sent_changes = handle.changes
        handle.truncated = False  # this send covers the truncation too
        if handle.node.write_mode == "append":
            # The bytes go to the journal on their own; the handle writes on in a new
            # spool file, so that a later flush sends only what follows them.
            spool_id = handle.spool_id
            new_id, new_path = self.spool.new_file()
            handle.close()
            handle.base = handle.length
            handle.spool_id, handle.path, handle.size = new_id, new_path, 0
            handle.fd = os.open(new_path, os.O_RDWR)
            await self._send(spool_id, handle.node, remote, names, journal="append")
        else:
            await self._send(handle.spool_id, handle.node, remote, names, journal="replace",
                             keep_data=True)
        return True

    async def _send(self, spool_id, node, remote, names, journal=None, keep_data=False):
        """Send one spooled file (one worker-thread hop for journal, send and cleanup).
        A new failure (from a close, not from the resend loop itself) wakes the loop."""
        self._sending.add(spool_id)
        place = (remote, tuple(names))
        lock = self._name_locks.setdefault(place, [trio.Lock(), 0])
        lock[1] += 1
        try:
            # Taken without a pass through the scheduler when free (the common case; the
            # hop below yields anyway): a small file's send is worth shaving.
            try:
                lock[0].acquire_nowait()
            except trio.WouldBlock:
                await lock[0].acquire()
            try:
                # The cheap hop: one per sent file (a tenth of a small file's CPU).
                await thread_hop.run_sync(self._send_blocking, spool_id, node, remote, names,
                                          journal, keep_data, limiter=self._limiter_of(remote))
            finally:
                lock[0].release()
        except errors.HubfsError:
            if journal is not None:
                self._wakeup.set()
            raise
        finally:
            self._sending.discard(spool_id)
            lock[1] -= 1
            if not lock[1]:
                self._name_locks.pop(place, None)

    def _send_blocking(self, spool_id, node, remote, names, journal, keep_data):
        sending.send(self.spool, spool_id, node, remote, names, journal, keep_data)

    async def release(self, handle):
        """Last close of an open file. What a flush never sent (`: > file`) is sent now;
        a send that failed stays pending for the resend loop; a handle that wrote
        nothing leaves nothing behind. Returns True when something was sent."""
        sent = False
        try:
            if handle.failed is None and handle.unsent:
                try:
                    sent = await self.flush(handle, final=True)
                except errors.HubfsError as exc:
                    log.warning("%s: sending at the last close failed: %s",
                                self._where(handle.inode), exc)
        finally:
            handle.close()
            handles = self.handles.get(handle.inode, set())
            handles.discard(handle)
            if not handles:
                self.handles.pop(handle.inode, None)
            if self.spool.entry(handle.spool_id) is None:
                self.spool.discard(handle.spool_id)  # nothing pending there: nothing to keep
        return sent

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
        return moved or (bool(handles) and any(h.unsent for h in handles))

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
                                                     limiter=self._limiter_of(entry["remote"]))
                await self._send(entry["id"], node, entry["remote"], entry["path"])
                log.info("sent pending %s (%d bytes)", where, entry["size"])
            except errors.InvalidContent as exc:
                log.error("dropped pending %s: %s", where, exc)
            except errors.ServiceError as exc:
                if self.spool.entry(entry["id"]) is not None:
                    remaining += 1
                log.warning("pending %s not sent yet: %s", where, exc)
            except errors.HubfsError as exc:
                remaining += 1
                log.warning("pending %s not sent yet: %s", where, exc)
            except Exception as exc:  # finding the node hit a bug: never stop the loop
                await trio.to_thread.run_sync(
                    self.spool.set_aside, entry["id"],
                    f"resending failed unexpectedly: {type(exc).__name__}: {exc}", entry)
        return remaining

    def _where(self, inode):
        remote, names = self._locate(inode)
        return shown_path(remote, names)

