"""The S3 subset both dialects answer: service, buckets, listings, objects, multipart.

Query names are accepted in every spelling the clients use: DS3 SDKs send snake_case
(`max_keys`, `upload_id`, `part_number`), AWS clients `max-keys`, `uploadId`,
`partNumber`. A GET or PUT that names a bulk `job` and blob `offset` (DS3 only) goes to
the job board; without them it is a "naked" request on the whole object. Object bytes
go out as `FileSlice`s (see `serving`). DS3 answers a DELETE of a missing object with 404,
S3 with 204; everything else differs only in the XML dialect.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

from hubfs.emulation import HTTPError, Request, Response, empty_response

from .serving import FileSlice
from .state import Ds3State
from .store import StoreError
from .xmlbodies import http_date

_RANGE_RE = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


def spellings(name: str) -> tuple[str, ...]:
    """`max_keys` -> (max_keys, max-keys, maxKeys, MaxKeys)."""
    parts = name.split("_")
    camel = parts[0] + "".join(p.title() for p in parts[1:])
    return (name, "-".join(parts), camel, camel[:1].upper() + camel[1:])


def param(request: Request, name: str, default=None):
    for spelling in spellings(name):
        if spelling in request.query:
            return request.query.get(spelling)
    return default


def has(request: Request, name: str) -> bool:
    return any(spelling in request.query for spelling in spellings(name))


def int_param(request: Request, name: str, default: int) -> int:
    value = param(request, name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise StoreError(400, "InvalidArgument", f"{name} must be an integer, not {value!r}") from None


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """(offset, length) spans of a `Range: bytes=...` header; raises StoreError 416."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise StoreError(416, "InvalidRange", f"unsupported range {header!r}")
    spans = []
    for part in spec.split(","):
        match = _RANGE_RE.fullmatch(part)
        if not match or match.group(1) == match.group(2) == "":
            raise StoreError(416, "InvalidRange", f"unsupported range {header!r}")
        first, last = match.groups()
        if first == "":
            length = min(int(last), size)
            start = size - length
        else:
            start = int(first)
            end = size - 1 if last == "" else min(int(last), size - 1)
            length = end - start + 1
        if start >= size or length <= 0:
            raise StoreError(416, "InvalidRange", "The requested range is not satisfiable")
        spans.append((start, length))
    return spans


def user_meta(request: Request) -> dict:
    return {key.lower(): value for key, value in request.headers.items()
            if key.lower().startswith("x-amz-meta-")}


class ObjectAPI:
    def __init__(self, state: Ds3State):
        self.state = state
        self.store = state.store
        self.x = state.dialect

    # -- service and buckets

    def service(self, request: Request) -> Response:
        with self.store.lock:
            buckets = sorted(self.store.buckets.values(), key=lambda b: b.name)
        return self.x.service(buckets)

    def put_bucket(self, request: Request) -> Response:
        self.store.create_bucket(request.match["bucket"])
        return empty_response(200, headers={"Location": "/" + request.match["bucket"]})

    def head_bucket(self, request: Request) -> Response:
        self.store.bucket(request.match["bucket"])
        return empty_response(200)

    def delete_bucket(self, request: Request) -> Response:
        self.store.delete_bucket(request.match["bucket"])
        return empty_response(204)

    def get_bucket(self, request: Request) -> Response:
        name = request.match["bucket"]
        bucket = self.store.bucket(name)
        if request.method == "HEAD":
            return empty_response(200)
        if "uploads" in request.query:
            with self.state.uploads_lock:
                uploads = [(u.id, u.key, u.started) for u in self.state.uploads.values() if u.bucket == name]
            return self.x.uploads(name, uploads)
        if "location" in request.query:
            root = self.x.root("LocationConstraint")
            return self.x.response(root)
        if "versioning" in request.query:
            return self.x.response(self.x.root("VersioningConfiguration"))
        prefix = param(request, "prefix", "") or ""
        delimiter = param(request, "delimiter", "") or ""
        max_keys = max(0, min(int_param(request, "max_keys", 1000), 1000))
        if param(request, "list_type") == "2":
            token = param(request, "continuation_token") or ""
            start_after = param(request, "start_after") or ""
            marker = token or start_after
            listing = self.store.list(name, prefix, delimiter, marker, max_keys)
            return self.x.listing(bucket, listing, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                                  v2={"token": token, "start_after": start_after})
        marker = param(request, "marker", "") or ""
        listing = self.store.list(name, prefix, delimiter, marker, max_keys)
        return self.x.listing(bucket, listing, prefix=prefix, delimiter=delimiter, max_keys=max_keys,
                              marker=marker)

    def post_bucket(self, request: Request) -> Response:
        name = request.match["bucket"]
        if "delete" not in request.query:
            raise StoreError(400, "InvalidRequest", "unsupported POST on a bucket", f"/{name}")
        self.store.bucket(name)
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            raise StoreError(400, "MalformedXML", "the delete request is not valid XML", f"/{name}") from None
        quiet = (root.findtext("{*}Quiet") or "").lower() == "true"
        deleted, failed = [], []
        for entry in root.findall(".//{*}Object"):
            key = entry.findtext("{*}Key")
            if key is None:
                continue
            if self.store.delete(name, key) or not self.x.ds3:
                deleted.append(key)
            else:
                failed.append((key, "NoSuchKey", "The specified key does not exist"))
        return self.x.delete_result(deleted, failed, quiet)

    # -- objects

    def _object_headers(self, obj) -> list:
        headers = [("ETag", f'"{obj.etag}"'), ("Last-Modified", http_date(obj.mtime)),
                   ("Accept-Ranges", "bytes"), ("Content-Type", obj.content_type)]
        if self.x.ds3:
            headers += [("version-id", obj.version), ("ds3-blob-checksum-type", "NONE")]
        headers += list(obj.meta.items())
        return headers

    def get_object(self, request: Request) -> Response:
        bucket, key = request.match["bucket"], request.match["key"]
        if has(request, "upload_id"):
            return self.list_parts(request)
        if self.x.ds3 and has(request, "job"):
            return self._get_blob(request, bucket, key)
        obj = self.store.get(bucket, key)
        wanted = request.header("If-Match")
        if wanted and wanted.strip() != "*" and obj.etag not in [t.strip().strip('"') for t in wanted.split(",")]:
            raise StoreError(412, "PreconditionFailed", "At least one of the pre-conditions you specified "
                             "did not hold", f"/{bucket}/{key}")
        headers = self._object_headers(obj)
        range_header = request.header("Range")
        if not range_header or obj.size == 0:
            return Response(200, FileSlice(obj.path, [(0, obj.size)]), headers)
        try:
            spans = parse_ranges(range_header, obj.size)
        except StoreError as exc:
            exc.resource = f"/{bucket}/{key}"
            exc.headers = [("Content-Range", f"bytes */{obj.size}")]
            raise
        headers.append(("Content-Range", self._content_range(spans, obj.size)))
        return Response(206, FileSlice(obj.path, spans), headers)

    @staticmethod
    def _content_range(spans, size) -> str:
        return "bytes " + ",".join(f"{start}-{start + length - 1}" for start, length in spans) + f"/{size}"

    def _get_blob(self, request: Request, bucket: str, key: str) -> Response:
        job_id = param(request, "job")
        offset = int_param(request, "offset", 0)
        job, blob, target = self.state.jobs.sent(job_id, key, offset)
        if target.source is None or not os.path.exists(target.source):
            raise StoreError(410, "Gone", "the object changed after the job started", f"/{bucket}/{key}")
        headers = [("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        range_header = request.header("Range")
        if range_header and blob.length:
            spans = parse_ranges(range_header, target.size)
            for start, length in spans:
                if start < blob.offset or start + length > blob.offset + blob.length:
                    raise StoreError(416, "InvalidRange", "a range with job and offset must lie inside "
                                     "the blob", f"/{bucket}/{key}")
            headers.append(("Content-Range", self._content_range(spans, target.size)))
            status = 206
        else:
            spans = [(blob.offset, blob.length)]
            status = 200
        self.state.jobs.mark_sent(job, blob, spans)
        return Response(status, FileSlice(target.source, spans), headers)

    def put_object(self, request: Request) -> Response:
        bucket, key = request.match["bucket"], request.match["key"]
        if request.header("Content-Length") is None and request.header("Transfer-Encoding") is None:
            raise StoreError(411, "MissingContentLength", "You must provide the Content-Length HTTP header.",
                             f"/{bucket}/{key}")
        md5 = request.header("Content-MD5")
        if md5:
            actual = base64.b64encode(hashlib.md5(request.body).digest()).decode()
            if actual != md5.strip():
                raise StoreError(400, "BadDigest", "The Content-MD5 you specified did not match what we "
                                 "received.", f"/{bucket}/{key}")
        if has(request, "upload_id"):
            return self.put_part(request, bucket, key)
        if self.x.ds3 and has(request, "job"):
            self.state.jobs.receive(param(request, "job"), key, int_param(request, "offset", 0), request.body)
            return empty_response(200)
        source = request.header("x-amz-copy-source")
        if source:
            return self.copy_object(request, bucket, key, source)
        obj = self.store.put_bytes(bucket, key, request.body, user_meta(request),
                                   request.header("Content-Type"))
        return empty_response(200, headers={"ETag": f'"{obj.etag}"'})

    def copy_object(self, request: Request, bucket: str, key: str, source: str) -> Response:
        source = unquote(source.split("?", 1)[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        replace = (request.header("x-amz-metadata-directive") or "").upper() == "REPLACE"
        obj = self.store.copy(src_bucket, src_key, bucket, key,
                              user_meta(request) if replace else None,
                              request.header("Content-Type") if replace else None)
        return self.x.copy_result(obj)

    def delete_object(self, request: Request) -> Response:
        bucket, key = request.match["bucket"], request.match["key"]
        if has(request, "upload_id"):
            with self.state.uploads_lock:
                upload = self.state.uploads.pop(param(request, "upload_id"), None)
            if upload is None:
                raise StoreError(404, "NoSuchUpload", "The specified upload does not exist.", f"/{bucket}/{key}")
            for path, *_ in upload.parts.values():
                os.unlink(path)
            return empty_response(204)
        if not self.store.delete(bucket, key) and self.x.ds3:
            raise StoreError(404, "NoSuchKey", "The specified key does not exist", f"/{bucket}/{key}")
        return empty_response(204)

    # -- multipart

    def post_object(self, request: Request) -> Response:
        bucket, key = request.match["bucket"], request.match["key"]
        if "uploads" in request.query:
            self.store.bucket(bucket)
            upload = self.state.new_upload(bucket, key, user_meta(request), request.header("Content-Type"))
            return self.x.initiate(bucket, key, upload.id)
        if has(request, "upload_id"):
            return self.complete(request, bucket, key)
        raise StoreError(400, "InvalidRequest", "unsupported POST on an object", f"/{bucket}/{key}")

    def _upload(self, request: Request, bucket: str, key: str):
        with self.state.uploads_lock:
            upload = self.state.uploads.get(param(request, "upload_id"))
        if upload is None or upload.bucket != bucket or upload.key != key:
            raise StoreError(404, "NoSuchUpload", "The specified upload does not exist.", f"/{bucket}/{key}")
        return upload

    def put_part(self, request: Request, bucket: str, key: str) -> Response:
        upload = self._upload(request, bucket, key)
        number = int_param(request, "part_number", 0)
        if not 1 <= number <= 10000:
            raise StoreError(400, "InvalidArgument", "Part number must be an integer between 1 and 10000",
                             f"/{bucket}/{key}")
        path = self.store.new_path() + f".part{number}"
        with open(path, "wb") as out:
            out.write(request.body)
        etag = hashlib.md5(request.body).hexdigest()
        with self.state.uploads_lock:
            old = upload.parts.get(number)
            upload.parts[number] = (path, len(request.body), etag, self.store.clock())
        if old:
            os.unlink(old[0])
        return empty_response(200, headers={"ETag": f'"{etag}"'})

    def list_parts(self, request: Request) -> Response:
        bucket, key = request.match["bucket"], request.match["key"]
        upload = self._upload(request, bucket, key)
        with self.state.uploads_lock:
            parts = [(n, (size, etag, mtime)) for n, (_, size, etag, mtime) in upload.parts.items()]
        return self.x.parts(bucket, key, upload.id, parts)

    def complete(self, request: Request, bucket: str, key: str) -> Response:
        upload = self._upload(request, bucket, key)
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError:
            raise StoreError(400, "MalformedXML", "The XML you provided was not well-formed.",
                             f"/{bucket}/{key}") from None
        wanted = []
        for part in root.findall(".//{*}Part"):
            number = part.findtext("{*}PartNumber")
            etag = (part.findtext("{*}ETag") or "").strip().strip('"')
            wanted.append((int(number), etag))
        if not wanted or [n for n, _ in wanted] != sorted(n for n, _ in wanted):
            raise StoreError(400, "InvalidPartOrder", "The list of parts was not in ascending order.",
                             f"/{bucket}/{key}")
        with self.state.uploads_lock:
            parts = dict(upload.parts)
        for number, etag in wanted:
            if number not in parts or parts[number][2] != etag:
                raise StoreError(400, "InvalidPart", f"part {number} was not uploaded with that ETag",
                                 f"/{bucket}/{key}")
        path = self.store.new_path()
        digests = b""
        size = 0
        with open(path, "wb") as out:
            for number, _ in wanted:
                part_path, part_size, etag, _ = parts[number]
                with open(part_path, "rb") as src:
                    copied = 0
                    while copied < part_size:
                        count = os.copy_file_range(src.fileno(), out.fileno(), part_size - copied)
                        if count == 0:
                            break
                        copied += count
                digests += bytes.fromhex(etag)
                size += part_size
        etag = f"{hashlib.md5(digests).hexdigest()}-{len(wanted)}"
        self.store.install(bucket, key, path, size, etag, upload.meta, upload.content_type)
        with self.state.uploads_lock:
            self.state.uploads.pop(upload.id, None)
        for part_path, *_ in parts.values():
            os.unlink(part_path)
        return self.x.complete(f"/{bucket}/{key}", bucket, key, etag)


def store_error_response(state: Ds3State, exc: StoreError) -> Response:
    headers = list(getattr(exc, "headers", []) or [])
    if exc.status == 307:
        # DS3's "busy, resend the same request": no Location, the client just sends again.
        return empty_response(307, headers=headers)
    return state.dialect.error(exc.status, exc.code, exc.message, exc.resource, headers)


def guarded(state: Ds3State, handler):
    """Wrap *handler* so a `StoreError` raised anywhere below becomes the error body."""
    def run(request: Request) -> Response:
        try:
            return handler(request)
        except StoreError as exc:
            raise HTTPError(store_error_response(state, exc)) from None
    run.__name__ = getattr(handler, "__name__", "handler")
    return run
