"""A loopback blob server for `tests.blobstore`: objects on disk, ranged GETs, ETags.

`GET /objects/` lists `{"name", "size", "etag", "mtime"}`; `GET /objects/<name>` serves
the object, or with `Range: bytes=a-b` that slice (206), read with `pread` so no request
copies a whole object; `If-Match` with another ETag answers 412. A bearer token is
checked (401 otherwise). `short_by` makes the server lie: ranged answers that many
bytes short with a matching Content-Length, which only the reader's own check can catch.
"""

import hashlib
import json
import os
import re

from hubfs.emulation import EmulatorServer, Router, empty_response, json_response, stream_response
from hubfs.emulation.responses import Response

TOKEN = "blob-demo-token-0123456789"


class Store:
    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.short_by = 0

    def path(self, name):
        return os.path.join(self.root, name)

    def put(self, name, data=None, size=None, seed=0):
        """Write an object: *data*, or *size* deterministic pseudo-random bytes."""
        with open(self.path(name), "wb") as out:
            if data is not None:
                out.write(data)
            else:
                block = hashlib.sha512(str(seed).encode()).digest() * 16384  # 1 MiB
                left = size
                while left > 0:
                    out.write(block[:left])
                    left -= len(block)

    def entry(self, name):
        info = os.stat(self.path(name))
        etag = hashlib.sha1(f"{name}:{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()
        return {"name": name, "size": info.st_size, "etag": f'"{etag}"', "mtime": int(info.st_mtime)}

    def entries(self):
        return [self.entry(name) for name in sorted(os.listdir(self.root))]


def create_server(root, port=0, token=TOKEN):
    store = Store(root)
    router = Router()

    def listing(request):
        return json_response(store.entries())

    def get(request):
        name = request.match["name"]
        if not os.path.isfile(store.path(name)):
            return empty_response(404)
        entry = store.entry(name)
        match = request.header("If-Match")
        if match is not None and match != entry["etag"]:
            return empty_response(412)
        headers = [("ETag", entry["etag"])]
        ranged = re.fullmatch(r"bytes=(\d+)-(\d+)", request.header("Range") or "")
        if ranged is None:
            return stream_response(_chunks(store.path(name), 0, entry["size"]), headers=headers,
                                   content_type="application/octet-stream")
        start, end = int(ranged.group(1)), min(int(ranged.group(2)), entry["size"] - 1)
        with open(store.path(name), "rb") as fh:
            data = os.pread(fh.fileno(), max(0, end - start + 1 - store.short_by), start)
        headers.append(("Content-Range", f"bytes {start}-{end}/{entry['size']}"))
        return Response(206, data, headers + [("Content-Type", "application/octet-stream")])

    router.add("GET", r"/objects/", listing)
    router.add("GET", r"/objects/(?P<name>[^/]+)", get)

    def auth(request):
        if request.header("Authorization") != f"Bearer {token}":
            return json_response({"error": "bad token"}, 401)
        return None

    server = EmulatorServer(router, port=port, auth=auth, name="blobstore")
    server.state = store
    return server


def _chunks(path, start, size):
    with open(path, "rb") as fh:
        offset = start
        while offset < start + size:
            data = os.pread(fh.fileno(), min(1 << 20, start + size - offset), offset)
            if not data:
                return
            yield data
            offset += len(data)


def remote_options(server, token=TOKEN):
    return {"type": "tests.blobstore", "url": server.url, "token": token}


if __name__ == "__main__":  # `python -m tests.blobstore.emulator ROOT PORT` (benchmarks)
    import sys

    from hubfs.emulation import serve_forever

    server = create_server(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(json.dumps(remote_options(server)), flush=True)
    serve_forever(server)
