"""The ds3 and s3 backends' trees against the emulator (both modes) and against moto's S3
server, over real HTTP on 127.0.0.1: listings, byte-exact reads, bulk jobs that make the
client wait, busy and failing answers, uploads (bulk PUT, single PUT, multipart) and
their resumption from recorded progress."""

import hashlib
import os
import socket
import subprocess
import sys
import time

import pytest

import backends
from backends.ds3.emulator import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, JobSettings, create_server, remote_options
from backends.ds3.emulator.seed import binary, demo_objects
from backends.ds3.signing import v2_signature, v2_string_to_sign
from hubfs import errors
from hubfs.emulation import start_in_thread
from hubfs.http import RetryPolicy
from hubfs.tree import CommitProgress
from tests.support import wait_until

MIB = 1024 * 1024
FAST = RetryPolicy(attempts=6, backoff=0.01, backoff_max=0.05, retry_after_max=1)


def make_remote(server, policy=FAST, **extra):
    options = remote_options(server)
    options.update(extra)
    module = backends.load(options.pop("type"))
    return module.Remote("t", options, policy=policy)


@pytest.fixture
def ds3():
    with start_in_thread(create_server("demo", mode="ds3",
                                       settings=JobSettings(blob_size=MIB, chunk_blobs=2, retry_after=0))) as h:
        yield h


@pytest.fixture
def s3():
    with start_in_thread(create_server("demo", mode="s3")) as h:
        yield h


def blob_puts(server, key):
    return [r for r in server.requests.entries()
            if r["method"] == "PUT" and r["path"].endswith(key) and "job=" in r["query"] and r["status"] == 200]


def spool(tmp_path, size, seed="x"):
    path = tmp_path / f"spool-{seed}"
    path.write_bytes(binary(seed, size))
    return str(path)


# -- signing -------------------------------------------------------------------------------

def test_client_sigv2_builds_the_sdk_canonical_strings():
    date = "Tue, 20 Jan 2015 17:33:25 -0000"
    a = v2_string_to_sign("PUT", "/_rest_/bucket/books", "operation=start_bulk_put",
                          {"Content-Type": "application/octet-stream", "Date": date})
    assert a == f"PUT\n\napplication/octet-stream\n{date}\n/_rest_/bucket/books"
    assert v2_signature("secretkey", a) == "eHRoq6iurq2r0jgiLBxcD4xZyUs="
    b = v2_string_to_sign("GET", "/_rest_/job_chunk", "job=123", {"Date": date})
    assert v2_signature("secretkey", b) == "aYfU3iETC8osOafzp15aMhU+jJw="
    c = v2_string_to_sign("PUT", "/books/folder/beowulf%20v2.txt", "",
                          {"Content-Type": "application/octet-stream", "Date": date,
                           "x-amz-meta-name1": "value1"})
    assert v2_signature("secretkey", c) == "FMjxD6QCJ1qoyuUtK0h+uWlspKY="
    assert v2_string_to_sign("POST", "/b", "delete", {"Date": date}).endswith("/b?delete")



def test_client_sigv4_signs_as_botocore_does_over_the_headers_v4_requires():
    """The V4 signature is botocore's over Host, Content-Type and the x-amz-* headers
    (the transport's own headers go unsigned), with the day's signing key kept: the same
    Authorization botocore's S3 signer computes for those headers, on any day."""
    import requests
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from backends.ds3.signing import SigV4Auth

    ours = SigV4Auth("AK", "SK", "eu-west-1")
    reference = S3SigV4Auth(Credentials("AK", "SK"), "s3", "eu-west-1")
    url = "http://127.0.0.1:9000/bucket/some%20key?partNumber=2&uploadId=x"
    for body, day in ((b"part bytes", "20261204"), (b"", "20261205"), (b"again", "20261204")):
        prepared = requests.PreparedRequest()
        prepared.prepare_method("PUT")
        prepared.prepare_url(url, None)
        prepared.prepare_headers({"User-Agent": "any", "Accept": "*/*", "Content-Type": "text/plain",
                                  "x-amz-meta-colour": "blue", "Content-Length": str(len(body))})
        prepared.prepare_body(body, None)
        ours(prepared)
        stamp = prepared.headers["X-Amz-Date"]
        # The same request as botocore signs it at that moment, on the given day.
        for signed_day in (stamp[:8], day):
            request = AWSRequest(method="PUT", url=url, data=body,
                                 headers={"Content-Type": "text/plain", "x-amz-meta-colour": "blue"})
            request.context = {"timestamp": signed_day + stamp[8:]}
            reference._modify_request_before_signing(request)
            expected = reference.signature(
                reference.string_to_sign(request, reference.canonical_request(request)), request)
            if signed_day == stamp[:8]:
                assert prepared.headers["Authorization"].endswith(f"Signature={expected}")
                assert "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;" \
                       "x-amz-meta-colour," in prepared.headers["Authorization"]
                assert prepared.headers["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
            else:  # another day: the kept key follows the date
                string = reference.string_to_sign(request, reference.canonical_request(request))
                assert ours._signer.signature(string, request) == expected


# -- listings and reads ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["ds3", "s3"])
def test_tree_from_listings_without_a_request_per_entry(mode, tmp_path):
    with start_in_thread(create_server("demo", mode=mode)) as handle:
        store = handle.state.store
        for n in range(2500):
            store.put_bytes("data", f"many/f{n:05d}.txt", b"%d" % n, mtime=1767225600 + n)
        remote = make_remote(handle.server)
        root = remote.root()
        assert [n.name for n in root.children()] == ["books", "data"]
        books = root.child("books")
        listed = {n.name: n for n in books.children()}
        assert sorted(listed) == ["beowulf.txt", "empty", "folder", "sherlock_holmes.txt",
                                  "tale_of_two_cities.txt", "ulysses.txt"]
        assert listed["folder"].is_dir and listed["empty"].is_dir
        beowulf = listed["beowulf.txt"]
        assert beowulf.size == len(demo_objects()["books"]["beowulf.txt"])
        assert beowulf.mtime == store.get("books", "beowulf.txt").mtime and beowulf.version
        assert [n.name for n in listed["folder"].child("folder2").children()] == ["iliad.txt", "lesmis.txt"]
        handle.server.requests.clear()
        many = list(root.child("data").child("many").children())
        assert len(many) == 2500 and many[7].size == 1 and many[7].mtime == 1767225607
        listings = [r for r in handle.server.requests.entries() if r["method"] == "GET"]
        assert len(listings) == 1 + 3  # the lookup of "many", then three pages of 1,000
        with pytest.raises(errors.NotFound):
            books.child("nope.txt")
        with pytest.raises(errors.NotFound):
            root.child("no-such-bucket")
        remote.close()


@pytest.mark.parametrize("mode", ["ds3", "s3"])
def test_reads_are_byte_exact_at_any_offset(mode):
    with start_in_thread(create_server("demo", mode=mode, settings=JobSettings(blob_size=MIB))) as handle:
        remote = make_remote(handle.server)
        node = remote.root().child("data").child("blobs").child("three-mib.bin")
        content = demo_objects()["data"]["blobs/three-mib.bin"]
        assert node.size == len(content)
        for offset, length in [(0, 131072), (MIB - 7, 20), (3 * MIB, 17), (2 * MIB + 5, MIB),
                               (len(content) - 3, 100)]:
            assert node.read(offset, length) == content[offset:offset + length]
        whole = b"".join(node.read(o, 131072) for o in range(0, node.size, 131072))
        assert hashlib.sha256(whole).digest() == hashlib.sha256(content).digest()
        if mode == "ds3":
            paths = {r["path"] for r in handle.server.requests.entries()}
            assert "/_rest_/bucket/data" in paths and "/_rest_/job_chunk" in paths
        remote.close()


def test_ds3_read_waits_for_chunks_that_are_not_ready(ds3):
    ds3.state.jobs.settings.ready_after = 4
    remote = make_remote(ds3.server)
    node = remote.root().child("books").child("ulysses.txt")
    assert node.read(0, node.size) == demo_objects()["books"]["ulysses.txt"]
    polls = [r for r in ds3.server.requests.entries() if r["path"] == "/_rest_/job_chunk"]
    assert len(polls) == 5 and all(r["status"] == 200 for r in polls)
    assert remote.transfer.jobs.waits == 4
    remote.close()


def test_ds3_read_survives_busy_503_and_a_cut_blob(ds3):
    remote = make_remote(ds3.server)
    node = remote.root().child("data").child("blobs").child("three-mib.bin")
    faults = ds3.server.faults
    faults.add(method="GET", path="three-mib", query="job=", status=307, times=2)
    faults.add(method="GET", path="three-mib", query="job=", status=503, headers={"Retry-After": "0"}, times=1)
    faults.add(method="GET", path="three-mib", query="job=", cut_after=1000, times=1)
    assert node.read(0, node.size) == demo_objects()["data"]["blobs/three-mib.bin"]
    assert all(rule["applied"] == rule["times"] for rule in faults.snapshot())
    assert remote.client.busy_resends == 2
    remote.close()


def test_a_read_that_keeps_failing_raises_never_short(ds3):
    remote = make_remote(ds3.server)
    node = remote.root().child("books").child("beowulf.txt")
    ds3.server.faults.add(method="GET", path="beowulf", query="job=", cut_after=100, times=-1)
    with pytest.raises(errors.Transient):
        node.read(0, node.size)
    remote.close()


# -- writes -------------------------------------------------------------------------------------

def test_ds3_write_goes_through_a_bulk_put_job(ds3, tmp_path):
    remote = make_remote(ds3.server)
    books = remote.root().child("books")
    path = spool(tmp_path, 5 * MIB + 3)
    node = books.create("new.bin")
    node.commit(path, CommitProgress())
    assert node.size == 5 * MIB + 3
    assert len(blob_puts(ds3.server, "/books/new.bin")) == 6  # one PUT per blob, nothing twice
    assert ds3.state.store.get("books", "new.bin").size == 5 * MIB + 3
    fresh = remote.root().child("books").child("new.bin")
    assert fresh.read(0, fresh.size) == open(path, "rb").read()
    empty = books.create("empty.txt")
    open(tmp_path / "zero", "wb").close()
    empty.commit(str(tmp_path / "zero"), CommitProgress())
    assert ds3.state.store.get("books", "empty.txt").size == 0
    remote.close()


def test_ds3_write_waits_and_resends_busy_and_failing_blobs(ds3, tmp_path):
    ds3.state.jobs.settings.ready_after = 3
    ds3.state.jobs.settings.window = 1
    remote = make_remote(ds3.server)
    faults = ds3.server.faults
    faults.add(method="PUT", path="slow.bin", query="offset=1048576", status=307, times=2)
    faults.add(method="PUT", path="slow.bin", query="offset=2097152", status=503,
               headers={"Retry-After": "0"}, times=2)
    path = spool(tmp_path, 4 * MIB)
    remote.root().child("books").create("slow.bin").commit(path, CommitProgress())
    assert ds3.state.store.get("books", "slow.bin").size == 4 * MIB
    with open(ds3.state.store.get("books", "slow.bin").path, "rb") as stored:
        assert stored.read() == open(path, "rb").read()
    assert remote.transfer.jobs.waits >= 3
    remote.close()


def test_ds3_resend_after_failure_sends_only_unacknowledged_blobs(ds3, tmp_path):
    remote = make_remote(ds3.server)
    path = spool(tmp_path, 6 * MIB)
    node = remote.root().child("books").create("resume.bin")
    ds3.server.faults.add(method="PUT", path="resume.bin", query="offset=(4194304|5242880)", status=500, times=-1)
    progress = CommitProgress()
    with pytest.raises(errors.Transient):
        node.commit(path, progress)
    acknowledged = sorted(progress.state["sent"])
    assert acknowledged == [0, MIB, 2 * MIB, 3 * MIB]
    ds3.server.faults.clear()
    ds3.server.requests.clear()
    node.commit(path, progress)
    again = sorted(int(r["query"].split("offset=")[1]) for r in blob_puts(ds3.server, "/books/resume.bin"))
    assert again == [4 * MIB, 5 * MIB]
    assert ds3.state.store.get("books", "resume.bin").size == 6 * MIB
    remote.close()


def test_s3_single_put_and_parallel_multipart(s3, tmp_path):
    remote = make_remote(s3.server, part_size=5 * MIB, multipart_threshold=8 * MIB)
    books = remote.root().child("books")
    small = spool(tmp_path, 100_000, "small")
    books.create("small.bin").commit(small, CommitProgress())
    big = spool(tmp_path, 17 * MIB + 1, "big")
    node = books.create("big.bin")
    node.commit(big, CommitProgress())
    parts = [r for r in s3.server.requests.entries() if r["method"] == "PUT" and "partNumber" in r["query"]]
    assert len(parts) == 4
    assert s3.state.store.get("books", "big.bin").etag.endswith("-4")
    fresh = remote.root().child("books").child("big.bin")
    assert fresh.read(0, fresh.size) == open(big, "rb").read()
    assert remote.root().child("books").child("small.bin").size == 100_000
    remote.close()


def test_s3_multipart_resumes_with_only_missing_parts(s3, tmp_path):
    remote = make_remote(s3.server, part_size=5 * MIB, multipart_threshold=5 * MIB)
    big = spool(tmp_path, 20 * MIB, "resume")
    node = remote.root().child("books").create("resume.bin")
    s3.server.faults.add(method="PUT", path="resume.bin", query="partNumber=4", status=500, times=-1)
    progress = CommitProgress()
    with pytest.raises(errors.Transient):
        node.commit(big, progress)
    assert sorted(progress.state["parts"]) == ["1", "2", "3"]
    s3.server.faults.clear()
    s3.server.requests.clear()
    node.commit(big, progress)
    parts = [r for r in s3.server.requests.entries() if r["method"] == "PUT" and "partNumber" in r["query"]]
    assert len(parts) == 1 and "partNumber=4" in parts[0]["query"]
    with open(s3.state.store.get("books", "resume.bin").path, "rb") as stored:
        assert stored.read() == open(big, "rb").read()
    remote.close()


@pytest.mark.parametrize("mode", ["ds3", "s3"])
def test_mkdir_rmdir_rm(mode):
    with start_in_thread(create_server("demo", mode=mode)) as handle:
        remote = make_remote(handle.server)
        books = remote.root().child("books")
        made = books.mkdir("made")
        assert "made/" in handle.state.store.bucket("books").objects
        assert books.child("made").is_dir
        handle.state.store.put_bytes("books", "made/inside.txt", b"x")
        with pytest.raises(errors.NotEmpty):
            made.delete()
        books.child("made").child("inside.txt").delete()
        made.delete()
        assert not any(k.startswith("made") for k in handle.state.store.bucket("books").objects)
        with pytest.raises(errors.InvalidContent):
            books.create("a%zz")
        remote.close()


def test_wrong_secret_is_access_denied(ds3, s3):
    for server in (ds3.server, s3.server):
        options = remote_options(server, secret_key="not-the-secret")
        remote = backends.load(options.pop("type")).Remote("t", options, policy=FAST)
        with pytest.raises(errors.AccessDenied, match="refused"):
            remote.check()
        remote.close()


def test_ds3_keys_from_the_environment(ds3, monkeypatch):
    monkeypatch.setenv("DS3_ENDPOINT", ds3.url.rstrip("/").split("://")[1])  # bare host:port
    monkeypatch.setenv("DS3_ACCESS_KEY", DEMO_ACCESS_KEY)
    monkeypatch.setenv("DS3_SECRET_KEY", DEMO_SECRET_KEY)
    remote = backends.load("ds3").Remote("env", {}, policy=FAST)
    remote.check()
    assert "books" in [n.name for n in remote.root().children()]
    remote.close()
    monkeypatch.delenv("DS3_SECRET_KEY")
    with pytest.raises(errors.ConfigError, match="DS3_SECRET_KEY"):
        backends.load("ds3").Remote("env", {}, policy=FAST)


# -- a third-party S3 server -----------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url():
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    try:
        if not wait_until(up, timeout=60):
            pytest.fail("moto_server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_s3_backend_against_moto(moto_url, tmp_path):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    client.create_bucket(Bucket="third-party")
    client.put_object(Bucket="third-party", Key="dir/a.txt", Body=b"from boto3")
    remote = backends.load("s3").Remote("moto", {"endpoint": moto_url, "access_key": "testing",
                                                 "secret_key": "testing", "region": "us-east-1",
                                                 "part_size": 5 * MIB, "multipart_threshold": 5 * MIB},
                                        policy=FAST)
    remote.check()
    bucket = remote.root().child("third-party")
    a = bucket.child("dir").child("a.txt")
    assert a.size == 10 and a.read(0, 10) == b"from boto3" and a.mtime > time.time() - 3600
    big = spool(tmp_path, 11 * MIB, "moto")
    bucket.child("dir").create("big.bin").commit(big, CommitProgress())
    got = client.get_object(Bucket="third-party", Key="dir/big.bin")["Body"].read()
    assert got == open(big, "rb").read()
    assert sorted(n.name for n in bucket.child("dir").children()) == ["a.txt", "big.bin"]
    bucket.child("dir").child("a.txt").delete()
    assert [o["Key"] for o in client.list_objects_v2(Bucket="third-party")["Contents"]] == ["dir/big.bin"]
    os.remove(big)
    remote.close()


def test_s3_read_of_a_replaced_object_is_a_conflict_not_mixed_bytes(s3):
    remote = make_remote(s3.server)
    store = s3.state.store
    store.put_bytes("books", "changing.txt", b"first version " * 100)
    node = remote.root().child("books").child("changing.txt")
    store.put_bytes("books", "changing.txt", b"second version" * 100)
    with pytest.raises(errors.Conflict):
        node.read(0, 100, version=node.version)
    fresh = remote.root().child("books").child("changing.txt")
    assert fresh.read(0, 14, version=fresh.version) == b"second version"
    remote.close()


def test_s3_rename_is_a_server_side_copy(s3, tmp_path):
    remote = make_remote(s3.server)
    books = remote.root().child("books")
    source = books.child("beowulf.txt")
    target = books.create("beowulf-copy.txt")
    s3.server.requests.clear()
    assert target.copy_from(source) is True
    copies = [r for r in s3.server.requests.entries() if r["method"] == "PUT"]
    assert len(copies) == 1 and not [r for r in s3.server.requests.entries() if r["method"] == "GET"]
    with open(s3.state.store.get("books", "beowulf-copy.txt").path, "rb") as fh:
        assert fh.read() == demo_objects()["books"]["beowulf.txt"]
    remote.close()


# -- reads of a folder, file after file, share bulk GET jobs ----------------------------------

def _walk_folder(ds3, tmp_path, count=6):
    remote = make_remote(ds3.server)
    contents = {}
    for n in range(count):
        data = binary(f"walk{n}", 3000 + n)
        path = tmp_path / f"walk{n}"
        path.write_bytes(data)
        remote.transfer.write("books", f"walk/f{n}.bin", str(path))
        contents[f"f{n}.bin"] = data
    return remote, contents


def _job_starts(server):
    return [r for r in server.requests.entries()
            if r["path"].startswith("/_rest_/bucket/") and "start_bulk_get" in r["query"]]


def test_ds3_files_of_a_folder_read_one_after_another_share_a_job(ds3, tmp_path):
    remote, contents = _walk_folder(ds3, tmp_path)
    folder = remote.root().child("books").child("walk")
    nodes = list(folder.children())
    ds3.server.requests.clear()
    for node in nodes:
        assert node.read(0, node.size) == contents[node.name]
    assert len(_job_starts(ds3.server)) == 2  # the first file's own job, then one for the rest
    polls = [r for r in ds3.server.requests.entries() if r["path"] == "/_rest_/job_chunk"]
    assert len(polls) == 2  # one chunks-ready answer covers every file of the shared job
    remote.close()


def test_ds3_a_file_whose_shared_job_is_gone_starts_its_own(ds3, tmp_path):
    remote, contents = _walk_folder(ds3, tmp_path)
    nodes = list(remote.root().child("books").child("walk").children())
    for node in nodes[:2]:
        assert node.read(0, node.size) == contents[node.name]
    for job in ds3.state.jobs.active():
        ds3.state.jobs.cancel(job.id, force=True)  # the appliance dropped the shared job
    ds3.server.requests.clear()
    for node in nodes[2:]:
        assert node.read(0, node.size) == contents[node.name]
    assert _job_starts(ds3.server)  # each file that lost its job started one of its own
    remote.close()


def test_ds3_random_reads_of_a_folder_keep_one_job_per_file(ds3, tmp_path):
    remote, contents = _walk_folder(ds3, tmp_path, count=4)
    nodes = list(remote.root().child("books").child("walk").children())
    ds3.server.requests.clear()
    for node in (nodes[2], nodes[0], nodes[3]):
        assert node.read(0, node.size) == contents[node.name]
    assert len(_job_starts(ds3.server)) == 3
    remote.close()
