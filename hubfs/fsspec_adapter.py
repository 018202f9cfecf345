"""`hubfs://<remote>/<path>`: the node tree as an fsspec filesystem, for pandas and Dask.

A thin adapter over `hubfs.tree`: paths are walked from the remote's root with
`Dir.child()`, listings are `Dir.children()`, reads come from the same disk cache as the
mount (`hubfs.cache.rendering`: a finished job's `items.jl` rendered by a mount is not
rendered again here, nor the other way round), and writes go through the same spool and
journal with the same rule as a `close()` on the mount: the content is sent by `close()`,
which raises the send's error, and what failed to send stays in the journal (a mount of
the same cache directory, or `resend_pending()`, sends it later). Nothing here knows a
backend: a path that needs backend code means the node model is missing something.

The filesystem is built from a config file path only (`fsspec.filesystem("hubfs",
config=PATH)`, default the mount's `hubfs.cli.DEFAULT_CONFIG`): pickling it for Dask
workers carries that path, never a key, and each process opens the remotes itself.
Errors follow Python's file conventions (`FileNotFoundError`, `PermissionError`,
`IsADirectoryError`, ...), from the one errno table in `hubfs.errors`.
"""

import errno
import io
import os
import shutil
import threading
import time
import weakref

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from hubfs import errors
from hubfs.cache import rendering
from hubfs.cache.listings import ATTR_TTL
from hubfs.tree import Kind

IMMUTABLE_TTL = 3600.0  # seconds a looked-up immutable node is trusted without asking
_caches = {}  # (cache_dir, pid) -> ContentCache: one per process (its snapshot dir is)
_caches_lock = threading.Lock()


def os_error(exc, path):
    """The Python exception for a neutral hubfs error about *path*."""
    if isinstance(exc, errors.ReadOnly):
        return PermissionError(errno.EROFS, str(exc), path)
    if isinstance(exc, errors.ConfigError):
        return ValueError(str(exc))
    return OSError(errors.errno_for(exc), str(exc), path)


class HubfsFileSystem(AbstractFileSystem):
    """The configured remotes as one tree: `<remote>/<path>`; see the module docstring."""

    protocol = "hubfs"
    root_marker = ""

    def __init__(self, config=None, read_only=False, **kwargs):
        super().__init__(config=config, read_only=read_only, **kwargs)
        from hubfs.cli import DEFAULT_CONFIG
        from hubfs.config import load

        self.config_path = config or DEFAULT_CONFIG
        try:
            self.config = load(self.config_path)
        except errors.ConfigError as exc:
            raise ValueError(str(exc)) from None
        self.read_only = read_only
        self._lock = threading.Lock()
        self._remotes = {}
        self._nodes = {}  # path -> (node, trusted until)
        self._snapshots = {}  # path -> (Rendered snapshot of mutable content, fresh until)
        self._render_locks = {}  # path -> lock held while that path renders
        self._spool = None
        weakref.finalize(self, _close_remotes, self._remotes)

    # -- remotes, nodes and paths --------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path):
        path = super()._strip_protocol(path)
        return path.strip("/")

    def _remote(self, name):
        with self._lock:
            remote = self._remotes.get(name)
            if remote is None:
                if name not in self.config.remotes:
                    raise FileNotFoundError(errno.ENOENT, f"no remote {name!r} in "
                                            f"{self.config_path}", name)
                from hubfs.remotes import open_remotes

                remote = self._remotes[name] = open_remotes(self.config, only=name)[name]
        return remote

    @property
    def cache(self):
        from hubfs.cache.content import ContentCache

        key = (self.config.cache_dir, os.getpid())
        with _caches_lock:
            cache = _caches.get(key)
            if cache is None:
                cache = _caches[key] = ContentCache(self.config.cache_dir,
                                                    self.config.cache_max_bytes)
                weakref.finalize(cache, cache.close)
            return cache

    @property
    def spool(self):
        from hubfs.cache.spool import Spool

        if self._spool is None:
            self._spool = Spool(self.config.cache_dir, max_bytes=self.config.spool_max_bytes,
                                min_free=self.config.spool_min_free)
        return self._spool

    def _remember(self, path, node):
        ttl = getattr(node, "ttl", None)
        if ttl is None:
            ttl = IMMUTABLE_TTL if node.immutable else ATTR_TTL
        with self._lock:
            self._nodes[path] = (node, time.monotonic() + ttl)

    def _forget(self, path):
        with self._lock:
            for known in [p for p in self._nodes if p == path or p.startswith(path + "/")]:
                del self._nodes[known]
        self.invalidate_cache(self._parent(path))

    def _node(self, path):
        """The node at *path* (stripped), raising the neutral errors."""
        path = self._strip_protocol(path)
        if not path:
            raise errors.Unsupported("the root of hubfs:// lists the remotes; it is no node")
        with self._lock:
            known = self._nodes.get(path)
        if known is not None and known[1] > time.monotonic():
            return known[0]
        names = path.split("/")
        if len(names) == 1:
            node = self._remote(names[0]).root()
        else:
            parent = self._node("/".join(names[:-1]))
            if not parent.is_dir:
                raise errors.NotFound(f"{path}: {parent.name!r} is not a directory")
            node = parent.child(names[-1])
        self._remember(path, node)
        return node

    def _call(self, path, fn, *args):
        """Run *fn* and turn neutral errors into Python's, naming *path*."""
        try:
            return fn(*args)
        except errors.HubfsError as exc:
            raise os_error(exc, path) from None

    # -- listing and attributes ---------------------------------------------------------

    def _entry(self, path, node):
        entry = {"name": path, "type": "directory" if node.is_dir else "file",
                 "size": 0 if node.is_dir else self._known_size(node),
                 "mtime": node.mtime, "immutable": node.immutable}
        if not node.is_dir:
            entry["kind"] = node.kind.value
            entry["writable"] = bool(getattr(node, "writable", False))
        return entry

    def _known_size(self, node):
        """The size when known without rendering (a listing renders nothing), else None."""
        if node.kind is Kind.SIZED:
            return node.size
        key = node.cache_key() if node.immutable and node.kind is Kind.RENDERED else None
        hit = self.cache.lookup(key) if key else None
        return hit[1] if hit else None

    def ls(self, path, detail=True, **kwargs):
        path = self._strip_protocol(path)
        if not path:
            entries = [{"name": name, "type": "directory", "size": 0}
                       for name in sorted(self.config.remotes)]
        else:
            entries = self._call(path, self._list, path)
        return entries if detail else [entry["name"] for entry in entries]

    def _list(self, path):
        node = self._node(path)
        if not node.is_dir:
            return [self._entry(path, node)]
        entries = []
        for child in node.children():
            child_path = f"{path}/{child.name}"
            self._remember(child_path, child)
            entries.append(self._entry(child_path, child))
        return entries

    def info(self, path, **kwargs):
        """Attributes of *path*; a rendered file's size is exact, so asking renders it
        (into the disk cache when it is immutable), as `stat` on the mount does."""
        path = self._strip_protocol(path)
        if not path or (path in self.config.remotes and "/" not in path):
            if path and path not in self.config.remotes:
                raise FileNotFoundError(errno.ENOENT, "no such remote", path)
            return {"name": path, "type": "directory", "size": 0}
        return self._call(path, self._info, path)

    def _info(self, path):
        node = self._node(path)
        entry = self._entry(path, node)
        if not node.is_dir and entry["size"] is None:
            entry["size"] = self._content(path, node).size
        return entry

    def _content(self, path, node):
        # One render per path at a time: threads of one worker asking for the same file
        # wait for the first one's result (then a cache hit) instead of rendering again.
        with self._lock:
            lock = self._render_locks.setdefault(path, threading.Lock())
        with lock:
            if not node.immutable:
                fresh = self._fresh_snapshot(path)
                if fresh is not None:
                    return fresh
            rendered = rendering.content_of(self.cache, node, path.split("/")[0], "/" + path)
            if rendered.private:
                # Mutable content: this snapshot is what an open right after sees; keep it
                # as long as the mount would trust the size, then render again.
                self._remember_snapshot(path, rendered)
        return rendered

    def _remember_snapshot(self, path, rendered):
        with self._lock:
            old = self._snapshots.get(path)
            self._snapshots[path] = (rendered, time.monotonic() + ATTR_TTL)
        if old is not None:
            _unlink(old[0].path)

    def _fresh_snapshot(self, path):
        with self._lock:
            known = self._snapshots.get(path)
        if known is not None and known[1] > time.monotonic() and os.path.exists(known[0].path):
            return known[0]
        return None

    def _take_snapshot(self, path):
        """The fresh snapshot of *path*, no longer shared (its taker unlinks it), or None."""
        with self._lock:
            known = self._snapshots.pop(path, None)
        if known is None:
            return None
        if known[1] > time.monotonic():
            return known[0]
        _unlink(known[0].path)
        return None

    def exists(self, path, **kwargs):
        path = self._strip_protocol(path)
        if not path:
            return True
        try:
            self._call(path, self._node, path)
        except (FileNotFoundError, PermissionError):
            return False
        return True

    def isdir(self, path):
        path = self._strip_protocol(path)
        if not path:
            return True
        try:
            return self._call(path, self._node, path).is_dir
        except FileNotFoundError:
            return False

    def isfile(self, path):
        path = self._strip_protocol(path)
        try:
            return bool(path) and not self._call(path, self._node, path).is_dir
        except FileNotFoundError:
            return False

    def ukey(self, path):
        """What identifies the content without rendering it (Dask asks this of every
        input file while building its graph): the disk cache key of immutable content,
        else the path and the service's mtime."""
        from fsspec.utils import tokenize

        path = self._strip_protocol(path)
        node = self._call(path, self._node, path)
        key = node.cache_key() if not node.is_dir and node.immutable else None
        return tokenize(path, key or node.mtime)

    def size(self, path):
        return self.info(path)["size"]

    def modified(self, path):
        import datetime

        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], datetime.timezone.utc)

    # -- reading ----------------------------------------------------------------------

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None,
              **kwargs):
        path = self._strip_protocol(path)
        if "r" in mode and "+" not in mode:
            return self._call(path, self._open_read, path, block_size, cache_options)
        if mode in ("wb", "ab", "xb"):
            return self._call(path, self._open_write, path, mode)
        raise ValueError(f"hubfs://{path}: mode {mode!r} is not supported "
                         "(rb, wb, ab and xb are)")

    def _open_read(self, path, block_size, cache_options):
        node = self._node(path)
        if node.is_dir:
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if node.kind is Kind.SIZED:
            return SizedFile(self, path, node, block_size=block_size or "default",
                             cache_options=cache_options)
        if node.immutable:
            rendered = self._content(path, node)
        else:
            # The snapshot an `info()` just made (taken: one opener owns it), else a new one.
            rendered = self._take_snapshot(path) or rendering.content_of(
                self.cache, node, path.split("/")[0], "/" + path)
        handle = open(rendered.path, "rb")
        if rendered.private:
            _unlink(rendered.path)  # the open descriptor keeps this reader's snapshot
        return handle

    def cat_file(self, path, start=None, end=None, **kwargs):
        with self.open(path, "rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            start = 0 if start is None else (start if start >= 0 else max(0, size + start))
            end = size if end is None else (end if end >= 0 else max(0, size + end))
            handle.seek(start)
            return handle.read(max(0, end - start))

    # -- writing ----------------------------------------------------------------------

    def _writable_node(self, path, mode):
        parent_path, _, name = path.rpartition("/")
        if not parent_path:
            raise errors.ReadOnly(f"{path}: a remote's root cannot be written")
        try:
            node = self._node(path)
        except errors.NotFound:
            node = None
        if node is not None and mode == "xb":
            raise FileExistsError(errno.EEXIST, "file exists", path)
        if node is None:
            parent = self._make_dirs(parent_path)
            if self.read_only or not parent.writable:
                raise errors.ReadOnly(f"{path}: cannot create files here")
            node = parent.create(name)
            self._remember(path, node)
            self.invalidate_cache(parent_path)
        if node.is_dir:
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if self.read_only or not getattr(node, "writable", False):
            raise errors.ReadOnly(f"{path}: read-only")
        return node

    def _make_dirs(self, path):
        """The directory at *path*, made (locally, as `mkdir` on the mount does) where the
        service does not know it yet: it exists once something is written in it."""
        try:
            return self._node(path)
        except errors.NotFound:
            parent_path, _, name = path.rpartition("/")
            if not parent_path:
                raise
            parent = self._make_dirs(parent_path)
            node = parent.mkdir(name)
            self._remember(path, node)
            return node

    def _open_write(self, path, mode):
        node = self._writable_node(path, mode)
        remote, *names = path.split("/")
        spool_id, spool_path = self.spool.new_file()
        try:
            if mode == "ab" and node.write_mode != "append":
                # Appending to a replaced file: start from its present content.
                present = rendering.content_of(self.cache, node, remote, "/" + path)
                self._copy_present(node, present, spool_path, path)
        except BaseException:
            self.spool.discard(spool_id)
            raise
        return SpooledWriter(self, path, node, remote, names, spool_id, spool_path)

    def _copy_present(self, node, present, target, path):
        with open(target, "wb") as out:
            if present.path is None:
                offset = 0
                while offset < present.size:
                    block = rendering.read_exact(node, offset, min(1 << 20, present.size - offset),
                                                 node.version)
                    self.spool.reserve(len(block), "/" + path)
                    out.write(block)
                    offset += len(block)
            else:
                self.spool.reserve(present.size, "/" + path)
                with open(present.path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                if present.private:
                    _unlink(present.path)

    def cp_file(self, path1, path2, **kwargs):
        """Copy within hubfs: on the service when the backend can (`File.copy_from`, same
        remote), else the bytes through this process, sent like any write."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        source = self._call(path1, self._node, path1)
        if source.is_dir:
            raise IsADirectoryError(errno.EISDIR, "is a directory", path1)
        if path1.split("/")[0] == path2.split("/")[0]:
            target = self._call(path2, self._writable_node, path2, "wb")
            if self._call(path2, target.copy_from, source):
                self._forget(path2)
                return
        with self.open(path1, "rb") as src, self.open(path2, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

    def mkdir(self, path, create_parents=True, **kwargs):
        path = self._strip_protocol(path)
        if self.exists(path):
            raise FileExistsError(errno.EEXIST, "exists", path)
        parent_path, _, name = path.rpartition("/")
        if not create_parents and not self.isdir(parent_path):
            raise FileNotFoundError(errno.ENOENT, "no such directory", parent_path)

        def make():
            if self.read_only:
                raise errors.ReadOnly(f"{path}: read-only")
            self._make_dirs(path)

        self._call(path, make)

    def makedirs(self, path, exist_ok=False):
        path = self._strip_protocol(path)
        if self.isdir(path):
            if not exist_ok:
                raise FileExistsError(errno.EEXIST, "exists", path)
            return
        self.mkdir(path, create_parents=True)

    def rm_file(self, path):
        path = self._strip_protocol(path)

        def remove():
            if self.read_only:
                raise errors.ReadOnly(f"{path}: read-only")
            self._node(path).delete()

        self._call(path, remove)
        self._forget(path)

    def _rm(self, path):
        self.rm_file(path)

    def rmdir(self, path):
        self.rm_file(path)

    def resend_pending(self, remotes=None):
        """Send what the journal holds for *remotes* (default: every configured remote),
        as a mount does at start; returns the paths still pending."""
        from hubfs import sending

        left = []
        for entry in self.spool.pending():
            if entry["remote"] not in (remotes or self.config.remotes):
                continue
            path = "/".join([entry["remote"], *entry["path"]])
            try:
                node = self._call(path, self._writable_node, path, "wb")
                self._call(path, sending.send, self.spool, entry["id"], node,
                           entry["remote"], entry["path"])
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    continue  # dropped: malformed content can never be sent
                left.append("/" + path)
        return left

    def close(self):
        _close_remotes(self._remotes)


class SizedFile(AbstractBufferedFile):
    """A SIZED node read by range (fsspec's block cache in front of `node.read`)."""

    def __init__(self, fs, path, node, **kwargs):
        self.node = node
        self.version = node.version  # one open never mixes two versions of an object
        super().__init__(fs, path, mode="rb", size=node.size, **kwargs)

    def _fetch_range(self, start, end):
        return self.fs._call(self.path, rendering.read_exact, self.node, start, end - start,
                             self.version)


class SpooledWriter(io.RawIOBase):
    """A file open for writing: bytes go to a spool file, `close()` sends them.

    `close()` raises the send's error as `OSError` (EINVAL for malformed content, which
    is dropped; EIO, EACCES... for a failed send, whose content stays in the journal).
    """

    def __init__(self, fs, path, node, remote, names, spool_id, spool_path):
        super().__init__()
        self.fs = fs
        self.path = path
        self.node = node
        self.remote = remote
        self.names = names
        self.spool_id = spool_id
        self._file = open(spool_path, "r+b")
        self._file.seek(0, io.SEEK_END)
        self._failed = None

    def writable(self):
        return True

    def seekable(self):
        return False

    def tell(self):
        return self._file.tell()

    def write(self, data):
        if self.closed:
            raise ValueError("write to a closed file")
        try:
            self.fs.spool.reserve(len(data), "/" + self.path)
        except errors.SpoolFull as exc:
            self._failed = exc
            raise os_error(exc, self.path) from None
        return self._file.write(data)

    def close(self):
        if self.closed:
            return
        try:
            self._file.close()
            if self._failed is not None:
                self.fs.spool.discard(self.spool_id)
                raise os_error(type(self._failed)(f"{self._failed}; nothing was sent"), self.path)
            from hubfs import sending

            self.fs._call(self.path, sending.send, self.fs.spool, self.spool_id, self.node,
                          self.remote, self.names, self.node.write_mode)
            self.fs._forget(self.path)
        finally:
            super().close()

    def discard(self):
        """Drop what was written without sending it (an aborted write)."""
        if not self.closed:
            self._file.close()
            self.fs.spool.discard(self.spool_id)
            super().close()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()  # an exception inside `with`: the content may be incomplete
            return False
        self.close()
        return False


def _unlink(path):
    try:
        os.unlink(path)
    except (FileNotFoundError, TypeError):
        pass


def _close_remotes(remotes):
    for remote in list(remotes.values()):
        remote.close()
    remotes.clear()
