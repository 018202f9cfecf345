"""How far one render has written its file: readers wait here for the bytes they want.

A `RenderProgress` belongs to one render of one cache entry. The render task calls
`advance()` after each chunk reaches the file and then `complete()` or `fail()`; readers
(FUSE reads, a `stat` that needs the size) wait for a byte offset or for the end. It also
counts the processes reading the file while it renders, which the FUSE layer may use to
answer their `fstat` early (see `hubfs.fuse.content`). All methods run in the trio thread.
"""

import collections

import trio


class RenderProgress:
    def __init__(self, key, path):
        self.key = key
        # The file being written (renamed into the cache when complete); set by the render
        # before it reports its first byte.
        self.path = path
        self.written = 0
        self.size = None  # the exact size, once complete
        self.final_path = None
        self.data = None  # the bytes, when the render kept them in memory (no final path)
        self.error = None  # what ended the render, if it failed
        self.readers = collections.Counter()  # pid -> open handles while rendering
        self._changed = trio.Event()

    @property
    def running(self):
        return self.size is None and self.error is None

    def advance(self, nbytes):
        self.written += nbytes
        self._wake()

    def complete(self, final_path, data=None):
        self.size = self.written
        self.final_path = final_path
        self.data = data
        self._wake()

    def fail(self, error):
        self.error = error
        self._wake()

    def _wake(self):
        self._changed.set()
        self._changed = trio.Event()

    async def available(self, offset):
        """Wait until *offset* bytes are written or the render ended; return the bytes
        there are. Raises the render's error when it failed before *offset*."""
        while self.running and self.written < offset:
            await self._changed.wait()
        if self.error is not None and self.written < offset:
            raise self.error.with_traceback(None)
        return self.written

    async def finished(self):
        """Wait for the end; return the exact size or raise the render's error."""
        while self.running:
            await self._changed.wait()
        if self.error is not None:
            raise self.error.with_traceback(None)
        return self.size
