"""`tests.blobstore`: the smallest sized-file backend, for testing and benchmarking the core.

A remote of `type = "tests.blobstore"` (a backend outside the registry, loaded by module
path) shows the objects of a blob server (`tests.blobstore.emulator`) as SIZED files
with their sizes, ETags and times from one listing. Reads are ranged GETs pinned to the
ETag seen at open (`If-Match`), so the core's read-ahead reader, block budget, version
pinning and short-read checks can be exercised with large objects before the real
object-store backends exist, and measured against reading the same bytes straight from
the server. It is not a user-facing backend.
"""

from hubfs import errors, tree
from hubfs.config import Option

OPTIONS = {
    "url": Option(str, required=True, help="base URL of the blob server"),
    "token": Option(str, required=True, secret=True, help="bearer token"),
}


class Remote(tree.Remote):
    def __init__(self, name, options, policy=None):
        super().__init__(name, options)
        from hubfs.http import DEFAULT_POLICY, HttpClient

        self.url = options["url"].rstrip("/") + "/"
        self.http = HttpClient(name, headers={"Authorization": f"Bearer {options['token']}"},
                               policy=policy or DEFAULT_POLICY, pool_size=16)

    def check(self):
        self.listing()

    def listing(self):
        return self.http.request("GET", self.url + "objects/").json()

    def root(self):
        return Bucket(self)

    def close(self):
        self.http.close()


class Bucket(tree.Dir):
    def __init__(self, remote):
        super().__init__("", 0.0)
        self.remote = remote

    def children(self):
        for entry in self.remote.listing():
            yield Blob(self.remote, entry)

    def child(self, name):
        for entry in self.remote.listing():
            if entry["name"] == name:
                return Blob(self.remote, entry)
        raise errors.NotFound(f"{self.remote.name}: no object {name!r}")


class Blob(tree.File):
    kind = tree.Kind.SIZED

    def __init__(self, remote, entry):
        super().__init__(entry["name"], entry["mtime"], immutable=True)
        self.remote = remote
        self.size = entry["size"]
        self.version = entry["etag"]

    def read(self, offset, length, version=None):
        if length <= 0:
            return b""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        if version is not None:
            headers["If-Match"] = version
        response = self.remote.http.request("GET", self.remote.url + "objects/" + self.name,
                                            headers=headers, expect=(206, 412))
        if response.status_code == 412:
            raise errors.Conflict(f"{self.remote.name}: {self.name} changed since it was opened "
                                  f"(ETag {version} is gone)")
        return response.content
