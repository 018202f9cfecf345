"""The node tree of a DS3 or S3 remote: buckets as directories, `/` in keys as folders.

`<bucket>/<key path...>`: each bucket is a directory; a listing with delimiter `/` gives
the files (objects, with their size, LastModified and ETag straight from the listing, no
request per entry) and the sub-directories (common prefixes) of one level, streamed page
by page. A folder object (a zero-length key ending in `/`, what `mkdir` makes) shows as
the directory itself and is not listed as a file. A name that is both an object and a
prefix shows as the directory. Key components are escaped into file names with hubfs's
one reversible rule (`%2F`, `%%` for an empty component, ...).

Objects are SIZED, writable files: reads go to the remote's `Transfer` (bulk GET jobs on
DS3, ranged GETs on S3), a close sends the spooled content (bulk PUT job or single PUT /
multipart upload), `rm` deletes the key, `mkdir` puts a folder object, `rmdir` removes
it once nothing else is under it. Renames are the core's copy-then-delete.
"""

import logging
import os
import time

from hubfs import errors
from hubfs.tree import Dir, File, Kind

from hubfs.names import file_name, unescape

log = logging.getLogger(__name__)

PAGE = 1000


def _key_name(name):
    key = unescape(name)
    if "/" in key or not key:
        raise errors.InvalidContent(f"{name!r} cannot be an object name component")
    return key


class Buckets(Dir):
    """The remote's root: one directory per bucket (from GET service, or the configured list)."""

    writable = True

    def __init__(self, transfer, started, only=None):
        super().__init__("", started)
        self.transfer = transfer
        self.client = transfer.client
        self.only = only

    def children(self):
        if self.only:
            for name in self.only:
                yield Folder(self.transfer, name, "", self.mtime)
            return
        for name, created in sorted(self.client.list_buckets()):
            if file_name(name) == name:
                yield Folder(self.transfer, name, "", created or self.mtime)

    def child(self, name):
        if self.only is not None and name not in self.only:
            raise errors.NotFound(f"{self.client.name}: bucket {name!r} is not configured")
        if not self.client.bucket_exists(name):
            raise errors.NotFound(f"{self.client.name}: no bucket {name!r}")
        return Folder(self.transfer, name, "", self.mtime)

    def mkdir(self, name):
        self.client.create_bucket(name)
        made = Folder(self.transfer, name, "", time.time())
        made.made_on_service = True
        return made


class Folder(Dir):
    """A bucket (prefix "") or a folder inside one (prefix ending in `/`)."""

    writable = True
    create_is_local = True  # `create` makes the node; the first close sends it

    def __init__(self, transfer, bucket, prefix, mtime):
        name = bucket if not prefix else file_name(prefix[:-1].rsplit("/", 1)[-1])
        super().__init__(name, mtime)
        self.transfer = transfer
        self.client = transfer.client
        self.bucket = bucket
        self.prefix = prefix

    def _object(self, entry):
        return ObjectFile(self.transfer, self.bucket, entry.key, entry.size, entry.mtime, entry.etag)

    def children(self):
        marker = ""
        seen_dirs = set()
        listed = []  # (key, size, etag) in listing order: DS3 shares read jobs along it
        while True:
            page = self.client.list_page(self.bucket, self.prefix, "/", marker, PAGE)
            for common in page.prefixes:
                name = file_name(common[len(self.prefix):-1])
                if name is not None and name not in seen_dirs:
                    seen_dirs.add(name)
                    yield Folder(self.transfer, self.bucket, common, self.mtime)
            for entry in page.entries:
                rest = entry.key[len(self.prefix):]
                name = file_name(rest) if rest else None
                if name is not None and name not in seen_dirs:
                    listed.append((entry.key, entry.size, entry.etag))
                    yield self._object(entry)
            if not page.next_marker:
                self.transfer.note_listing(self.bucket, self.prefix, listed)
                return
            marker = page.next_marker

    def child(self, name):
        key = self.prefix + _key_name(name)
        marker = ""
        found = None
        # One listing of the name as a prefix answers both "is it an object" and "is it a
        # folder"; other keys sharing the start (`name.txt`) may push it to a later page.
        for _ in range(100):
            page = self.client.list_page(self.bucket, key, "/", marker, PAGE)
            if key + "/" in page.prefixes:
                return Folder(self.transfer, self.bucket, key + "/", self.mtime)
            for entry in page.entries:
                if entry.key == key:
                    found = entry
            if not page.next_marker or (found and page.next_marker > key + "/"):
                break
            marker = page.next_marker
        if found is not None:
            return self._object(found)
        if not self.prefix and not self.client.bucket_exists(self.bucket):
            raise errors.NotFound(f"{self.client.name}: no bucket {self.bucket!r}")
        raise errors.NotFound(f"{self.client.name}: no object {self.bucket}/{key}")

    def create(self, name):
        # Nothing is sent yet: the first close sends the content, an empty object
        # included (`ObjectFile.empty_is_content`: `touch`, empty files of `cp -r`).
        return ObjectFile(self.transfer, self.bucket, self.prefix + _key_name(name), 0,
                          time.time(), None)

    def mkdir(self, name):
        prefix = self.prefix + _key_name(name) + "/"
        self.transfer.put_folder(self.bucket, prefix)
        made = Folder(self.transfer, self.bucket, prefix, time.time())
        made.made_on_service = True  # the folder object exists now: rmdir removes it
        return made

    def delete(self):
        if not self.prefix:
            self.client.delete_bucket(self.bucket)
            return
        page = self.client.list_page(self.bucket, self.prefix, "", "", 2)
        if any(entry.key != self.prefix for entry in page.entries):
            raise errors.NotEmpty(f"{self.client.name}: {self.bucket}/{self.prefix} is not empty")
        try:
            self.client.delete(self.bucket, self.prefix)
        except errors.NotFound:
            pass  # a folder that only existed as the prefix of keys now gone


class ObjectFile(File):
    """One object: exact size and LastModified from the listing, ETag as `version`."""

    kind = Kind.SIZED
    writable = True
    empty_is_content = True  # an empty object is an object

    def __init__(self, transfer, bucket, key, size, mtime, etag):
        super().__init__(file_name(key.rsplit("/", 1)[-1]), mtime)
        self.transfer = transfer
        self.bucket = bucket
        self.key = key
        self.size = size
        self.version = etag

    def read(self, offset, length, version=None):
        return self.transfer.read(self, offset, length, version)

    def commit(self, path, progress):
        etag = self.transfer.write(self.bucket, self.key, path, progress)
        self.size = os.path.getsize(path)
        self.mtime = time.time()
        self.version = etag or None

    def copy_from(self, source):
        """Server-side copy where the service has one (S3); DS3 has none."""
        etag = self.transfer.copy(source.bucket, source.key, self.bucket, self.key)
        if etag is False:
            return False
        self.size, self.mtime, self.version = source.size, time.time(), etag or None
        return True

    def delete(self):
        self.transfer.delete(self.bucket, self.key)
