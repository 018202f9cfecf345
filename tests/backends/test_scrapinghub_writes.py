"""The Scrapinghub write paths (collections, frontier, tags) against the emulator over HTTP.

Nodes are driven directly, as the FUSE write path will: the written content goes to a
temporary file and `commit(path)` sends it. Results are read back with the OFFICIAL
`scrapinghub` client, so that a mistake shared by our client and our renderer cannot
hide, and the emulator's request log (`/__emulator__/requests`) shows that refused
content sent nothing.
"""

import json
import logging

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub import Remote, validation
from hubfs import names
from hubfs.tree import CommitProgress
from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.emulation.faults import FaultRule
from hubfs.errors import InvalidContent, NotEmpty, NotFound, Unsupported
from hubfs.http import RetryPolicy
from hubfs.tree import Kind

FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.05, retry_after_max=1,
                   connect_timeout=5, read_timeout=20)


@pytest.fixture
def remote(emu):
    remote = Remote("shw", {"apikey": DEMO_APIKEY, "app_url": emu.url + "api/",
                            "storage_url": emu.url, "projects": None}, policy=FAST)
    yield remote
    remote.close()


@pytest.fixture(scope="module")
def official(emulator):
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=emulator.url + "api/",
                               endpoint=emulator.url)
    yield client
    client.close()


def clear_log(emu):
    requests.delete(emu.url + "__emulator__/requests", timeout=5).raise_for_status()


def logged(emu, method=None, prefix=""):
    entries = requests.get(emu.url + "__emulator__/requests", timeout=5).json()
    return [e for e in entries if (method is None or e["method"] == method)
            and e["path"].startswith(prefix)]


def spool(tmp_path, data, name="spool"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def compact(value):
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def render(node):
    return b"".join(chunk for chunk, _ in node.render())


def collections_dir(remote, project=101):
    return remote.root().child(str(project)).child("collections")


def official_record(store, key, meta=("_key",)):
    """The record of *key* through the official client's scan (keys go in the query, so
    any character is safe), or None."""
    found = list(store.iter(key=[key], meta=list(meta)))
    return found[0] if found else None


def official_value(store, key):
    record = official_record(store, key)
    if record is not None:
        del record["_key"]
    return record


# ------------------------------------------------------------------------ key escaping

@pytest.mark.parametrize("key,name", [
    ("plain", "plain"), ("a/b", "a%2Fb"), ("100%", "100%25"), ("%2F", "%252F"),
    (".", "%2E"), ("..", "%2E%2E"), ("...", "..."), (".hidden", ".hidden"),
    ("", "%%"), ("nul\0x", "nul%00x"), ("Café ✓", "Café ✓"), ("a b", "a b"),
])
def test_escape_round_trips(key, name):
    assert names.escape(key) == name
    assert names.unescape(name) == key


@pytest.mark.parametrize("name", ["%", "50%", "%2f", "%2E.", "a%2Eb", "%41", "%%x", "x%%"])
def test_unescape_refuses_names_escape_cannot_give(name):
    with pytest.raises(InvalidContent):
        names.unescape(name)


def test_file_name_limit():
    assert names.file_name("k" * 255) == "k" * 255
    assert names.file_name("k" * 254 + "/") is None  # 256 bytes once escaped
    assert names.file_name("é" * 127) is not None and names.file_name("é" * 128) is None
    assert names.file_name("slot" * 63, ".jl") is not None
    assert names.file_name("slot" * 63 + "x", ".jl") is None


# ----------------------------------------------------------------------- collections

def test_project_sections_and_store_listing(remote, emu, official):
    official.get_project(101).collections.get_versioned_cached_store("caches").set(
        {"_key": "k1", "v": 1})
    project = remote.root().child("101")
    assert [n.name for n in project.children()] == ["spiders", "collections", "frontier",
                                                    "activity.jl"]
    clear_log(emu)
    colls = project.child("collections")
    listed = {n.name: n for n in colls.children()}
    assert len(logged(emu)) == 1  # one GET collections/P/list
    for name in ("prices", "history.vs", "sessions.cs", "caches.vcs"):
        store, export = listed[name], listed[name + ".jl"]
        assert store.is_dir and store.writable
        assert export.kind is Kind.RENDERED and export.writable
        assert export.write_mode == "replace" and not export.immutable and not export.appendable
        assert colls.child(name).name == name and colls.child(name + ".jl").name == name + ".jl"
    wanted = {(c["type"], c["name"]) for c in official.get_project(101).collections.list()}
    assert {(n.type, n.store) for n in listed.values()} == wanted
    for missing in ("nosuch", "prices.s", "prices.xs", "prices.vs", "bad-name", "prices.jl.jl"):
        with pytest.raises(NotFound):
            colls.child(missing)


@pytest.mark.parametrize("entry,type_,store", [
    ("prices", "s", "prices"), ("history.vs", "vs", "history"),
    ("sessions.cs", "cs", "sessions"), ("caches.vcs", "vcs", "caches"),
])
def test_values_are_byte_exact(remote, emu, official, entry, type_, store):
    if type_ == "vcs":
        official.get_project(101).collections.get_versioned_cached_store("caches").set(
            {"_key": "k1", "v": 1})
    theirs = official.get_project(101).collections.get(type_, store)
    node = collections_dir(remote).child(entry)
    clear_log(emu)
    values = list(node.children())
    # The whole listing, values included, is one scan page: no request per key.
    assert len(logged(emu)) == 1
    times = {r["_key"]: r["_ts"] for r in theirs.iter(meta=["_key", "_ts"])}
    assert sorted(names.unescape(v.name) for v in values) == sorted(times)
    for value in values:
        key = names.unescape(value.name)
        expected = compact(theirs.get(key) if "/" not in key else official_value(theirs, key))
        assert value.kind is Kind.SIZED and not value.immutable and value.writable
        assert value.size == len(expected) and value.read(0, 1 << 20) == expected
        assert value.read(3, 5) == expected[3:8]
        assert value.mtime == times[key] / 1000
        looked_up = node.child(value.name)
        assert (looked_up.read(0, 1 << 20), looked_up.mtime) == (expected, value.mtime)
    with pytest.raises(NotFound):
        node.child("no-such-key")
    with pytest.raises(NotFound):
        node.child("bad%escape")


def test_store_jl_renders_every_record(remote, official):
    theirs = official.get_project(101).collections.get_store("prices")
    expected = b"".join(
        compact({"_key": r.pop("_key"), "value": r}) for r in theirs.iter())
    assert render(collections_dir(remote).child("prices.jl")) == expected


ODD_KEYS = ["a/b", "100%", ".", "..", "Ünïcødé ✓ 日本", "a%2Fb", "tab\there", "nul\0byte",
            "%", "/leading", "trailing/", "?q=1#frag", " spaced "]


def test_escaped_keys_round_trip(remote, emu, official, tmp_path):
    store = collections_dir(remote).mkdir("oddkeys")
    assert (store.name, store.type) == ("oddkeys", "s")
    for key in ODD_KEYS:
        node = store.create(names.escape(key))
        node.commit(spool(tmp_path, json.dumps({"k": key})), CommitProgress())
    theirs = official.get_project(101).collections.get_store("oddkeys")
    for key in ODD_KEYS:
        assert official_value(theirs, key) == {"k": key}
    store = collections_dir(remote).child("oddkeys")
    assert sorted(n.name for n in store.children()) == sorted(map(names.escape, ODD_KEYS))
    for key in ODD_KEYS:
        assert store.child(names.escape(key)).read(0, 1000) == compact({"k": key})
    # The empty key is refused by the service; a name for it exists but cannot be created.
    with pytest.raises(InvalidContent):
        store.create("%%")
    for bad in ("%", "a%zz", "%2e"):
        with pytest.raises(InvalidContent):
            store.create(bad)


def test_long_keys_are_left_out_with_a_warning(remote, official, caplog):
    long_key = "L" * 300
    official.get_project(101).collections.get_store("longkeys").set(
        [{"_key": long_key, "v": 1}, {"_key": "short", "v": 2}])
    store = collections_dir(remote).child("longkeys")
    with caplog.at_level(logging.WARNING, logger="backends.scrapinghub.collections"):
        assert [n.name for n in store.children()] == ["short"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "300 characters" in warnings[0].getMessage()
    assert "longkeys" in warnings[0].getMessage()
    assert compact({"_key": long_key, "value": {"v": 1}}) in render(
        collections_dir(remote).child("longkeys.jl"))


def test_set_overwrite_delete(remote, emu, official, tmp_path):
    colls = collections_dir(remote)
    store = colls.mkdir("crud.vs")
    assert (store.type, store.store) == ("vs", "crud")
    node = store.create("item")
    assert node.size == 0 and node.read(0, 10) == b""
    clear_log(emu)
    node.commit(spool(tmp_path, '{"price": 1.5, "name": "Zoë"}'), CommitProgress())
    posts = logged(emu, "POST")
    assert [p["path"] for p in posts] == ["/collections/101/vs/crud"]
    theirs = official.get_project(101).collections.get_versioned_store("crud")
    assert theirs.get("item") == {"price": 1.5, "name": "Zoë"}
    assert node.read(0, 100) == compact({"price": 1.5, "name": "Zoë"})
    # Pretty-printed content with surrounding whitespace is fine; it is stored compact.
    node.commit(spool(tmp_path, '\n  {\n  "price": 2,\n  "tags": ["a", "b"]\n}\n\n'), CommitProgress())
    assert theirs.get("item") == {"price": 2, "tags": ["a", "b"]}
    assert colls.child("crud.vs").child("item").read(0, 100) == b'{"price":2,"tags":["a","b"]}\n'
    # cat x > y round-trips byte for byte.
    copy = store.create("item-copy")
    copy.commit(spool(tmp_path, node.read(0, node.size)), CommitProgress())
    assert colls.child("crud.vs").child("item-copy").read(0, 100) == node.read(0, 100)
    colls.child("crud.vs").child("item").delete()
    assert official_value(theirs, "item") is None
    with pytest.raises(NotFound):
        colls.child("crud.vs").child("item")
    with pytest.raises(Unsupported):
        store.mkdir("sub")


def test_sets_and_deletes_are_retried(remote, emu, official, tmp_path):
    store = collections_dir(remote).mkdir("retried")
    node = store.create("k")
    emu.server.faults.add(FaultRule(path="^/collections/101/s/retried", method="POST",
                                    status=503, times=2))
    node.commit(spool(tmp_path, '{"v": 1}'), CommitProgress())
    assert official.get_project(101).collections.get_store("retried").get("k") == {"v": 1}
    emu.server.faults.add(FaultRule(path="/deleted$", method="POST", status=503, times=1))
    node.delete()
    assert official.get_project(101).collections.get_store("retried").count() == 0
    assert [e["status"] for e in logged(emu, "POST")] == [503, 503, 200, 503, 200]


@pytest.mark.parametrize("data,reason", [
    ("{not json", "not JSON"),
    ("", "not JSON"),
    ('{"a": 1} {"b": 2}', "not JSON"),
    ('[1, 2]', "not a JSON object"),
    ('"text"', "not a JSON object"),
    ('{"a": NaN}', "not JSON"),
    ('{"_key": "x", "a": 1}', "_key"),
    ('{"_ts": 5}', "_ts"),
    (b'{"a": "\xff"}', "UTF-8"),
    ('{"a": "' + "x" * (1024 * 1024) + '"}', "1048576"),
])
def test_bad_values_send_nothing(remote, emu, tmp_path, data, reason):
    node = collections_dir(remote).mkdir("refused").create("key")
    clear_log(emu)
    with pytest.raises(InvalidContent) as info:
        node.commit(spool(tmp_path, data), CommitProgress())
    assert reason in str(info.value)
    assert logged(emu, "POST") == []


def test_value_size_limit_counts_the_record(tmp_path):
    # The limit is on the serialized record {..value.., "_key": key}: just under passes.
    key = "k"
    filler = 1024 * 1024 - len('{"a":"","_key":"k"}')
    assert len(validation.record_line(key, {"a": "x" * filler})) == 1024 * 1024
    with pytest.raises(InvalidContent):
        validation.record_line(key, {"a": "x" * (filler + 1)})


def jl_lines(records):
    return "".join(json.dumps({"_key": k, "value": v}, ensure_ascii=False) + "\n"
                   for k, v in records)


def test_jl_restore_of_5000_keys(remote, emu, official, tmp_path):
    theirs = official.get_project(101).collections.get_store("restored")
    theirs.set({"_key": "zz-untouched", "keep": True})
    records = [(f"key-{n:05d}", {"n": n, "name": f"naïve {n}", "nested": {"l": [n, None]}})
               for n in range(5000)]
    records[7] = ("with/slash", {"n": 7})
    records.sort()
    path = spool(tmp_path, jl_lines(records) + "\n")  # a trailing blank line is ignored
    export = collections_dir(remote).create("restored.jl")
    assert export.name == "restored.jl" and export.type == "s"
    clear_log(emu)
    export.commit(path, CommitProgress())
    posts = logged(emu, "POST", "/collections/101/s/restored")
    assert 5 <= len(posts) <= 6  # batches of up to 1000 records
    assert theirs.count() == 5001
    got = {r.pop("_key"): r for r in theirs.iter()}
    assert all(got[k] == v for k, v in records) and got["zz-untouched"] == {"keep": True}
    # Byte-exact through the value files and back out through the .jl file.
    store = collections_dir(remote).child("restored")
    for value in store.children():
        key = names.unescape(value.name)
        assert value.read(0, 1000) == compact(got[key])
    rendered = render(collections_dir(remote).child("restored.jl"))
    assert rendered == b"".join(compact({"_key": k, "value": got[k]}) for k in sorted(got))
    # Idempotent: sending the same file again leaves the same store.
    export.commit(path, CommitProgress())
    assert theirs.count() == 5001


def test_jl_bad_line_sends_nothing(remote, emu, tmp_path):
    records = [(f"k{n:05d}", {"n": n}) for n in range(5000)]
    text = jl_lines(records).splitlines(keepends=True)
    text[3999] = '{"_key": "k03999", "value": [1, 2]}\n'
    export = collections_dir(remote).create("badrestore.jl")
    clear_log(emu)
    with pytest.raises(InvalidContent) as info:
        export.commit(spool(tmp_path, "".join(text)), CommitProgress())
    assert "line 4000" in str(info.value)
    assert logged(emu, "POST") == []


@pytest.mark.parametrize("line,reason", [
    ("{oops", "not JSON"),
    ('["_key", "value"]', "not a JSON object"),
    ('{"_key": 5, "value": {}}', "_key must be a string"),
    ('{"_key": "", "value": {}}', "empty _key"),
    ('{"value": {}}', "_key must be a string"),
    ('{"_key": "a"}', "value must be a JSON object"),
    ('{"_key": "a", "value": {}, "extra": 1}', "unexpected field 'extra'"),
    ('{"_key": "a", "value": {"_key": "b"}}', "holds _key"),
    ('{"_key": "a", "value": {"x": "' + "y" * (1024 * 1024) + '"}}', "1048576"),
])
def test_jl_line_checks(remote, emu, tmp_path, line, reason):
    export = collections_dir(remote).create("checks.jl")
    clear_log(emu)
    with pytest.raises(InvalidContent) as info:
        export.commit(spool(tmp_path, '{"_key": "ok", "value": {}}\n\n' + line + "\n"), CommitProgress())
    assert "line 3" in str(info.value) and reason in str(info.value)
    assert logged(emu, "POST") == []


def test_jl_unsorted_duplicates_last_line_wins(remote, official, tmp_path):
    records = [(f"k{n:04d}", {"n": n}) for n in range(2500)]
    records += [("k0001", {"n": "second"}), ("a-first", {"n": 0})]
    collections_dir(remote).create("dups.cs.jl").commit(spool(tmp_path, jl_lines(records)), CommitProgress())
    theirs = official.get_project(101).collections.get_cached_store("dups")
    assert theirs.get("k0001") == {"n": "second"} and theirs.count() == 2501


def test_store_names_and_rmdir(remote, emu, official, tmp_path):
    colls = collections_dir(remote)
    for bad in ("bad-name", "dotted.name", "x.s", "x.jl", "", "a b"):
        with pytest.raises(InvalidContent):
            colls.mkdir(bad)
    for bad in ("plainfile", "x.vs", "bad-name.jl"):
        with pytest.raises(InvalidContent):
            colls.create(bad)
    assert colls.mkdir("fresh.vcs").type == "vcs"
    # A new store is local until written: rmdir of it (or of any empty store) sends nothing.
    clear_log(emu)
    colls.mkdir("fresh").delete()
    assert logged(emu, method="POST") == [] and logged(emu, method="DELETE") == []
    with pytest.raises(NotEmpty):
        colls.child("prices").delete()
    with pytest.raises(Unsupported):
        colls.child("prices.jl").delete()
    # The first value written creates the store.
    colls.mkdir("fresh").create("k").commit(spool(tmp_path, "{}"), CommitProgress())
    assert {"type": "s", "name": "fresh"} in official.get_project(101).collections.list()
    assert colls.child("fresh").child("k").read(0, 10) == b"{}\n"


# -------------------------------------------------------------------------- frontier

def frontier_dir(remote):
    return remote.root().child("102").child("frontier")


def official_queue(official, frontier, slot):
    return [(fp, qdata) for batch in official.get_project(102).frontiers.get(frontier)
            .get(slot).q.iter() for fp, qdata in batch["requests"]]


def test_frontier_listing_and_render(remote, official):
    frontiers = frontier_dir(remote)
    assert [f.name for f in frontiers.children()] == official.get_project(102).frontiers.list()
    products = frontiers.child("products")
    slots = official.get_project(102).frontiers.get("products").list()
    assert [s.name for s in products.children()] == [s + ".jl" for s in slots]
    for slot in slots:
        node = products.child(slot + ".jl")
        assert node.kind is Kind.RENDERED and node.writable and node.write_mode == "append"
        expected = b"".join(compact({"fp": fp} if q is None else {"fp": fp, "qdata": q})
                            for fp, q in official_queue(official, "products", slot))
        assert render(node) == expected and expected
    for missing in ("nosuch.jl", "example.com", "example.com.jl.jl"):
        with pytest.raises(NotFound):
            products.child(missing)
    with pytest.raises(NotFound):
        frontiers.child("nosuch")


def test_frontier_append_new_slot_and_delete(remote, emu, official, tmp_path):
    frontiers = frontier_dir(remote)
    crawl = frontiers.mkdir("crawl")
    slot = crawl.create("100%25 sure.jl")
    assert slot.slot == "100% sure"
    clear_log(emu)
    slot.commit(spool(tmp_path, '{"fp": "/page/1"}\n\n{"fp": "/page/2", "qdata": {"d": 1}, '
                                '"p": 0}\n{"fp": "/page/3", "qdata": null}\n'), CommitProgress())
    assert len(logged(emu, "POST")) == 1
    assert official_queue(official, "crawl", "100% sure") == [
        ("/page/1", None), ("/page/2", {"d": 1}), ("/page/3", None)]
    slot = frontier_dir(remote).child("crawl").child("100%25 sure.jl")
    assert render(slot) == (b'{"fp":"/page/1"}\n{"fp":"/page/2","qdata":{"d":1}}\n'
                            b'{"fp":"/page/3"}\n')
    # A resend adds nothing twice: fingerprints are deduplicated by the service.
    slot.commit(spool(tmp_path, '{"fp": "/page/3"}\n{"fp": "/page/4"}\n'), CommitProgress())
    assert [fp for fp, _ in official_queue(official, "crawl", "100% sure")] == [
        "/page/1", "/page/2", "/page/3", "/page/4"]
    with pytest.raises(NotEmpty):
        frontier_dir(remote).child("crawl").delete()
    slot.delete()
    assert official.get_project(102).frontiers.get("crawl").list() == []
    frontier_dir(remote).mkdir("crawl").delete()  # empty now: no request, no error


@pytest.mark.parametrize("line,reason", [
    ("not json", "not JSON"),
    ('["/x"]', "not a JSON object"),
    ('{"qdata": {}}', "fp must be"),
    ('{"fp": 5}', "fp must be"),
    ('{"fp": "/x", "qdata": [1]}', "qdata must be"),
    ('{"fp": "/x", "p": "1"}', "p must be"),
    ('{"fp": "/x", "p": true}', "p must be"),
    ('{"fp": "/x", "url": "/x"}', "unexpected field 'url'"),
])
def test_frontier_bad_lines_send_nothing(remote, emu, tmp_path, line, reason):
    slot = frontier_dir(remote).child("products").child("example.com.jl")
    clear_log(emu)
    with pytest.raises(InvalidContent) as info:
        slot.commit(spool(tmp_path, '{"fp": "/fine"}\n' + line + "\n"), CommitProgress())
    assert "line 2" in str(info.value) and reason in str(info.value)
    assert logged(emu, "POST") == []


def test_frontier_names(remote):
    products = frontier_dir(remote).child("products")
    for bad in ("noext", "%.jl", ".jl", "a%2f.jl", "a%2Fb.jl", "%2E.jl", "%2E%2E.jl"):
        with pytest.raises(InvalidContent):
            products.create(bad)
    for bad in ("bad%", "a%2Fb", "%2E", "%%"):
        with pytest.raises(InvalidContent):
            frontier_dir(remote).mkdir(bad)


# ------------------------------------------------------------------------------ tags

def tags_node(remote, key="101/books/2"):
    project, spider, job = key.split("/")
    job_dir = remote.root().child(project).child("spiders").child(spider).child(job)
    return job_dir, job_dir.child("tags")


def test_tags_render_and_update(remote, emu, official, tmp_path):
    job_dir, tags = tags_node(remote)
    assert job_dir.immutable and not tags.immutable and tags.writable
    assert tags.kind is Kind.RENDERED and tags.write_mode == "replace"
    job = official.get_job("101/1/2")
    before = job.metadata.get("tags")
    assert before and render(tags) == "".join(t + "\n" for t in before).encode()
    # Writing the same tags back (whitespace and blank lines aside) sends no update.
    clear_log(emu)
    tags.commit(spool(tmp_path, "\n".join(f"  {t} " for t in before) + "\n\n"), CommitProgress())
    assert logged(emu, "POST") == []
    # Keep the first, drop the rest, add two (one with a space inside).
    tags.commit(spool(tmp_path, f"{before[0]}\nnew-tag\nspaced tag\nnew-tag\n"), CommitProgress())
    assert [e["path"] for e in logged(emu, "POST")] == ["/api/jobs/update.json"]
    assert job.metadata.get("tags") == [before[0], "new-tag", "spaced tag"]
    assert render(tags) == f"{before[0]}\nnew-tag\nspaced tag\n".encode()
    # An empty file removes every tag and renders as an empty file.
    tags.commit(spool(tmp_path, ""), CommitProgress())
    assert job.metadata.get("tags") == [] and render(tags) == b""
    tags.commit(spool(tmp_path, "".join(t + "\n" for t in before)), CommitProgress())
    assert job.metadata.get("tags") == before
