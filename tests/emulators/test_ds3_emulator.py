"""The DS3/S3 emulator against the clients it must satisfy, over real HTTP on 127.0.0.1.

S3 mode is checked with boto3 (the official AWS client from PyPI, unchanged). The
Spectra DS3 Python SDK is not on PyPI, so DS3 mode is checked with requests built the way
that SDK (v5.8.3, `ds3/ds3network.py`) builds them: path quoted with `urllib.parse.quote`,
`Date` from `email.utils.formatdate()`, `application/octet-stream` signed only when a
body is sent, a `Range` header put into the signature's checksum slot, query not signed;
and the answers are read with the element and attribute names the SDK's models parse
(`ListAllMyBucketsResult` > `Buckets` > `Bucket` > `Name`/`CreationDate`, `ListBucketResult`
> `Contents` > `Key`/`Size`/`LastModified`/`ETag`, `CommonPrefixes` > `Prefix`,
`NextMarker`, `IsTruncated`; `MasterObjectList@JobId/@Status/@RequestType`, `Objects@ChunkId/
@ChunkNumber`, `Object@Name/@Offset/@Length/@InCache`; `Error` > `Code`/`HttpErrorCode`/
`Message`).
"""

import base64
import email.utils
import hashlib
import hmac
import io
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import botocore.exceptions
import pytest
import requests
from boto3.s3.transfer import TransferConfig

from backends.ds3.emulator import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, JobSettings, create_server
from backends.ds3.emulator.auth import sign_v2
from backends.ds3.emulator.seed import demo_objects
from hubfs.emulation import start_in_thread

MIB = 1024 * 1024


# -- a request signed the way the Spectra Python 3 SDK signs it ---------------------------

def sdk_request(url, method, path, params=None, body=None, headers=None, secret=DEMO_SECRET_KEY):
    quoted = urllib.parse.quote(path)
    date = email.utils.formatdate()
    headers = dict(headers or {})
    slot = headers.get("Range", "")
    resource = quoted + ("?delete" if params and "delete" in params else "")
    content_type = "application/octet-stream" if body is not None else ""
    if body is not None:
        headers["Content-Type"] = content_type
    text = f"{method}\n{slot}\n{content_type}\n{date}\n{resource}"
    signature = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    headers.update(Date=date, Authorization=f"AWS {DEMO_ACCESS_KEY}:{signature}")
    query = "&".join(k if v is None else f"{k}={urllib.parse.quote(str(v))}" for k, v in (params or {}).items())
    return requests.request(method, url.rstrip("/") + quoted + ("?" + query if query else ""),
                            data=body, headers=headers, allow_redirects=False)


@pytest.fixture(scope="module")
def ds3():
    with start_in_thread(create_server("demo", mode="ds3", settings=JobSettings(blob_size=MIB))) as handle:
        yield handle


@pytest.fixture
def board(ds3):
    """The emulator's job settings, restored after the test."""
    settings = ds3.state.jobs.settings
    saved = dict(vars(settings))
    yield settings
    vars(settings).update(saved)


@pytest.fixture(scope="module")
def s3():
    with start_in_thread(create_server("demo", mode="s3")) as handle:
        yield handle


def boto(handle, secret=DEMO_SECRET_KEY):
    return boto3.client("s3", endpoint_url=handle.url, aws_access_key_id=DEMO_ACCESS_KEY,
                        aws_secret_access_key=secret, region_name="us-east-1")


# -- signatures ---------------------------------------------------------------------------

def test_sigv2_matches_the_published_vectors():
    # The Go SDK's unit test vector and three strings computed from the protocol note.
    assert sign_v2("key", "PUT\n\n\nTue, 31 Jul 2018 17:23:50 +0000\n"
                   "abc/1%2B2%2B3/e%20f%20g/a%C3%80%CB%A0%CF%A0%E0%AB%90%E0%BC%BA%E1%8E%80") == \
        "gmW4yg/tw02UYleIqGn5ebvKbr8="
    date = "Tue, 20 Jan 2015 17:33:25 -0000"
    assert sign_v2("secretkey", f"PUT\n\napplication/octet-stream\n{date}\n/_rest_/bucket/books") == \
        "eHRoq6iurq2r0jgiLBxcD4xZyUs="
    assert sign_v2("secretkey", f"GET\n\n\n{date}\n/_rest_/job_chunk") == "aYfU3iETC8osOafzp15aMhU+jJw="
    assert sign_v2("secretkey", f"PUT\n\napplication/octet-stream\n{date}\nx-amz-meta-name1:value1\n"
                   "/books/folder/beowulf%20v2.txt") == "FMjxD6QCJ1qoyuUtK0h+uWlspKY="


def test_ds3_refuses_a_bad_secret_with_its_error_body(ds3):
    response = sdk_request(ds3.url, "GET", "/", secret="wrong")
    assert response.status_code == 403
    root = ET.fromstring(response.content)
    assert root.tag == "Error" and root.findtext("Code") == "SignatureDoesNotMatch"
    assert int(root.findtext("HttpErrorCode")) == 403  # the SDK int()s it unconditionally
    assert requests.get(ds3.url).status_code == 403     # no Authorization at all


def test_ds3_refuses_sigv4(ds3):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto(ds3).list_buckets()
    assert caught.value.response["Error"]["Code"] == "InvalidSecurity"


# -- DS3: the S3 subset ------------------------------------------------------------------

def test_ds3_service_and_listing_without_namespace(ds3):
    root = ET.fromstring(sdk_request(ds3.url, "GET", "/").content)
    assert root.tag == "ListAllMyBucketsResult"  # no xmlns: the SDK does root.find('Owner')
    assert root.find("Owner/DisplayName") is not None
    names = [b.findtext("Name") for b in root.findall("Buckets/Bucket")]
    assert names == ["books", "data"] and all(b.findtext("CreationDate") for b in root.findall("Buckets/Bucket"))

    page = ET.fromstring(sdk_request(ds3.url, "GET", "/books", {"max_keys": 3}).content)
    keys = [c.findtext("Key") for c in page.findall("Contents")]
    expected = sorted(demo_objects()["books"])
    assert keys == expected[:3] and page.findtext("IsTruncated") == "true"
    assert page.findtext("NextMarker") == expected[2]  # DS3 sends NextMarker even without delimiter
    rest = ET.fromstring(sdk_request(ds3.url, "GET", "/books", {"max-keys": 100,
                                                                 "marker": expected[2]}).content)
    assert [c.findtext("Key") for c in rest.findall("Contents")] == expected[3:]
    assert rest.findtext("IsTruncated") == "false" and rest.findtext("NextMarker") in ("", None)
    first = page.find("Contents")
    assert int(first.findtext("Size")) == len(demo_objects()["books"][expected[0]])
    assert first.findtext("LastModified").endswith("Z") and first.findtext("ETag")

    rolled = ET.fromstring(sdk_request(ds3.url, "GET", "/books", {"delimiter": "/", "prefix": "folder/"}).content)
    assert [p.findtext("Prefix") for p in rolled.findall("CommonPrefixes")] == ["folder/folder2/"]
    assert rolled.findall("Contents") == []


def test_ds3_head_get_range_put_delete(ds3):
    content = demo_objects()["books"]["beowulf.txt"]
    head = sdk_request(ds3.url, "HEAD", "/books/beowulf.txt")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(content)
    part = sdk_request(ds3.url, "GET", "/books/beowulf.txt", headers={"Range": "bytes=10-29"})
    assert part.status_code == 206 and part.content == content[10:30]
    assert part.headers["Content-Range"] == f"bytes 10-29/{len(content)}"
    name = "/books/new dir/a+b;c.txt"
    assert sdk_request(ds3.url, "PUT", name, body=b"naked put").status_code == 200
    assert sdk_request(ds3.url, "GET", name).content == b"naked put"
    assert sdk_request(ds3.url, "DELETE", name).status_code == 204
    missing = sdk_request(ds3.url, "DELETE", name)
    assert missing.status_code == 404 and ET.fromstring(missing.content).findtext("HttpErrorCode") == "404"
    assert sdk_request(ds3.url, "HEAD", "/books/no-such").status_code == 404
    assert sdk_request(ds3.url, "HEAD", "/no-such-bucket").status_code == 404


def test_ds3_folder_delete(ds3):
    for key in ("trash/a.txt", "trash/sub/b.txt", "trashcan.txt"):
        assert sdk_request(ds3.url, "PUT", f"/books/{key}", body=b"x").status_code == 200
    response = sdk_request(ds3.url, "DELETE", "/_rest_/folder/trash", {"bucket_id": "books", "recursive": None})
    assert response.status_code == 204
    keys = sorted(ds3.state.store.bucket("books").objects)
    assert "trashcan.txt" in keys and not any(k.startswith("trash/") for k in keys)
    again = sdk_request(ds3.url, "DELETE", "/_rest_/folder/trash", {"bucket_id": "books", "recursive": None})
    assert again.status_code == 404
    sdk_request(ds3.url, "DELETE", "/books/trashcan.txt")


# -- DS3: bulk jobs ------------------------------------------------------------------------

def start_job(url, bucket, operation, objects):
    root = ET.Element("Objects")
    for attrs in objects:
        ET.SubElement(root, "Object", attrs)
    response = sdk_request(url, "PUT", f"/_rest_/bucket/{bucket}", {"operation": operation},
                           body=ET.tostring(root))
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


def chunks_ready(url, job_id):
    response = sdk_request(url, "GET", "/_rest_/job_chunk", {"job": job_id})
    assert response.status_code == 200 and "Retry-After" in response.headers
    return ET.fromstring(response.content), response


def test_bulk_put_in_blobs_waiting_for_chunks(ds3, board):
    board.chunk_blobs, board.ready_after, board.window, board.retry_after = 2, 2, 1, 3
    data = bytes(range(256)) * (10 * 1024) + b"tail"   # 2.5 MiB + 4 bytes: 3 blobs of <= 1 MiB
    mol = start_job(ds3.url, "books", "start_bulk_put", [{"Name": "bulk/one.bin", "Size": str(len(data))}])
    assert mol.tag == "MasterObjectList" and mol.get("RequestType") == "PUT"
    assert mol.get("Status") == "IN_PROGRESS"
    job = mol.get("JobId")
    chunks = mol.findall("Objects")
    assert [c.get("ChunkNumber") for c in chunks] == ["1", "2"]
    blobs = [(o.get("Name"), int(o.get("Offset")), int(o.get("Length")), o.get("InCache"))
             for c in chunks for o in c.findall("Object")]
    assert blobs == [("bulk/one.bin", 0, MIB, "false"), ("bulk/one.bin", MIB, MIB, "false"),
                     ("bulk/one.bin", 2 * MIB, len(data) - 2 * MIB, "false")]
    # Not in cache yet: a blob PUT is answered 307 ("busy, send again"), chunks-ready is empty.
    early = sdk_request(ds3.url, "PUT", "/books/bulk/one.bin", {"job": job, "offset": 0}, body=data[:MIB])
    assert early.status_code == 307
    for _ in range(2):
        empty, response = chunks_ready(ds3.url, job)
        assert empty.findall("Objects") == [] and response.headers["Retry-After"] == "3"
    sent = 0
    for _ in range(10):
        ready, _ = chunks_ready(ds3.url, job)
        for chunk in ready.findall("Objects"):
            for blob in chunk.findall("Object"):
                offset, length = int(blob.get("Offset")), int(blob.get("Length"))
                put = sdk_request(ds3.url, "PUT", "/books/bulk/one.bin", {"job": job, "offset": offset},
                                  body=data[offset:offset + length])
                assert put.status_code == 200
                sent += 1
        if sent == 3:
            break
    assert sent == 3
    status = ET.fromstring(sdk_request(ds3.url, "GET", f"/_rest_/job/{job}").content)
    assert status.get("Status") == "COMPLETED"
    assert sdk_request(ds3.url, "GET", "/books/bulk/one.bin").content == data
    assert sdk_request(ds3.url, "GET", "/_rest_/job_chunk", {"job": job}).status_code == 404


def test_bulk_put_refuses_wrong_blob_length(ds3):
    mol = start_job(ds3.url, "books", "start_bulk_put", [{"Name": "bulk/short.bin", "Size": "10"}])
    job = mol.get("JobId")
    chunks_ready(ds3.url, job)
    bad = sdk_request(ds3.url, "PUT", "/books/bulk/short.bin", {"job": job, "offset": 0}, body=b"12345")
    assert bad.status_code == 400 and ET.fromstring(bad.content).findtext("HttpErrorCode") == "400"
    assert sdk_request(ds3.url, "DELETE", f"/_rest_/job/{job}", {"force": None}).status_code == 204
    assert sdk_request(ds3.url, "DELETE", f"/_rest_/job/{job}", {"force": None}).status_code == 404
    assert "bulk/short.bin" not in ds3.state.store.bucket("books").objects


def test_bulk_get_with_job_offset_and_range(ds3):
    content = demo_objects()["data"]["blobs/three-mib.bin"]
    mol = start_job(ds3.url, "data", "start_bulk_get", [{"Name": "blobs/three-mib.bin"}])
    assert mol.get("RequestType") == "GET"
    job = mol.get("JobId")
    offsets = sorted(int(o.get("Offset")) for o in mol.iter("Object"))
    assert offsets == [0, MIB, 2 * MIB, 3 * MIB]
    ready, _ = chunks_ready(ds3.url, job)
    assert ready.findall("Objects")
    whole = sdk_request(ds3.url, "GET", "/data/blobs/three-mib.bin", {"job": job, "offset": MIB})
    assert whole.status_code == 200 and whole.content == content[MIB:2 * MIB]
    # Ranges with job+offset use absolute object offsets; several come back concatenated.
    multi = sdk_request(ds3.url, "GET", "/data/blobs/three-mib.bin", {"job": job, "offset": 2 * MIB},
                        headers={"Range": f"bytes={2 * MIB + 5}-{2 * MIB + 9},{2 * MIB + 100}-{2 * MIB + 199}"})
    assert multi.status_code == 206
    assert multi.content == content[2 * MIB + 5:2 * MIB + 10] + content[2 * MIB + 100:2 * MIB + 200]
    outside = sdk_request(ds3.url, "GET", "/data/blobs/three-mib.bin", {"job": job, "offset": 0},
                          headers={"Range": f"bytes={MIB}-{MIB + 10}"})
    assert outside.status_code == 416
    jobs = ET.fromstring(sdk_request(ds3.url, "GET", "/_rest_/job").content)
    assert job in [j.get("JobId") for j in jobs.findall("Job")]
    missing = sdk_request(ds3.url, "PUT", "/_rest_/bucket/data", {"operation": "start_bulk_get"},
                          body=b'<Objects><Object Name="nope"/></Objects>')
    assert missing.status_code == 404 and ET.fromstring(missing.content).findtext("Code")


def test_bulk_get_not_ready_is_answered_busy(ds3, board):
    board.ready_after = 5
    mol = start_job(ds3.url, "books", "start_bulk_get", [{"Name": "ulysses.txt"}])
    job = mol.get("JobId")
    assert sdk_request(ds3.url, "GET", "/books/ulysses.txt", {"job": job, "offset": 0}).status_code == 307
    empty, response = chunks_ready(ds3.url, job)
    assert empty.findall("Objects") == [] and int(response.headers["Retry-After"]) >= 0


# -- S3 mode with boto3 ----------------------------------------------------------------------

def test_boto3_lists_with_prefix_delimiter_and_pages(s3):
    client = boto(s3)
    assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["books", "data"]
    top = client.list_objects_v2(Bucket="books", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["empty/", "folder/"]
    assert "beowulf.txt" in [c["Key"] for c in top["Contents"]]
    pages = client.get_paginator("list_objects").paginate(Bucket="books", PaginationConfig={"PageSize": 2})
    keys = [c["Key"] for page in pages for c in page.get("Contents", [])]
    assert keys == sorted(demo_objects()["books"])
    pages_v2 = client.get_paginator("list_objects_v2").paginate(Bucket="books", Prefix="folder/",
                                                                PaginationConfig={"PageSize": 1})
    assert [c["Key"] for page in pages_v2 for c in page.get("Contents", [])] == \
        ["folder/folder2/iliad.txt", "folder/folder2/lesmis.txt"]


def test_boto3_put_get_range_head_delete(s3):
    client = boto(s3)
    client.put_object(Bucket="books", Key="boto/x y.txt", Body=b"hello world", Metadata={"k": "v"})
    head = client.head_object(Bucket="books", Key="boto/x y.txt")
    assert head["ContentLength"] == 11 and head["Metadata"] == {"k": "v"}
    assert head["ETag"] == '"%s"' % hashlib.md5(b"hello world").hexdigest()
    assert client.get_object(Bucket="books", Key="boto/x y.txt", Range="bytes=6-")["Body"].read() == b"world"
    client.copy_object(Bucket="books", Key="boto/copy.txt", CopySource={"Bucket": "books", "Key": "boto/x y.txt"})
    assert client.get_object(Bucket="books", Key="boto/copy.txt")["Body"].read() == b"hello world"
    client.delete_objects(Bucket="books", Delete={"Objects": [{"Key": "boto/x y.txt"}, {"Key": "boto/copy.txt"}]})
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.head_object(Bucket="books", Key="boto/x y.txt")
    assert caught.value.response["Error"]["Code"] == "404"
    client.delete_object(Bucket="books", Key="boto/never-was")  # S3: 204 for a missing key


def test_boto3_multipart(s3):
    client = boto(s3)
    data = hashlib.sha256(b"seed").digest() * (13 * MIB // 32)
    client.upload_fileobj(io.BytesIO(data), "books", "boto/big.bin",
                          Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB))
    head = client.head_object(Bucket="books", Key="boto/big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    out = io.BytesIO()
    client.download_fileobj("books", "boto/big.bin", out, Config=TransferConfig(multipart_chunksize=4 * MIB))
    assert out.getvalue() == data
    upload = client.create_multipart_upload(Bucket="books", Key="boto/aborted.bin")["UploadId"]
    client.upload_part(Bucket="books", Key="boto/aborted.bin", UploadId=upload, PartNumber=1, Body=b"x" * 100)
    assert [p["PartNumber"] for p in client.list_parts(Bucket="books", Key="boto/aborted.bin",
                                                       UploadId=upload)["Parts"]] == [1]
    client.abort_multipart_upload(Bucket="books", Key="boto/aborted.bin", UploadId=upload)
    client.delete_object(Bucket="books", Key="boto/big.bin")


def test_boto3_refused_with_a_wrong_secret_and_missing_bucket(s3):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto(s3, secret="wrong").list_buckets()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        boto(s3).list_objects_v2(Bucket="no-such-bucket")
    assert caught.value.response["Error"]["Code"] == "NoSuchBucket"
    root = ET.fromstring(requests.get(s3.url).content)
    assert root.tag == "Error"  # plain S3 errors: no HttpErrorCode needed, but a Code
