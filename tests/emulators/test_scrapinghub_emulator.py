"""The Scrapinghub emulator checked with the official `scrapinghub` client, unchanged.

Every test talks real HTTP on 127.0.0.1 through `ScrapinghubClient`; expected values come
from the emulator's state (`server.state`), never from a second HTTP path. Where the client
would sleep between retries (seconds of backoff for a 503, 60 s after a broken stream), the
tests shorten only that sleep and leave the client's HTTP behaviour alone.
"""

import gzip
import json

import pytest
import requests
from scrapinghub import ScrapinghubClient
from scrapinghub.client.exceptions import (BadRequest, DuplicateJobError, Forbidden, NotFound,
                                           Unauthorized)
from scrapinghub.hubstorage.resourcetype import DownloadableResource

from backends.scrapinghub.emulator import (BENCH_ITEMS, BENCH_JOB_KEY, DEMO_APIKEY, create_server,
                                           remote_toml)
from backends.scrapinghub.emulator import seed as sh_seed
from hubfs.emulation import start_in_thread


@pytest.fixture(scope="module")
def emu():
    """A demo emulator shared by the read-only tests of this module."""
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture()
def fresh():
    """A demo emulator of its own, for tests that change state or inject faults."""
    with start_in_thread(create_server("demo")) as handle:
        yield handle


def make_client(handle, key=DEMO_APIKEY, **kw):
    return ScrapinghubClient(key, dash_endpoint=handle.url + "api/", endpoint=handle.url, **kw)


@pytest.fixture(scope="module")
def client(emu):
    return make_client(emu)


@pytest.fixture()
def no_retry_sleep(monkeypatch):
    """The client sleeps 60 s before resuming a broken download; make that 0 (the sleep
    only: the request it re-issues is untouched)."""
    monkeypatch.setattr(DownloadableResource, "RETRY_INTERVAL", 0)


def expected_records(handle, key, resource):
    job = handle.state.job_by_key(key)
    store = job.stores[resource]
    return [store.get(i) for i in range(len(store))]


# ----------------------------------------------------------------------------- module API

def test_module_api_and_toml():
    assert len(DEMO_APIKEY) == 32 and int(DEMO_APIKEY, 16) >= 0
    toml = remote_toml("demo", "http://127.0.0.1:1234/")
    assert toml == (
        "[remotes.demo]\n"
        'type = "scrapinghub"\n'
        f'apikey = "{DEMO_APIKEY}"\n'
        'app_url = "http://127.0.0.1:1234/api/"\n'
        'storage_url = "http://127.0.0.1:1234/"\n')
    with pytest.raises(ValueError):
        create_server("nope")


def test_seed_is_deterministic_and_times_are_fixed():
    a, b = create_server("demo"), create_server("demo")
    try:
        for key in ("101/1/2", "102/3/1500", "103/1/5"):
            ja, jb = a.state.job_by_key(key), b.state.job_by_key(key)
            assert ja.meta == jb.meta
            for resource in ("items", "logs", "requests", "samples"):
                sa, sb = ja.stores[resource], jb.stores[resource]
                assert [sa.get(i) for i in range(len(sa))] == [sb.get(i) for i in range(len(sb))]
        assert a.state.job_by_key("101/1/1").meta["pending_time"] >= sh_seed.EPOCH_MS
    finally:
        a.server_close()
        b.server_close()


def test_cli_main_prints_url_and_toml(monkeypatch, capsys):
    import backends.scrapinghub.emulator as pkg

    served = []
    monkeypatch.setattr(pkg, "serve_forever", lambda server: served.append(server) or server.server_close())
    assert pkg.main(["--data", "demo", "--name", "sh"]) == 0
    out = capsys.readouterr().out
    url = served[0].url
    assert url in out and remote_toml("sh", url) in out


# ----------------------------------------------------------------------------- Dash API

def test_projects_and_spiders(client):
    assert client.projects.list() == [101, 102, 103]
    spiders = client.get_project(101).spiders.list()
    assert sorted(s["id"] for s in spiders) == ["authors", "books", "quotes"]
    assert all(s["type"] == "manual" and s["tags"] == [] for s in spiders)
    spider = client.get_project(101).spiders.get("books")
    assert (spider.key, spider.name) == ("101/1", "books")
    with pytest.raises(NotFound):
        client.get_project(101).spiders.get("no-such-spider")


def test_wrong_key_is_unauthorized_on_both_hosts(emu):
    bad = make_client(emu, key="0" * 32)
    with pytest.raises(Unauthorized):
        bad.projects.list()
    with pytest.raises(Unauthorized):
        bad.get_project(101).spiders.list()
    job = bad.get_job("101/1/1")
    with pytest.raises(Unauthorized):
        job.metadata.get("state")
    with pytest.raises(Unauthorized):
        list(job.items.iter())
    with pytest.raises(Unauthorized):
        bad.get_project(101).jobs.count()
    r = requests.get(emu.url + "items/101/1/1", timeout=10)
    assert (r.status_code, r.text) == (401, "Unauthorized\n")
    r = requests.post(emu.url + "jobq/101/push", data='{"spider": "books"}', timeout=10)
    assert r.status_code == 401
    assert r.json() == {"error": "Unauthorized", "message": "Unauthorized"}
    r = requests.get(emu.url + "api/scrapyd/listprojects.json", timeout=10)
    assert r.json() == {"status": "error", "message": "Authentication failed"}


def test_unknown_project(client):
    with pytest.raises(NotFound):
        client.get_project(999).spiders.list()
    with pytest.raises(Forbidden):
        client.get_project(999).jobs.count()
    with pytest.raises(Forbidden):
        client.get_job("999/1/1").metadata.get("state")


def test_run_schedules_and_refuses_duplicates(fresh):
    client = make_client(fresh)
    project = client.get_project(101)
    job = project.jobs.run("quotes", job_args={"page": "1"}, add_tag=["adhoc"], units=2,
                           meta={"note": "from a test"})
    assert job.key == "101/2/4"
    assert job.metadata.get("state") == "pending"
    assert job.metadata.get("spider_args") == {"page": "1"}
    assert job.metadata.get("tags") == ["adhoc"]
    assert (job.metadata.get("units"), job.metadata.get("note")) == (2, "from a test")
    with pytest.raises(DuplicateJobError):
        project.jobs.run("quotes", job_args={"page": "1"})
    with pytest.raises(BadRequest):
        project.jobs.run("no-such-spider")
    job.update_tags(add=["more"], remove=["adhoc"])
    assert job.metadata.get("tags") == ["more"]


# ----------------------------------------------------------------------------- job queue

def test_spider_jobs_finished_newest_first(client):
    books = client.get_project(101).spiders.get("books")
    assert [j["key"] for j in books.jobs.iter()] == ["101/1/4", "101/1/3", "101/1/2", "101/1/1"]
    record = next(books.jobs.iter(count=1))
    assert record["state"] == "finished" and record["spider"] == "books"
    # Recorded real records: key, state, ts, elapsed, spider and the current state's time
    # (here finished_time, no earlier times); counters only when not zero.
    assert {"key", "state", "ts", "elapsed", "spider", "finished_time", "items"} <= set(record)
    assert not {"pending_time", "running_time"} & set(record)
    assert books.jobs.count() == 4
    assert books.jobs.count(state=["running", "pending"]) == 2


def test_pagination_over_the_1500_job_spider(client):
    prices = client.get_project(102).spiders.get("prices")
    assert prices.key == "102/3"
    assert prices.jobs.count() == sh_seed.MANY_JOBS
    first = [j["key"] for j in prices.jobs.iter()]
    assert len(first) == 1000  # the service caps a page at 1,000
    rest = [j["key"] for j in prices.jobs.iter(start=1000)]
    assert len(rest) == 500
    assert first + rest == [f"102/3/{n}" for n in range(1500, 0, -1)]
    page = [j["key"] for j in prices.jobs.iter(start=10, count=3)]
    assert page == ["102/3/1490", "102/3/1489", "102/3/1488"]
    stopped = [j["key"] for j in client.get_project(102).jobs.iter(spider="prices", stop="102/3/1497")]
    assert stopped == ["102/3/1500", "102/3/1499", "102/3/1498"]


def test_project_jobs_by_state_tags_and_jobmeta(client):
    project = client.get_project(101)
    active = [j["key"] for j in project.jobs.iter(state=["running", "pending"])]
    assert sorted(active) == ["101/1/5", "101/1/6", "101/3/3"]
    weekly = {j["key"] for j in project.jobs.iter(has_tag=["weekly", "smoke"])}
    assert weekly == {"101/1/1", "101/1/2", "101/2/2"}
    lacking = {j["key"] for j in project.jobs.iter(spider="books", lacks_tag="full-crawl")}
    assert lacking == {"101/1/1", "101/1/4"}
    (only,) = project.jobs.iter(spider="books", count=1, meta=["scheduled_by"])
    assert set(only) == {"key", "state", "ts", "elapsed", "scheduled_by"}
    assert project.jobs.count(state="running") == 1


def test_summaries(client):
    project = client.get_project(101)
    summary = project.jobs.summary()
    assert [s["name"] for s in summary] == ["pending", "running", "finished"]
    assert [s["count"] for s in summary] == [2, 1, 9]
    running = project.jobs.summary("running")
    assert running["summary"][0]["key"] == "101/1/5"
    spider_summary = project.spiders.get("books").jobs.summary("finished", count=2)
    assert spider_summary["count"] == 4 and len(spider_summary["summary"]) == 2
    last = list(project.jobs.iter_last())
    assert [j["key"] for j in last] == ["101/1/6", "101/2/3", "101/3/3"]
    assert client.projects.summary() == [
        {"project": 101, "has_capacity": True, "pending": 2, "running": 1, "finished": 9},
        {"project": 102, "has_capacity": True, "pending": 0, "running": 1, "finished": 1506},
        {"project": 103, "has_capacity": True, "pending": 1, "running": 1, "finished": 7},
    ]


# ----------------------------------------------------------------------------- job metadata

def test_job_metadata(client, emu):
    job = client.get_job("101/1/2")
    assert job.metadata.get("state") == "finished"
    assert job.metadata.get("no-such-field") is None
    meta = dict(job.metadata.list())
    assert meta == emu.state.job_by_key("101/1/2").meta
    assert meta["project"] == 101 and meta["spider"] == "books"
    assert meta["scrapystats"]["item_scraped_count"] == 1000
    assert meta["finished_time"] > meta["running_time"] > meta["pending_time"]
    assert client.get_job("101/1/5").metadata.get("state") == "running"
    assert client.get_job("101/1/6").metadata.get("finished_time") is None


def test_unknown_job_reads_as_empty(client):
    job = client.get_job("101/1/999")
    assert job.metadata.list() == []
    assert job.metadata.get("state") is None
    assert list(job.items.iter()) == []
    assert job.items.stats()["totals"]["input_values"] == 0


def test_metadata_writes(fresh):
    job = make_client(fresh).get_job("101/1/1")
    job.metadata.set("reviewed", True)
    job.metadata.update({"owner": "Zoë", "state": "ignored"})
    assert job.metadata.get("reviewed") is True
    assert job.metadata.get("owner") == "Zoë"
    assert job.metadata.get("state") == "finished"  # the queue owns the state
    job.metadata.delete("owner")
    assert job.metadata.get("owner") is None


# ----------------------------------------------------------------------------- job data

def test_items_msgpack_and_json_modes(emu):
    expected = expected_records(emu, "101/1/2", "items")
    assert len(expected) == 1000
    for use_msgpack in (True, False):
        job = make_client(emu, use_msgpack=use_msgpack).get_job("101/1/2")
        assert list(job.items.iter()) == expected
    emu.server.requests.clear()
    make_client(emu).get_job("101/1/2").items.list(count=1)
    assert emu.server.requests.entries()[-1]["query"] == "count=1&meta=_key"


def test_items_paging_parameters(client, emu):
    expected = expected_records(emu, "101/1/3", "items")
    job = client.get_job("101/1/3")
    pages = list(job.items.list_iter(chunksize=300, start=100, count=1000))
    assert [len(p) for p in pages] == [300, 300, 300, 100]
    assert sum(pages, []) == expected[100:1100]
    assert list(job.items.iter(offset=1990)) == expected[1990:]
    assert list(job.items.iter(count=5, meta=["_key"]))[4]["_key"] == "101/1/3/4"
    assert list(job.items.iter(startafter="101/1/3/1997")) == expected[1998:]
    with_ts = list(job.items.iter(count=2, meta=["_key", "_ts"]))
    assert with_ts[1]["_ts"] == emu.state.job_by_key("101/1/3").items.ts(1)
    prices = [i["price"] for i in job.items.iter(filter=[("price", ">=", [50])])]
    assert prices == [i["price"] for i in expected if i["price"] >= 50]


def test_item_filters(client, emu):
    job = client.get_job("101/2/3")  # quotes: tags lists, nested author
    expected = expected_records(emu, "101/2/3", "items")
    got = list(job.items.iter(filter=[("tags", "haselement", ["books"])]))
    assert got == [i for i in expected if "books" in i["tags"]] and got
    got = list(job.items.iter(filter=[("tags", "hasnotelement", ["books"])]))
    assert got == [i for i in expected if "books" not in i["tags"]]
    both = [("text", "contains", ["Patience"]), ("url", "=", [expected[3]["url"]])]
    got = list(job.items.iter(filter=both))
    assert got == [i for i in expected[3:4] if "Patience" in i["text"]]
    with pytest.raises(BadRequest):
        list(job.items.iter(filter=[("text", "resembles", ["x"])]))


def test_logs_requests_samples_and_stats(client, emu):
    job = client.get_job("101/1/2")
    logs = expected_records(emu, "101/1/2", "logs")
    assert list(job.logs.iter()) == logs
    warnings = list(job.logs.iter(level="WARNING"))
    assert warnings == [r for r in logs if r["level"] >= 30]
    assert {r["level"] for r in warnings} == {30, 40}
    messages = [r["message"] for r in logs]
    assert "Spider opened" in messages
    assert any(m.startswith("Crawled ") and "items/min" in m for m in messages)
    assert any(m.startswith("Scraped from <200 https://") for m in messages)
    assert any("Traceback (most recent call last):\n" in m for m in messages)
    assert messages[-2].startswith("Dumping Scrapy stats:\n{")
    assert list(make_client(emu, use_msgpack=False).get_job("101/1/2").logs.iter(level="ERROR")) \
        == [r for r in logs if r["level"] >= 40]

    reqs = list(job.requests.iter())
    assert reqs == expected_records(emu, "101/1/2", "requests")
    assert "parent" not in reqs[0] and reqs[1]["parent"] == 0
    assert set(reqs[1]) == {"url", "status", "method", "rs", "duration", "time", "fp", "parent"}

    samples = list(job.samples.iter())
    assert samples == expected_records(emu, "101/1/2", "samples")
    assert all(isinstance(s, list) and isinstance(s[0], int) for s in samples)

    assert job.items.stats()["totals"]["input_values"] == 1000
    assert job.items.stats()["counts"]["title"] == 1000
    log_stats = job.logs.stats()
    assert sum(log_stats["counts"].values()) == len(logs)
    assert log_stats["counts"]["30"] == 1
    meta = dict(job.metadata.list())
    assert meta["scrapystats"]["log_count/INFO"] == log_stats["counts"]["20"]
    assert job.requests.stats()["totals"]["input_values"] == len(reqs)


def test_job_data_is_gzipped_when_accepted(emu):
    url = emu.url + "items/101/1/2?meta=_key&count=300"
    r = requests.get(url, auth=(DEMO_APIKEY, ""), stream=True, timeout=10,
                     headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    lines = gzip.decompress(r.raw.read()).splitlines()
    assert len(lines) == 300 and json.loads(lines[299])["_key"] == "101/1/2/299"
    r = requests.get(url, auth=(DEMO_APIKEY, ""), timeout=10, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in r.headers and len(r.content.splitlines()) == 300


def test_spider_id_lookup_and_cross_job_reads(emu):
    auth = (DEMO_APIKEY, "")
    assert requests.get(emu.url + "ids/101/spider/quotes", auth=auth, timeout=10).json() == 2
    assert requests.get(emu.url + "ids/101/spider/nope", auth=auth, timeout=10).text == "null\n"
    r = requests.get(emu.url + "items/101/2?meta=_key&count=12", auth=auth, timeout=10)
    keys = [json.loads(line)["_key"] for line in r.text.splitlines()]
    assert keys == [f"101/2/1/{n}" for n in range(12)]
    one = requests.get(emu.url + "items/101/2/2/3/url", auth=auth, timeout=10).json()
    assert one == emu.state.job_by_key("101/2/2").items.get(3)["url"]



def test_cross_job_reads_are_cached_per_job_until_a_write(fresh):
    """Reads across a spider's jobs serve each job's encoded records from the body cache;
    a write to one of the jobs shows in the next read."""
    auth = (DEMO_APIKEY, "")
    url = fresh.url + "items/102/3?meta=_key&start=102/3/7/0&count=40"

    def keyed():
        r = requests.get(url, auth=auth, timeout=10)
        return [json.loads(line) for line in r.text.splitlines()]

    first = keyed()
    expected = []
    for number in range(7, 10):
        job = fresh.state.job_by_key(f"102/3/{number}")
        expected += [dict(job.items.get(i), _key=f"102/3/{number}/{i}")
                     for i in range(len(job.items))]
    assert first == expected[:40]
    hits = fresh.server.body_cache.hits
    assert keyed() == first and fresh.server.body_cache.hits > hits
    requests.post(fresh.url + "items/102/3/7?start=2", data=b'{"n": "changed"}\n', auth=auth,
                  timeout=10)
    assert keyed()[2] == {"n": "changed", "_key": "102/3/7/2"}


# ----------------------------------------------------------------------------- writes

def _post_lines(handle, path, records, start):
    body = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    r = requests.post(f"{handle.url}{path}?start={start}", data=body, auth=(DEMO_APIKEY, ""),
                      headers={"content-encoding": "gzip"}, timeout=10)
    assert (r.status_code, r.text) == (200, "")


def test_running_job_grows_and_finishes(fresh):
    """What a job runner does: append batches at the next offsets, then finish the job."""
    client = make_client(fresh)
    job = client.get_job("101/1/5")
    assert len(list(job.items.iter())) == 50
    n_logs = len(list(job.logs.iter()))
    _post_lines(fresh, "items/101/1/5", [{"title": f"new {n}", "price": n} for n in range(25)], 50)
    _post_lines(fresh, "logs/101/1/5", [{"time": 1, "level": 20, "message": "late message"}], n_logs)
    _post_lines(fresh, "requests/101/1/5", [{"url": "https://books.toscrape.com/x", "status": 200,
                                             "method": "GET", "rs": 10, "duration": 5, "time": 2,
                                             "parent": None, "fp": None}], 54)
    items = list(job.items.iter())
    assert len(items) == 75 and items[-1] == {"title": "new 24", "price": 24}
    assert list(job.logs.iter())[-1]["message"] == "late message"
    assert list(job.requests.iter())[-1] == {"url": "https://books.toscrape.com/x", "status": 200,
                                             "method": "GET", "rs": 10, "duration": 5, "time": 2}
    assert job.items.stats()["totals"]["input_values"] == 75
    assert job.finish(close_reason="finished") == "running"
    meta = dict(job.metadata.list())
    assert meta["state"] == "finished" and meta["close_reason"] == "finished"
    assert meta["finished_time"] >= meta["running_time"]
    assert "101/1/5" in [j["key"] for j in client.get_project(101).jobs.iter(spider="books")]


def test_client_batch_writer_fills_a_pushed_job(fresh):
    client = make_client(fresh)
    job = client.get_job(client._hsclient.push_job(103, "feeds", state="running").key)
    for n in range(25):
        job.items.write({"n": n, "text": "Café 📰"})
    job.logs.info("written by the client")
    job.items.flush()
    job.logs.flush()
    assert list(job.items.iter()) == [{"n": n, "text": "Café 📰"} for n in range(25)]
    assert [r["message"] for r in job.logs.iter()] == ["written by the client"]
    assert job.finish() == "running"
    client.close()


def test_batch_writes_overwrite_repeated_offsets_and_accept_gzip(fresh):
    url = fresh.url + "items/101/1/5"
    auth = (DEMO_APIKEY, "")
    body = b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(3))
    r = requests.post(url + "?start=50", data=gzip.compress(body), auth=auth, timeout=10,
                      headers={"content-encoding": "gzip"})
    assert (r.status_code, r.text) == (200, "")
    requests.post(url + "?start=51", data=b'{"n": "again"}\n', auth=auth, timeout=10)
    store = fresh.state.job_by_key("101/1/5").items
    assert [store.get(i) for i in range(50, 53)] == [{"n": 0}, {"n": "again"}, {"n": 2}]
    assert requests.post(url + "?start=99", data=body, auth=auth, timeout=10).status_code == 400
    assert requests.post(url, data=b"[1, 2]\n", auth=auth, timeout=10).status_code == 400
    big = json.dumps({"x": "y" * (1024 * 1024)}).encode()
    assert requests.post(url, data=big, auth=auth, timeout=10).status_code == 413
    assert requests.post(fresh.url + "items/101/1/777", data=body, auth=auth, timeout=10).status_code == 404


def test_jobq_update_push_and_spider_keys(fresh):
    client = make_client(fresh)
    hs = client._hsclient
    pushed = hs.push_job(101, "authors", priority=3, tags=["urgent"])
    assert pushed.key == "101/3/4"
    assert client.get_job("101/3/4").metadata.get("state") == "pending"
    # A 2-part key changes every job of the spider.
    updates = list(hs.get_project(101).jobq.update("101/3", state="deleted"))
    assert {u["key"] for u in updates} == {"101/3/1", "101/3/2", "101/3/3", "101/3/4"}
    assert client.get_project(101).spiders.get("authors").jobs.count(state=["pending", "finished"]) == 0
    started = client.get_job("101/1/6").start()
    assert started == "pending"
    with pytest.raises(NotFound):
        client.get_job("101/1/999").finish()
    answer = hs.get_project(101).jobq.push("quotes", state="running")
    assert set(answer) == {"key", "auth"}  # recorded push answer shape
    running = client.get_job(answer["key"])
    assert running.metadata.get("state") == "running"
    assert fresh.state.check_token(answer["key"], answer["auth"])
    # The token is a secret of the job: its metadata never shows it.
    assert "auth" not in dict(running.metadata.list())


def test_job_credentials_reach_their_project_only(fresh):
    hs = make_client(fresh)._hsclient
    answer = hs.get_project(101).jobq.push("quotes", state="running")
    key, token = answer["key"], answer["auth"]
    ok = requests.get(fresh.url + "items/101/2/1?count=1", auth=(key, token), timeout=10)
    assert ok.status_code == 200
    other = requests.get(fresh.url + "items/102/1/1?count=1", auth=(key, token), timeout=10)
    assert other.status_code == 401
    forged = requests.get(fresh.url + "items/101/2/1", auth=(key, token + "x"), timeout=10)
    assert forged.status_code == 401


def test_cancel(fresh):
    client = make_client(fresh)
    pending = client.get_job("101/3/3")
    pending.cancel()
    assert pending.metadata.get("state") == "finished"
    assert pending.metadata.get("close_reason") == "cancelled"
    assert client.get_project(103).jobs.cancel(["103/1/5", "103/1/6"]) == {"count": 2}
    assert client.get_job("103/1/5").metadata.get("state") == "running"  # only asked to stop
    assert client.get_job("103/1/5").metadata.get("cancelled_by") == "demo"


# ----------------------------------------------------------------------------- faults

def test_cut_stream_in_json_mode_resumes_with_startafter(fresh, no_retry_sleep):
    expected = expected_records(fresh, "101/1/3", "items")
    fresh.server.faults.add(path=r"^/items/101/1/3$", cut_after=30_000)
    client = make_client(fresh, use_msgpack=False)
    fresh.server.requests.clear()
    got = list(client.get_job("101/1/3").items.iter())
    assert got == expected  # every item exactly once, in order
    log = [e for e in fresh.server.requests.entries() if e["path"] == "/items/101/1/3"]
    assert len(log) == 2
    assert "startafter=101%2F1%2F3%2F" in log[1]["query"]
    resumed_after = int(log[1]["query"].split("startafter=101%2F1%2F3%2F")[1].split("&")[0])
    assert 0 < resumed_after < 1999


def test_503_is_retried_by_the_client(fresh, monkeypatch):
    client = make_client(fresh)
    # Retrying waits seconds between attempts; only its wait is shortened here.
    monkeypatch.setattr(client._hsclient.retrier, "wait", lambda *a, **k: 0)
    monkeypatch.setattr(client._hsclient.retrier, "_wait_jitter_max", 0)
    fresh.server.faults.add(path=r"^/jobs/101/1/1/state$", status=503, times=2,
                            headers={"Retry-After": "1"})
    assert client.get_job("101/1/1").metadata.get("state") == "finished"
    statuses = [e["status"] for e in fresh.server.requests.entries() if e["path"] == "/jobs/101/1/1/state"]
    assert statuses == [503, 503, 200]


def test_faults_over_http_control_paths(fresh):
    rules = {"rules": [{"path": "^/api/scrapyd/", "status": 500, "times": 1}]}
    requests.post(fresh.url + "__emulator__/faults", json=rules, timeout=10).raise_for_status()
    from scrapinghub.client.exceptions import ServerError
    client = make_client(fresh)
    with pytest.raises(ServerError):
        client.projects.list()
    assert client.projects.list() == [101, 102, 103]


# ----------------------------------------------------------------------------- bench data

def test_bench_data_starts_fast_and_serves_the_million_item_job():
    server = create_server("bench")  # lazily seeded: how fast is bench/'s business
    with start_in_thread(server) as handle:
        client = make_client(handle)
        assert client.projects.list() == [101, 102, 103, 900, 901]  # 901: bench/dask_items.py
        job = client.get_job(BENCH_JOB_KEY)
        assert job.items.stats()["totals"] == {"input_values": BENCH_ITEMS, "input_bytes": 200 * BENCH_ITEMS}
        store = server.state.job_by_key(BENCH_JOB_KEY).items
        tail = list(job.items.iter(offset=BENCH_ITEMS - 1500))
        assert tail == [store.get(i) for i in range(BENCH_ITEMS - 1500, BENCH_ITEMS)]
        json_tail = list(make_client(handle, use_msgpack=False).get_job(BENCH_JOB_KEY).items.iter(
            offset=BENCH_ITEMS - 1100, meta=["_key"]))
        assert json_tail[-1]["_key"] == f"{BENCH_JOB_KEY}/{BENCH_ITEMS - 1}"
        assert len(json.dumps(store.get(12345), separators=(",", ":"), ensure_ascii=False).encode()) == 200


@pytest.mark.slow
def test_official_client_iterates_the_whole_million_item_job():
    """The benchmark's baseline path, end to end (a few seconds; `-m "not slow"` skips it)."""
    with start_in_thread(create_server("bench")) as handle:
        count = 0
        last = None
        for last in make_client(handle).get_job(BENCH_JOB_KEY).items.iter():
            count += 1
        assert count == BENCH_ITEMS
        assert last == handle.state.job_by_key(BENCH_JOB_KEY).items.get(BENCH_ITEMS - 1)
