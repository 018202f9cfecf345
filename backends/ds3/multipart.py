"""Writing one object to plain S3: a single PUT when small, a multipart upload when big.

Parts are `part_size` bytes (the last one shorter), read from the spool file and sent
`PARALLEL_PARTS` at a time; each acknowledged part (number and ETag) is recorded in the
commit's progress, so a resend after a crash continues the same upload and sends only
the parts the server has not acknowledged; the server's own list of parts (ListParts)
adds those whose answer was lost with a killed daemon. An upload the server no longer
knows (404 NoSuchUpload) starts again from the first part.
"""

import logging
import os
import threading
import xml.etree.ElementTree as ET

from hubfs import errors

from . import xmlwire
from .settle import settle
from .client import object_path

log = logging.getLogger(__name__)

PARALLEL_PARTS = 4


def put_object(client, bucket, key, path, part_size, threshold, progress=None):
    """Send the file at *path* as *key*; returns the new ETag."""
    size = os.path.getsize(path)
    if size <= threshold:
        with open(path, "rb") as source:
            data = source.read()
        if len(data) != size:
            raise errors.Transient(f"{client.name}: PUT {bucket}/{key}: the spool file changed while read")
        return client.put(bucket, key, data)
    return _multipart(client, bucket, key, path, size, part_size, progress)


def _multipart(client, bucket, key, path, size, part_size, progress):
    where = f"{client.name}: PUT {bucket}/{key}"
    opath = object_path(bucket, key)
    state = getattr(progress, "state", None) or {}
    upload = None
    done = {}
    if state.get("upload_id") and state.get("size") == size and state.get("part_size") == part_size:
        upload = state["upload_id"]
        done = {int(n): etag for n, etag in state.get("parts", {}).items()}
        try:
            done.update(_listed_parts(client, opath, upload, size, part_size))
        except errors.NotFound:
            upload, done = None, {}  # the server dropped it: start again
    if upload is not None:
        log.info("%s: resuming multipart upload, %d part(s) already acknowledged", where, len(done))
    if upload is None:
        done = {}
        response = client.send("POST", opath, params={"uploads": ""}, data=b"", idempotent=True)
        upload = xmlwire.upload_id(response.content, f"{where} (initiate)")
        if progress is not None:
            progress.record(upload_id=upload, size=size, part_size=part_size, parts={})
    count = (size + part_size - 1) // part_size
    lock = threading.Lock()

    def send_part(number):
        offset = (number - 1) * part_size
        length = min(part_size, size - offset)
        with open(path, "rb") as source:
            data = os.pread(source.fileno(), length, offset)
        if len(data) != length:
            raise errors.Transient(f"{where}: the spool file is shorter than {offset + length} bytes")
        etag = client.put(bucket, key, data, params={client.q("part_number"): str(number),
                                                     client.q("upload_id"): upload})
        with lock:
            done[number] = etag
            if progress is not None:
                progress.record(parts={str(n): e for n, e in done.items()})

    todo = [n for n in range(1, count + 1) if n not in done]
    try:
        settle(send_part, todo, PARALLEL_PARTS)
    except errors.NotFound:
        if progress is not None:
            progress.record(upload_id=None, parts={})
        raise errors.Transient(f"{where}: the server dropped multipart upload {upload}; it starts "
                               "again at the next send") from None
    root = ET.Element("CompleteMultipartUpload")
    for number in range(1, count + 1):
        part = ET.SubElement(root, "Part")
        ET.SubElement(part, "PartNumber").text = str(number)
        ET.SubElement(part, "ETag").text = f'"{done[number]}"'
    response = client.send("POST", opath, params={client.q("upload_id"): upload},
                           data=ET.tostring(root, encoding="utf-8"), idempotent=True,
                           headers={"Content-Type": "application/xml"})
    problem = xmlwire.complete_error(response.content, f"{where} (complete)")
    if problem:
        raise errors.Transient(f"{where}: completing the upload failed: {problem}")
    log.debug("%s: %d parts sent", where, count)
    return xmlwire.text(xmlwire.parse(response.content, where), "ETag").strip('"')


def _listed_parts(client, opath, upload, size, part_size):
    """{part number: ETag} of the parts the server holds with their full length."""
    response = client.send("GET", opath, params={client.q("upload_id"): upload})
    root = xmlwire.parse(response.content, f"{client.name}: GET {opath} (list parts)")
    held = {}
    for part in root.findall("{*}Part"):
        try:
            number, length = int(xmlwire.text(part, "PartNumber")), int(xmlwire.text(part, "Size"))
        except ValueError:
            continue
        if length == min(part_size, size - (number - 1) * part_size):
            held[number] = xmlwire.text(part, "ETag").strip('"')
    return held
