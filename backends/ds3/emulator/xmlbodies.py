"""XML bodies the emulator answers with, in DS3's dialect or plain S3's.

DS3 sends no XML namespace, PascalCase element names, lowercase booleans and job fields as
attributes of `MasterObjectList`; its errors carry `HttpErrorCode` (the Python SDK does
`int()` on it unconditionally) and `ResourceId`. Plain S3 puts everything in the
`http://s3.amazonaws.com/doc/2006-03-01/` namespace and its errors carry `RequestId`.
Bodies are built with ElementTree so names and values are always escaped correctly.
"""

from __future__ import annotations

import itertools
import time
import xml.etree.ElementTree as ET
from typing import Iterable, Optional

from hubfs.emulation import Response

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_CT = "application/xml"
DS3_XML_CT = "text/xml;charset=UTF-8"
OWNER_ID = "8a3b2d7e-5f0c-4d1e-9a6b-0c2d4e6f8a10"
OWNER_NAME = "hubfs"
_request_ids = itertools.count(1)


def iso(ts: float) -> str:
    """2026-01-03T13:26:47.000Z, the timestamp form both dialects use."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


def http_date(ts: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


class Dialect:
    """Which of the two services this emulator plays: "ds3" or "s3"."""

    def __init__(self, mode: str):
        if mode not in ("ds3", "s3"):
            raise ValueError(f"mode must be 'ds3' or 's3', not {mode!r}")
        self.mode = mode
        self.ds3 = mode == "ds3"

    def root(self, tag: str) -> ET.Element:
        element = ET.Element(tag)
        if not self.ds3:
            element.set("xmlns", S3_NS)
        return element

    def response(self, root: ET.Element, status: int = 200, headers: Optional[list] = None) -> Response:
        body = ET.tostring(root, encoding="utf-8", xml_declaration=not self.ds3)
        out = [("Content-Type", DS3_XML_CT if self.ds3 else XML_CT)]
        out.extend(headers or [])
        return Response(status, body, out)

    def error(self, status: int, code: str, message: str, resource: str = "",
              headers: Optional[list] = None) -> Response:
        root = ET.Element("Error")
        _sub(root, "Code", code)
        request_id = next(_request_ids)
        if self.ds3:
            _sub(root, "HttpErrorCode", status)
            _sub(root, "Message", message)
            _sub(root, "Resource", resource)
            _sub(root, "ResourceId", request_id)
        else:
            _sub(root, "Message", message)
            _sub(root, "Resource", resource)
            _sub(root, "RequestId", request_id)
        body = ET.tostring(root, encoding="utf-8", xml_declaration=not self.ds3)
        out = [("Content-Type", DS3_XML_CT if self.ds3 else XML_CT), ("x-amz-request-id", str(request_id))]
        out.extend(headers or [])
        return Response(status, body, out)

    # -- S3 bodies

    def owner(self, parent: ET.Element) -> None:
        owner = _sub(parent, "Owner")
        _sub(owner, "ID", OWNER_ID)
        _sub(owner, "DisplayName", OWNER_NAME)

    def service(self, buckets: Iterable) -> Response:
        root = self.root("ListAllMyBucketsResult")
        self.owner(root)
        holder = _sub(root, "Buckets")
        for bucket in buckets:
            entry = _sub(holder, "Bucket")
            _sub(entry, "Name", bucket.name)
            _sub(entry, "CreationDate", iso(bucket.created))
        return self.response(root)

    def contents(self, parent: ET.Element, obj) -> None:
        entry = _sub(parent, "Contents")
        _sub(entry, "Key", obj.key)
        _sub(entry, "LastModified", iso(obj.mtime))
        _sub(entry, "ETag", f'"{obj.etag}"')
        _sub(entry, "Size", obj.size)
        _sub(entry, "StorageClass", "STANDARD")
        self.owner(entry)

    def listing(self, bucket, listing, *, prefix: str, delimiter: str, max_keys: int,
                marker: Optional[str] = None, v2: Optional[dict] = None) -> Response:
        root = self.root("ListBucketResult")
        _sub(root, "Name", bucket.name)
        _sub(root, "Prefix", prefix)
        if v2 is None:
            _sub(root, "Marker", marker or "")
        else:
            if v2.get("token"):
                _sub(root, "ContinuationToken", v2["token"])
            if v2.get("start_after"):
                _sub(root, "StartAfter", v2["start_after"])
            _sub(root, "KeyCount", len(listing.contents) + len(listing.prefixes))
        _sub(root, "MaxKeys", max_keys)
        if delimiter:
            _sub(root, "Delimiter", delimiter)
        _sub(root, "IsTruncated", "true" if listing.truncated else "false")
        if listing.truncated:
            if v2 is None:
                _sub(root, "NextMarker", listing.next_marker)
            else:
                _sub(root, "NextContinuationToken", listing.next_marker)
        elif self.ds3 and v2 is None:
            _sub(root, "NextMarker")  # DS3 sends it empty on the last page
        if self.ds3:
            _sub(root, "CreationDate", iso(bucket.created))
        for obj in listing.contents:
            self.contents(root, obj)
        for common in listing.prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", common)
        return self.response(root)

    def delete_result(self, deleted: list, failed: list, quiet: bool) -> Response:
        root = self.root("DeleteResult")
        if not quiet:
            for key in deleted:
                _sub(_sub(root, "Deleted"), "Key", key)
        for key, code, message in failed:
            entry = _sub(root, "Error")
            _sub(entry, "Key", key)
            _sub(entry, "Code", code)
            _sub(entry, "Message", message)
        return self.response(root)

    def copy_result(self, obj) -> Response:
        root = self.root("CopyObjectResult")
        _sub(root, "LastModified", iso(obj.mtime))
        _sub(root, "ETag", f'"{obj.etag}"')
        return self.response(root)

    def initiate(self, bucket: str, key: str, upload_id: str) -> Response:
        root = self.root("InitiateMultipartUploadResult")
        _sub(root, "Bucket", bucket)
        _sub(root, "Key", key)
        _sub(root, "UploadId", upload_id)
        return self.response(root)

    def complete(self, location: str, bucket: str, key: str, etag: str) -> Response:
        root = self.root("CompleteMultipartUploadResult")
        _sub(root, "Location", location)
        _sub(root, "Bucket", bucket)
        _sub(root, "Key", key)
        _sub(root, "ETag", f'"{etag}"')
        return self.response(root)

    def parts(self, bucket: str, key: str, upload_id: str, parts: list) -> Response:
        root = self.root("ListPartsResult")
        _sub(root, "Bucket", bucket)
        _sub(root, "Key", key)
        _sub(root, "UploadId", upload_id)
        _sub(root, "IsTruncated", "false")
        for number, (size, etag, mtime) in sorted(parts):
            part = _sub(root, "Part")
            _sub(part, "PartNumber", number)
            _sub(part, "LastModified", iso(mtime))
            _sub(part, "ETag", f'"{etag}"')
            _sub(part, "Size", size)
        return self.response(root)

    def uploads(self, bucket: str, uploads: list) -> Response:
        root = self.root("ListMultipartUploadsResult")
        _sub(root, "Bucket", bucket)
        _sub(root, "IsTruncated", "false")
        for upload_id, key, started in uploads:
            entry = _sub(root, "Upload")
            _sub(entry, "Key", key)
            _sub(entry, "UploadId", upload_id)
            _sub(entry, "Initiated", iso(started))
        return self.response(root)

    # -- DS3 bulk bodies

    def master_object_list(self, job, chunks, retry_after: Optional[int] = None) -> Response:
        root = ET.Element("MasterObjectList")
        attrs = {
            "Aggregating": "false", "BucketName": job.bucket,
            "CachedSizeInBytes": job.completed_size,
            "ChunkClientProcessingOrderGuarantee": "NONE" if job.request_type == "GET" else "IN_ORDER",
            "CompletedSizeInBytes": job.completed_size, "EntirelyInCache": "false", "JobId": job.id,
            "Naked": "false", "Name": job.name, "OriginalSizeInBytes": job.size, "Priority": "NORMAL",
            "RequestType": job.request_type, "StartDate": iso(job.started), "Status": job.status,
            "UserId": OWNER_ID, "UserName": job.user or OWNER_NAME,
        }
        for name, value in attrs.items():
            root.set(name, str(value))
        nodes = _sub(root, "Nodes")
        ET.SubElement(nodes, "Node", {"EndPoint": "127.0.0.1", "Id": OWNER_ID})
        for chunk in chunks:
            holder = ET.SubElement(root, "Objects", {"ChunkId": chunk.id, "ChunkNumber": str(chunk.number),
                                                     "NodeId": OWNER_ID})
            for blob in chunk.blobs:
                ET.SubElement(holder, "Object", {
                    "Id": blob.id, "InCache": "true" if blob.done else "false", "Latest": "true",
                    "Length": str(blob.length), "Name": blob.name, "Offset": str(blob.offset),
                })
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return self.response(root, headers=headers)

    def jobs(self, jobs: list) -> Response:
        root = ET.Element("Jobs")
        for job in jobs:
            ET.SubElement(root, "Job", {
                "BucketName": job.bucket, "CachedSizeInBytes": str(job.completed_size),
                "CompletedSizeInBytes": str(job.completed_size), "JobId": job.id,
                "OriginalSizeInBytes": str(job.size), "Priority": "NORMAL", "RequestType": job.request_type,
                "StartDate": iso(job.started), "Status": job.status, "UserName": job.user or OWNER_NAME,
            })
        return self.response(root)

    def spectra_bucket(self, bucket, status: int = 201) -> Response:
        root = ET.Element("Data")
        _sub(root, "CreationDate", iso(bucket.created))
        _sub(root, "Id", bucket.id)
        _sub(root, "Name", bucket.name)
        _sub(root, "UserId", OWNER_ID)
        return self.response(root, status)
