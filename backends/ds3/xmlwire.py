"""Reading the XML both dialects answer, whatever its namespace.

DS3 sends no namespace, S3 servers send `http://s3.amazonaws.com/doc/2006-03-01/`: every
lookup here uses ElementTree's `{*}` wildcard so one parser reads both. A body that is
not the XML expected becomes `ServiceError` naming where it came from, never a crash
deep in a listing.
"""

import calendar
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from hubfs.errors import ServiceError


@dataclass
class Entry:
    key: str
    size: int
    mtime: float
    etag: str


@dataclass
class Page:
    entries: list      # Entry
    prefixes: list     # common prefixes (str)
    next_marker: str   # "" on the last page


@dataclass
class BlobInfo:
    name: str
    offset: int
    length: int
    in_cache: bool


@dataclass
class ChunkInfo:
    id: str
    number: int
    blobs: list        # BlobInfo


@dataclass
class JobInfo:
    id: str
    status: str
    chunks: list       # ChunkInfo


def parse(body, where):
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ServiceError(f"{where}: the answer is not XML ({exc})") from None


def text(element, name, default=""):
    """The text of the child *name* of *element*, in any namespace."""
    value = element.findtext("{*}" + name)
    return default if value is None else value


def iso_time(value):
    """Seconds since the epoch of `2026-01-03T13:26:47.000Z` (0.0 when empty or odd)."""
    if not value:
        return 0.0
    try:
        base, _, rest = value.rstrip("Z").partition(".")
        seconds = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
        fraction = float("0." + rest) if rest.isdigit() else 0.0
        return seconds + fraction
    except ValueError:
        return 0.0


def buckets(body, where):
    root = parse(body, where)
    return [(text(b, "Name"), iso_time(text(b, "CreationDate"))) for b in root.findall(".//{*}Buckets/{*}Bucket")]


def listing(body, where):
    root = parse(body, where)
    entries = []
    for item in root.findall("{*}Contents"):
        try:
            size = int(text(item, "Size", "0"))
        except ValueError:
            raise ServiceError(f"{where}: object {text(item, 'Key')!r} has no valid Size") from None
        entries.append(Entry(text(item, "Key"), size, iso_time(text(item, "LastModified")),
                             text(item, "ETag").strip('"')))
    prefixes = [text(p, "Prefix") for p in root.findall("{*}CommonPrefixes")]
    truncated = text(root, "IsTruncated").lower() == "true"
    marker = ""
    if truncated:
        # DS3 always sends NextMarker; S3 only with a delimiter (V1): fall back to the
        # last key or prefix, whichever sorts last. V2 sends NextContinuationToken.
        marker = text(root, "NextContinuationToken") or text(root, "NextMarker")
        if not marker:
            marker = max([e.key for e in entries] + prefixes, default="")
        if not marker:
            raise ServiceError(f"{where}: a truncated listing gave nothing to continue from")
    return Page(entries, prefixes, marker)


def master_object_list(body, where):
    root = parse(body, where)
    chunks = []
    for holder in root.findall("{*}Objects"):
        blobs = [BlobInfo(b.get("Name", ""), int(b.get("Offset", "0")), int(b.get("Length", "0")),
                          b.get("InCache", "false").lower() == "true")
                 for b in holder.findall("{*}Object")]
        chunks.append(ChunkInfo(holder.get("ChunkId", ""), int(holder.get("ChunkNumber", "0") or 0), blobs))
    job_id = root.get("JobId")
    if not job_id:
        raise ServiceError(f"{where}: the answer names no JobId")
    return JobInfo(job_id, root.get("Status", ""), chunks)


def upload_id(body, where):
    value = text(parse(body, where), "UploadId")
    if not value:
        raise ServiceError(f"{where}: no UploadId in the answer")
    return value


def complete_error(body, where):
    """S3 may answer 200 with an <Error> to CompleteMultipartUpload: its text, or ''."""
    root = parse(body, where)
    if root.tag.rsplit("}", 1)[-1] == "Error":
        return f"{text(root, 'Code')}: {text(root, 'Message')}"
    return ""
