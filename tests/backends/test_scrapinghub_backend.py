"""The Scrapinghub backend (client + tree) against the emulator over real HTTP.

Rendered files are compared byte for byte with an export made by the official
`scrapinghub` client from the same emulator, so a mistake shared by our client and our
renderer cannot hide. Retry waits are shortened with a fast `RetryPolicy`; the emulator's
request log counts the requests a listing or a render costs.
"""

import datetime
import json
import time

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub import Remote
from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.errors import AccessDenied, HubfsError, NotFound, ServiceError, Transient
from hubfs.http import RetryPolicy
from hubfs.tree import Kind

FAST = RetryPolicy(attempts=4, backoff=0.01, backoff_max=0.05, retry_after_max=3,
                   connect_timeout=5, read_timeout=10)
LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}


def make_remote(url, apikey=DEMO_APIKEY, **extra):
    options = {"apikey": apikey, "app_url": url + "api/", "storage_url": url,
               "projects": None, **extra}
    return Remote("shtest", options, policy=FAST)


@pytest.fixture
def remote(emu):
    remote = make_remote(emu.url)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def official(emulator):
    return ScrapinghubClient(DEMO_APIKEY, dash_endpoint=emulator.url + "api/",
                             endpoint=emulator.url)


def job_dir(remote, key):
    project, spider, job = key.split("/")
    return remote.root().child(project).child("spiders").child(spider).child(job)


def render(node, after=None):
    chunks = list(node.render(after))
    return b"".join(chunk for chunk, _ in chunks), chunks[-1][1] if chunks else None


def jl(records):
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                   for r in records).encode("utf-8")


def log_txt(records):
    """An independent rendering of log.txt from the documented rule."""
    out = []
    for r in records:
        when = datetime.datetime.fromtimestamp(r["time"] // 1000, datetime.timezone.utc)
        message = r["message"].replace("\n", "\\n").replace("\r", "\\r")
        level = LEVELS.get(r["level"], str(r["level"]))
        out.append(f"{when:%Y-%m-%d %H:%M:%S}.{r['time'] % 1000:03d} {level} {message}\n")
    return "".join(out).encode("utf-8")


def official_export(official, key):
    """Every file of job *key* as the official client sees it."""
    job = official.get_job(key)
    logs = list(job.logs.iter())
    meta = dict(job.metadata.list())
    return {
        "items.jl": jl(job.items.iter()),
        "logs.jl": jl(logs),
        "log.txt": log_txt(logs),
        "requests.jl": jl(job.requests.iter()),
        "samples.jl": jl(job.samples.iter()),
        "meta.json": (json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False)
                      + "\n").encode("utf-8"),
    }


def storage_requests(emu, path_prefix):
    return [e for e in emu.server.requests.entries() if e["path"].startswith(path_prefix)]


def append(emu, resource, key, start, records):
    """Write records to a running job as the batch uploader does."""
    body = "".join(json.dumps(r) + "\n" for r in records).encode("utf-8")
    response = requests.post(f"{emu.url}{resource}/{key}", params={"start": start},
                             data=body, auth=(DEMO_APIKEY, ""), timeout=10)
    response.raise_for_status()


# ----------------------------------------------------------------------------- the tree

def test_tree_walk(remote, emu):
    root = remote.root()
    assert [p.name for p in root.children()] == ["101", "102", "103"]
    project = root.child("101")
    assert [n.name for n in project.children()] == ["spiders", "collections", "frontier",
                                                    "activity.jl"]
    spiders = project.child("spiders")
    assert [s.name for s in spiders.children()] == ["authors", "books", "quotes"]
    books = next(s for s in spiders.children() if s.name == "books")
    jobs = list(books.children())
    assert [j.name for j in jobs] == ["6", "5", "4", "3", "2", "1"]
    states = {j.name: j.state for j in jobs}
    assert states["6"] == "pending" and states["5"] == "running" and states["1"] == "finished"
    assert [j.immutable for j in jobs] == [False, False, True, True, True, True]
    # A listed job and a looked-up job agree on their attributes.
    for listed in jobs:
        looked_up = spiders.child("books").child(listed.name)
        assert (looked_up.mtime, looked_up.immutable) == (listed.mtime, listed.immutable)
    assert [f.name for f in jobs[0].children()] == [
        "meta.json", "items.jl", "logs.jl", "log.txt", "requests.jl", "samples.jl", "tags"]
    # Directories without a service time show the remote's fixed start time.
    assert root.mtime == project.mtime == spiders.mtime == books.mtime == remote.started
    assert remote.root().child("102").mtime == remote.started


def test_job_times_and_kinds(remote, emu, official):
    finished = job_dir(remote, "101/books/2")
    meta = dict(official.get_job("101/1/2").metadata.list())
    assert finished.mtime == meta["finished_time"] / 1000
    for node in finished.children():
        assert node.mtime == finished.mtime
        if node.name in ("meta.json", "tags"):
            assert node.kind is Kind.RENDERED and not node.immutable
            assert node.cache_key() is None
        else:
            assert node.kind is Kind.RENDERED and node.immutable and not node.appendable
            key = node.cache_key()
            assert key.startswith("scrapinghub/v1/") and key.endswith(f"/101/1/2/{node.name}")
    running = job_dir(remote, "101/books/5")
    meta = dict(official.get_job("101/1/5").metadata.list())
    assert running.mtime == meta["running_time"] / 1000 and not running.immutable
    pending = job_dir(remote, "101/books/6")
    assert pending.mtime == meta_time(official, "101/1/6", "pending_time")
    for node in running.children():
        if node.name not in ("meta.json", "tags"):
            assert node.kind is Kind.GROWING and node.appendable and node.cache_key() is None
    # Another remote on another storage URL never shares cache keys.
    other = make_remote(emu.url.replace("127.0.0.1", "localhost"))
    try:
        assert (job_dir(other, "101/books/2").child("items.jl").cache_key()
                != finished.child("items.jl").cache_key())
    finally:
        other.close()


def meta_time(official, key, field):
    return dict(official.get_job(key).metadata.list())[field] / 1000


def test_listing_1500_jobs_one_request_per_page(remote, emu):
    prices = remote.root().child("102").child("spiders").child("prices")
    emu.server.requests.clear()
    names = [job.name for job in prices.children()]
    assert names == [str(n) for n in range(1500, 0, -1)]
    entries = emu.server.requests.entries()
    # Two pages of jobq list and nothing else: no metadata, no record, no stats.
    assert [e["path"] for e in entries] == ["/jobq/102/list"] * 2
    assert all("state=deleted" in e["query"] for e in entries)


def test_listing_streams_page_by_page(remote, emu):
    prices = remote.root().child("102").child("spiders").child("prices")
    emu.server.requests.clear()
    listing = prices.children()
    first = next(listing)
    assert first.name == "1500"
    assert len(storage_requests(emu, "/jobq/")) == 1  # the second page is not asked yet
    listing.close()


def test_lookups_and_not_found(remote, emu):
    root = remote.root()
    assert root.child("102").name == "102"
    emu.server.requests.clear()
    for bad in ("abc", "", "1e3", "0102", "-1", "١٠١"):
        with pytest.raises(NotFound):
            root.child(bad)
    assert emu.server.requests.entries() == []  # names that cannot be ids cost nothing
    with pytest.raises(NotFound) as err:
        root.child("999")
    assert "shtest" in str(err.value)
    spiders = root.child("101").child("spiders")
    with pytest.raises(NotFound):
        spiders.child("no-such-spider")
    books = spiders.child("books")
    emu.server.requests.clear()
    for bad in ("x1", "1.0", "01", ""):
        with pytest.raises(NotFound):
            books.child(bad)
    assert emu.server.requests.entries() == []
    with pytest.raises(NotFound) as err:
        books.child("77")
    assert "shtest" in str(err.value) and "77" in str(err.value)
    # quotes has 3 jobs: job 4 exists only under books.
    with pytest.raises(NotFound):
        spiders.child("quotes").child("4")
    # Metadata naming another spider is not this spider's job.
    emu.server.faults.add(path=r"^/jobs/101/2/1$", status=200,
                          body='{"spider":"books","state":"finished"}')
    with pytest.raises(NotFound):
        spiders.child("quotes").child("1")
    with pytest.raises(NotFound):
        job_dir(remote, "101/books/1").child("nope.jl")


def test_projects_option(emu):
    remote = make_remote(emu.url, projects=[103, "102"])
    try:
        root = remote.root()
        assert [p.name for p in root.children()] == ["102", "103"]
        with pytest.raises(NotFound):
            root.child("101")
        emu.server.requests.clear()
        remote.check()
        paths = [e["path"] for e in emu.server.requests.entries()]
        assert paths == ["/api/scrapyd/listprojects.json", "/jobq/103/list"]
    finally:
        remote.close()


# ----------------------------------------------------------------------------- rendering

@pytest.mark.parametrize("key", ["101/1/2", "102/1/3", "101/1/5", "101/1/6", "103/2/1"])
def test_render_matches_official_client(remote, emu, official, key):
    project, spider_id, job = key.split("/")
    names = {"101/1": "books", "102/1": "products", "103/2": "feeds"}
    node = job_dir(remote, f"{project}/{names[project + '/' + spider_id]}/{job}")
    expected = official_export(official, key)
    for name, data in expected.items():
        got, cursor = render(node.child(name))
        assert got == data, f"{key}/{name} differs"
    # Multi-line log messages stay one line each.
    assert expected["log.txt"].count(b"\n") == expected["logs.jl"].count(b"\n")


def test_parallel_pages_request_count_and_order(remote, emu, official):
    remote.client.parallel_page = 300
    node = job_dir(remote, "101/books/3").child("items.jl")  # 2000 items
    emu.server.requests.clear()
    chunks = list(node.render())
    paths = [e["path"] for e in emu.server.requests.entries()]
    # One first page (most jobs end there, with no stats asked), then the stats count
    # and the rest in parallel pages.
    assert paths == ["/items/101/1/3", "/items/101/1/3/stats"] + ["/items/101/1/3"] * 4
    assert [cursor for _, cursor in chunks] == [1000, 1300, 1600, 1900, 2000]
    assert b"".join(c for c, _ in chunks) == jl(official.get_job("101/1/3").items.iter())


def test_capped_pages_still_complete(remote, emu, official):
    """A service that serves fewer records per page than asked costs requests, not data."""
    client = remote.client
    client.parallel_page = 400
    # Pages of up to 1000 records are honoured (the official client's page size: a short
    # one is the end); a larger page may be capped.
    for name in ("get_records", "get_lines"):
        real = getattr(client, name)
        setattr(client, name, lambda *args, real=real: real(
            *args[:-1], args[-1] if args[-1] <= client.sequential_page else 170))
    expected = jl(official.get_job("101/1/3").items.iter())
    assert render(job_dir(remote, "101/books/3").child("items.jl"))[0] == expected
    expected = log_txt(official.get_job("101/1/3").logs.iter())
    assert render(job_dir(remote, "101/books/3").child("log.txt"))[0] == expected


def test_stale_stats(remote, emu, official):
    client = remote.client
    real = client.record_count
    expected = jl(official.get_job("101/1/2").items.iter())  # 1000 items
    # Stats that lag behind the data: the records past the count are still rendered.
    client.record_count = lambda *args: real(*args) - 7
    assert render(job_dir(remote, "101/books/2").child("items.jl"))[0] == expected
    # Stats promising more than the data: an error, never a short file.
    client.record_count = lambda *args: real(*args) + 5
    with pytest.raises(ServiceError, match="stats"):
        render(job_dir(remote, "101/books/2").child("items.jl"))


def test_growing_files_extend_from_cursor(remote, emu, official):
    node = job_dir(remote, "103/news/5")
    items, logs, text = (node.child(n) for n in ("items.jl", "logs.jl", "log.txt"))
    before, cursor = render(items)
    assert cursor == before.count(b"\n") == 30
    logs_before, log_cursor = render(logs)
    text_before, text_cursor = render(text)
    assert log_cursor == text_cursor
    # Nothing new yet: an empty chunk, and the same cursor back.
    assert render(items, after=cursor) == (b"", cursor)

    new_items = [{"title": "Ünïcode", "n": i, "nested": {"b": 1, "a": [1.5, None]}}
                 for i in range(3)]
    append(emu, "items", "103/1/5", cursor, new_items)
    now = int(time.time() * 1000)
    new_logs = [{"time": now, "level": 30, "message": "two\nlines\r"},
                {"time": now + 1, "level": 25, "message": "custom level"}]
    append(emu, "logs", "103/1/5", log_cursor, new_logs)

    emu.server.requests.clear()
    added, new_cursor = render(items, after=cursor)
    assert added == jl(new_items) and new_cursor == 33
    assert len(storage_requests(emu, "/items/")) == 1  # one short page, no stats
    assert render(logs, after=log_cursor) == (jl(new_logs), log_cursor + 2)
    assert render(text, after=text_cursor)[0] == log_txt(new_logs)
    # The extension equals what a fresh render gives.
    assert render(items)[0] == before + added
    assert render(items)[0] == jl(official.get_job("103/1/5").items.iter())
    assert render(text)[0] == text_before + log_txt(new_logs)


def test_meta_json_of_a_running_job_is_reread(remote, emu, official):
    node = job_dir(remote, "103/news/5").child("meta.json")
    first, _ = render(node)
    requests.post(f"{emu.url}jobs/103/1/5/reviewed", data=b'"yes"',
                  auth=(DEMO_APIKEY, ""), timeout=10).raise_for_status()
    second, _ = render(node)
    assert first != second and b'"reviewed": "yes"' in second
    assert second == official_export(official, "103/1/5")["meta.json"]


def test_finished_job_metadata_is_read_once(remote, emu, official):
    """A finished job's metadata does not change: meta.json and tags share one request,
    and a second walk asks nothing."""
    expected_tags = official.get_job("103/2/3").metadata.get("tags")
    emu.server.requests.clear()
    job = job_dir(remote, "103/feeds/3")
    meta, _ = render(job.child("meta.json"))
    tags, _ = render(job.child("tags"))
    again = job_dir(remote, "103/feeds/3")  # a new node, as after a listing expired
    assert render(again.child("meta.json"))[0] == meta
    assert tags == b"".join(tag.encode() + b"\n" for tag in expected_tags)
    # The lookup of job 3 asked, then nothing more.
    assert [e["path"] for e in storage_requests(emu, "/jobs/")] == ["/jobs/103/2/3"]
    assert meta == official_export(official, "103/2/3")["meta.json"]


# ----------------------------------------------------------------------------- errors

def test_wrong_key_is_access_denied(emu):
    remote = make_remote(emu.url, apikey="0" * 32)
    try:
        with pytest.raises(AccessDenied) as err:
            remote.check()
        message = str(err.value)
        assert "shtest" in message and "refused" in message and "0" * 32 not in message
        with pytest.raises(AccessDenied):
            list(remote.root().children())
    finally:
        remote.close()
    # With fixed projects the storage host is checked too.
    remote = make_remote(emu.url, apikey="0" * 32, projects=[101])
    try:
        with pytest.raises(AccessDenied):
            list(remote.root().child("101").child("spiders").child("books").children())
    finally:
        remote.close()


def test_dash_error_status_on_http_200(remote, emu):
    emu.server.faults.add(path=r"^/api/scrapyd/listprojects.json$", status=200, times=2,
                          body='{"status":"error","message":"Authentication failed"}')
    with pytest.raises(AccessDenied, match="refused"):
        remote.check()
    with pytest.raises(AccessDenied):
        list(remote.root().children())
    emu.server.faults.add(path=r"^/api/spiders/list.json$", status=200,
                          body='{"status":"badrequest","message":"no such project"}')
    with pytest.raises(HubfsError, match="no such project"):
        list(remote.root().child("101").child("spiders").children())


def test_check_passes_with_the_right_key(remote, emu):
    remote.check()
    assert [e["path"] for e in emu.server.requests.entries()] == ["/api/scrapyd/listprojects.json"]


@pytest.mark.parametrize("fault", [
    {"status": 500},
    {"status": 503, "times": 2},
    {"status": 429, "headers": {"Retry-After": "1"}},
    {"cut_after": 5000},
])
def test_faults_on_a_page_are_retried(remote, emu, official, fault):
    remote.client.parallel_page = 400
    expected = jl(official.get_job("101/1/3").items.iter())
    # Hit the second parallel page of items (start=.../1400, after the first page of
    # 1000 and one of 400), and a page of the growing path too.
    emu.server.faults.add(path=r"^/items/101/1/3$", query="%2F1400&", **fault)
    emu.server.faults.add(path=r"^/items/101/1/5$", **fault)
    started = time.monotonic()
    assert render(job_dir(remote, "101/books/3").child("items.jl"))[0] == expected
    assert render(job_dir(remote, "101/books/5").child("items.jl"))[0] == jl(
        official.get_job("101/1/5").items.iter())
    assert all(rule["applied"] >= 1 for rule in emu.server.faults.snapshot())
    if fault["status" if "status" in fault else "cut_after"] == 429:
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured


def test_fault_that_never_clears_raises(remote, emu):
    remote.client.parallel_page = 400
    emu.server.faults.add(path=r"^/items/101/1/3$", query="%2F1800&", status=503, times=-1)
    received = []
    with pytest.raises(Transient) as err:
        for chunk, cursor in job_dir(remote, "101/books/3").child("items.jl").render():
            received.append(cursor)
    assert "shtest" in str(err.value) and "/items/101/1/3" in str(err.value)
    assert received == [1000, 1400, 1800]  # in order, up to the failing page, then an error
    emu.server.faults.clear()
    emu.server.faults.add(path=r"^/logs/101/1/5$", cut_after=10, times=-1)
    with pytest.raises(Transient):
        render(job_dir(remote, "101/books/5").child("log.txt"))


# ----------------------------------------------------------------------------- activity

def test_activity_file_holds_the_project_events(remote, emu, official):
    node = remote.root().child("102").child("activity.jl")
    assert not node.immutable  # events keep arriving
    data, _ = render(node)
    expected = list(official.get_project(102).activity.iter(meta=["_ts"]))
    assert [json.loads(line) for line in data.splitlines()] == expected
    official.get_project(102).activity.add([{"event": "job:cancelled", "job": "102/1/4",
                                             "user": "tester"}])
    newest = json.loads(render(node)[0].split(b"\n", 1)[0])
    assert (newest["event"], newest["job"], newest["user"]) == ("job:cancelled", "102/1/4",
                                                                "tester")


def test_meta_json_never_shows_a_job_token(remote, emu):
    """Were the service to send a running job's `auth` token in its metadata, the mount
    would still not show it: it is a credential for the job's data."""
    job = emu.state.job_by_key("103/1/5")
    job.meta["auth"] = "eyJhbGciOiJIUzI1NiJ9.e30.secret-token"
    try:
        data, _ = render(job_dir(remote, "103/news/5").child("meta.json"))
    finally:
        del job.meta["auth"]
    assert b"secret-token" not in data and b'"auth"' not in data
    assert json.loads(data)["state"] == "running"
