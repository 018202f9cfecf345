"""Collections of the Scrapinghub emulator, checked with the official `scrapinghub` client, unchanged.

Real HTTP on 127.0.0.1: the store API of all four types (set, get in JSON and msgpack,
delete, scans with their parameters, count with `nextstart` paging, truncate, the batch
writer), the service's error answers and the all-or-nothing rule for rejected batches, plus
a few raw requests where the client cannot show the wire (meta order, gzip bodies, 202).
Expected values come from the seed description or the emulator's state. Where the client
would sleep (its batch uploader polls once a second), only that sleep is shortened.
"""

import gzip
import json

import msgpack
import pytest
import requests
from scrapinghub import ScrapinghubClient
from scrapinghub.client.exceptions import BadRequest, NotFound, Unauthorized, ValueTooLarge
from scrapinghub.hubstorage.batchuploader import BatchUploader

from backends.scrapinghub.emulator import DEMO_APIKEY, create_server
from backends.scrapinghub.emulator import seed_stores
from backends.scrapinghub.emulator.stores import MAX_VALUE_BYTES
from hubfs.emulation import start_in_thread

TYPES = ("s", "cs", "vs", "vcs")
GETTERS = {"s": "get_store", "cs": "get_cached_store", "vs": "get_versioned_store",
           "vcs": "get_versioned_cached_store"}


@pytest.fixture(scope="module")
def emu():
    """One emulator for the module; tests that write use store names of their own."""
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture()
def quick_writer_loop(monkeypatch):
    """The client's batch uploader polls its queues once a second; poll every 20 ms (the
    sleep only: batching and the HTTP requests stay the client's own)."""
    monkeypatch.setattr(BatchUploader, "worker_loop_delay", 0.02)


def make_client(handle, **kw):
    return ScrapinghubClient(DEMO_APIKEY, dash_endpoint=handle.url + "api/", endpoint=handle.url, **kw)


@pytest.fixture(scope="module")
def project(emu):
    client = make_client(emu)
    yield client.get_project(101)
    client.close()


@pytest.fixture(scope="module")
def json_project(emu):
    client = make_client(emu, use_msgpack=False)
    yield client.get_project(101)
    client.close()


def raw(handle, method, path, **kw):
    kw.setdefault("auth", (DEMO_APIKEY, ""))
    return requests.request(method, handle.url + path, timeout=10, **kw)


# ----------------------------------------------------------------------------- seeded data

def test_list_and_seeded_stores(project, json_project):
    listed = project.collections.list()
    for (type_, name), size in seed_stores.STORE_LAYOUT[101].items():
        assert {"type": type_, "name": name} in listed
        store = project.collections.get(type_, name)
        assert store.count() == size == len(store.list())
    prices = project.collections.get_store("prices")
    keys = [r["_key"] for r in prices.iter()]
    assert keys == sorted(keys) and seed_stores.SLASH_KEY in keys and seed_stores.UNICODE_KEY in keys
    for client_project in (project, json_project):  # msgpack and JSON single-key reads
        store = client_project.collections.get_store("prices")
        assert store.get(seed_stores.UNICODE_KEY)["title"] == seed_stores.UNICODE_KEY
        assert store.get(seed_stores.SLASH_KEY)["currency"] == "GBP"
    assert project.collections.get_cached_store("sessions").count() == 3
    # versioned: sku-0001 was written four times; the newest is read, three are kept
    history = project.collections.get_versioned_store("history")
    seen = [r["seen"] for r in history.list(key=["sku-0001", "sku-0005"])]
    assert seen == ["2026-02-05T04:00:00Z", "2026-02-05T01:00:00Z"]


def test_unknown_project_and_wrong_key(emu):
    assert raw(emu, "GET", "collections/999/list").status_code == 403
    response = raw(emu, "GET", "collections/101/list", auth=("nope", ""))
    assert (response.status_code, response.text) == (401, "Unauthorized\n")
    with pytest.raises(Unauthorized):
        ScrapinghubClient("bad", dash_endpoint=emu.url + "api/",
                          endpoint=emu.url).get_project(101).collections.get_store("prices").get("sku-0001")


@pytest.mark.filterwarnings("ignore:A lot of endpoints support authentication only via apikey")
def test_job_credentials_reach_their_own_project_only(emu):
    hs = make_client(emu)._hsclient
    pushed = hs.push_job(101, "books", state="running")
    token = emu.state.job_by_key(pushed.key).token  # what push/startjob hand the job
    job_client = ScrapinghubClient((pushed.key, token), dash_endpoint=emu.url + "api/",
                                   endpoint=emu.url)
    store = job_client.get_project(101).collections.get_store("prices")
    assert store.get("sku-0001")["currency"] == "GBP"
    with pytest.raises(Unauthorized):
        job_client.get_project(102).collections.list()
    job_client.close()
    hs.close()


# ----------------------------------------------------------------------------- the store API

@pytest.mark.parametrize("type_", TYPES)
def test_set_get_delete_scan_truncate(project, json_project, emu, type_):
    name = f"crud_{type_}"
    store = getattr(project.collections, GETTERS[type_])(name)
    store.set({"_key": "one", "field1": "value1", "field2": ["a", "b"], "field3": 3})
    store.set([{"_key": f"item{n}", "n": n} for n in range(1, 21)])
    assert {"type": type_, "name": name} in project.collections.list()
    assert store.get("one") == {"field1": "value1", "field2": ["a", "b"], "field3": 3}
    assert getattr(json_project.collections, GETTERS[type_])(name).get("item7") == {"n": 7}
    with pytest.raises(NotFound):
        store.get("absent")
    assert store.count() == 21
    # lexicographic key order: item1, item10..item19, item2, item20, item3 ...
    keys = [r["_key"] for r in store.iter(prefix="item")]
    assert keys[:4] == ["item1", "item10", "item11", "item12"] and len(keys) == 20
    assert [r["_key"] for r in store.list(key=["item3", "nope", "item2"])] == ["item2", "item3"]
    assert [r["_key"] for r in store.list(prefix="item1", startafter="item15", count=3)] == [
        "item16", "item17", "item18"]
    assert [r["_key"] for r in store.list(prefix=["item2", "one"])] == ["item2", "item20", "one"]
    assert store.list(prefix="item1", nodata=True, meta=["_key"])[0] == {"_key": "item1"}
    assert store.count(prefix="item1") == 11
    # overwrite: versioned stores keep history in the state, every type reads the newest
    for n in range(4):
        store.set({"_key": "one", "v": n})
    assert store.get("one") == {"v": 3}
    kept = emu.state.projects[101].collections.store(type_, name).versions("one")
    assert len(kept) == (3 if type_.startswith("v") else 1)
    store.delete("item1")
    store.delete(["item2", "item3", "never-there"])
    assert store.count() == 18
    with pytest.raises(NotFound):
        store.get("item2")
    store.truncate()
    assert {"type": type_, "name": name} not in project.collections.list()
    assert store.list() == [] and store.count() == 0


def test_truncate_drops_every_type_and_answers_202(project, emu):
    for type_ in ("s", "vcs"):
        getattr(project.collections, GETTERS[type_])("twins").set({"_key": "k", "v": type_})
    response = raw(emu, "POST", "collections/101/delete", params={"name": "twins"})
    assert response.status_code == 202
    assert response.json() == {"status": "success", "deleted": "twins"}
    assert not [c for c in project.collections.list() if c["name"] == "twins"]


def test_scan_wire_details(project, emu):
    store = project.collections.get_store("wire")
    before = emu.state.clock()
    store.set([{"_key": "b", "x": 2, "tags": ["red"]}, {"_key": "a", "x": 1, "tags": ["blue"]}])
    lines = raw(emu, "GET", "collections/101/s/wire", params={"meta": ["_key", "_ts"]}).text.splitlines()
    first = json.loads(lines[0])
    assert list(first) == ["x", "tags", "_ts", "_key"] and first["_key"] == "a"
    assert first["_ts"] >= before
    # start is inclusive, startafter exclusive; filters reuse the job data operators
    assert [r["_key"] for r in store.list(start="b")] == ["b"]
    assert [r["_key"] for r in store.list(startafter="a")] == ["b"]
    assert [r["_key"] for r in store.list(filter=[("tags", "haselement", ["red"])])] == ["b"]
    assert store.list(startts=before - 10_000, endts=before - 1) == []
    assert len(store.list(startts=before)) == 2
    assert [r["_key"] for r in store.list(prefix=["a", "b"], prefixcount=1)] == ["a", "b"]
    # msgpack scan and key reads follow Accept; the body is concatenated maps
    packed = raw(emu, "GET", "collections/101/s/wire", params={"meta": "_key"},
                 headers={"Accept": "application/x-msgpack"})
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(packed.content)
    assert [r["_key"] for r in unpacker] == ["a", "b"]
    missing = raw(emu, "GET", "collections/101/s/wire/zzz")
    assert (missing.status_code, missing.text) == (404, "Not Found\n")
    # DELETE of one key and the deleted list both answer 200, absent keys too
    assert raw(emu, "DELETE", "collections/101/s/wire/a").status_code == 200
    assert raw(emu, "POST", "collections/101/s/wire/deleted", data=b'"nope"\n"b"').status_code == 200
    assert store.count() == 0


def test_keys_with_slashes_spaces_and_unicode_round_trip(project, json_project):
    store = project.collections.get_store("odd_keys")
    keys = ["dir/sub/file.json", "with space", "ünïcødé ☕", "trailing/"]
    store.set([{"_key": k, "k": k} for k in keys])
    for client_project in (project, json_project):
        odd = client_project.collections.get_store("odd_keys")
        for key in keys:
            assert odd.get(key) == {"k": key}
    assert [r["_key"] for r in store.iter()] == sorted(keys)
    store.delete(keys)
    assert store.count() == 0


def test_gzip_bodies_and_start_param_are_accepted(emu, project):
    body = gzip.compress(b'{"_key": "g1", "v": 1}\n{"_key": "g2", "v": 2}\n')
    response = raw(emu, "POST", "collections/101/cs/gz", params={"start": 0}, data=body,
                   headers={"content-encoding": "gzip"})
    assert response.status_code == 200 and response.text == ""
    assert project.collections.get_cached_store("gz").list(key=["g2"]) == [{"v": 2, "_key": "g2"}]


# ----------------------------------------------------------------------------- errors

def test_errors_use_the_service_bodies_and_reject_batches_whole(project, emu):
    store = project.collections.get_store("errs")
    store.set({"_key": "keep", "v": 0})
    with pytest.raises(BadRequest) as missing:
        store.set({"no_key": 1})
    assert str(missing.value) == "Error parsing data, missing value for _key field\n"
    with pytest.raises(BadRequest):
        store.set({"_key": [], "v": 1})
    big = "x" * (MAX_VALUE_BYTES + 10)
    with pytest.raises(ValueTooLarge) as large:
        store.set({"_key": "big", "v": big})
    assert str(large.value) == "Error parsing data, Serialized value too large - max 1048576 bytes\n"
    # one bad or too-large record among good ones: nothing of the batch is stored
    with pytest.raises(BadRequest):
        store.set([{"_key": "good1", "v": 1}, {"v": 2}, {"_key": "good3", "v": 3}])
    with pytest.raises(ValueTooLarge):
        store.set([{"_key": "good4", "v": 4}, {"_key": "big", "v": big}])
    response = raw(emu, "POST", "collections/101/s/errs", data=b'{"_key": "good5"}\n{not json\n')
    assert response.status_code == 400
    assert [r["_key"] for r in store.iter()] == ["keep"]
    bad_name = raw(emu, "POST", "collections/101/s/bad-name", data=b'{"_key": "k"}')
    assert bad_name.status_code == 400
    assert raw(emu, "GET", "collections/101/s/bad-name").status_code == 400
    with pytest.raises(ValueError):  # the client checks names itself
        project.collections.get_store("bad-name")


# ----------------------------------------------------------------------------- volume

def test_batch_writer_delivers_every_record(project, emu, quick_writer_loop):
    store = project.collections.get_store("bulk")
    for encoding in ("identity", "gzip"):
        writer = store.create_writer(size=1000, content_encoding=encoding)
        for n in range(3000):
            writer.write({"_key": f"{encoding}-{n:05d}", "n": n})
        writer.close()
    assert store.count() == 6000
    assert store.get("gzip-02999") == {"n": 2999}
    posts = [e for e in emu.server.requests.entries()
             if e["method"] == "POST" and e["path"] == "/collections/101/s/bulk"]
    assert len(posts) >= 6 and all(e["status"] == 200 for e in posts)


def test_large_store_scans_in_pages_and_counts_with_nextstart(project, emu):
    collections = emu.state.projects[101].collections
    total = 100_000
    collections.write("s", "huge", ({"_key": f"k{n:06d}", "n": n} for n in range(total)))
    store = project.collections.get_store("huge")
    pages, after = [], None
    for _ in range(5):
        params = {"count": 1000, **({"startafter": after} if after else {})}
        page = store.list(**params)
        pages.append(page)
        after = page[-1]["_key"]
    assert [p[0]["n"] for p in pages] == [0, 1000, 2000, 3000, 4000]
    middle = store.list(start="k050000", count=2)
    assert [r["n"] for r in middle] == [50000, 50001]
    emu.server.requests.clear()
    assert store.count() == total
    counts = [e for e in emu.server.requests.entries() if e["path"].endswith("/huge/count")]
    assert len(counts) > 1  # the client followed nextstart
    assert store.count(prefix="k0999") == 100
    assert sum(1 for _ in store.iter()) == total
