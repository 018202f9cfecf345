"""The aliyun-log backend without FUSE: client, tree, rendering and appending against the
emulator over real HTTP, with the official SDK as the reference for what bytes mean."""

import json
import os
import threading
import time
import zlib

import lz4.block
import pytest
from aliyun.log.proto import LogGroupList as SdkLogGroupList
from aliyun.log.pulllog_response import PullLogResponse

from backends.aliyun_log import Remote, appending, pulling, render
from backends.aliyun_log.decoding import Decoder
from backends.aliyun_log.emulator import quota_fault
from backends.aliyun_log.tree import SETTLE, parse_day
from backends.aliyun_log.wire import text as pb
from hubfs import errors
from hubfs.http import RetryPolicy
from tests.support_aliyun_log import emu, emulator, line, remote, sdk_client, sdk_hour  # noqa: F401 (fixtures)

DAY, HOUR = 86400, 3600
FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.05, read_timeout=5, deadline=20)


def make_remote(emu, clock=time.time, **options):
    r = Remote("sls", remote(emu.url, decode_workers=0, **options), policy=FAST, clock=clock)
    r.check()
    return r


def sdk_lines(raw):
    parsed = SdkLogGroupList()
    parsed.ParseFromString(raw)
    return b"".join(line(log) for log in PullLogResponse.loggroups_to_flattern_list(parsed))


# -- rendering ---------------------------------------------------------------------------

def group_list(*groups):
    out = pb.LogGroupList()
    for topic, source, tags, logs in groups:
        group = out.LogGroups.add(Topic=topic, Source=source)
        for key, value in tags:
            group.LogTags.add(Key=key, Value=value)
        for when, ns, contents in logs:
            log = group.Logs.add(Time=when)
            for key, value in contents:
                log.Contents.add(Key=key, Value=value)
            if ns:
                log.Time_ns = ns
    return out.SerializeToString()


def test_render_matches_the_sdk_flattening_including_odd_keys():
    raw = group_list(
        ("t", "1.2.3.4", [("__pack_id__", "ABC-0"), ("host", "w1")],
         [(1700000000, 123, [("k", "v"), ("msg", 'quote " back \\ nl \n tab \t ☕')]),
          (1700000001, 0, [("x", "1"), ("x", "2"), ("__topic__", "shadow"), ("__tag__:host", "h")]),
          (1700000002, 0, [])]),
        ("", "", [], [(5, 0, [("", "empty key"), ("中文", "值")])]))
    assert render.render_list(raw) == sdk_lines(raw)
    lines = render.render_list(raw).splitlines()
    assert json.loads(lines[0])["__time_ns_part__"] == 123
    assert list(json.loads(lines[1])) == ["__time__", "__topic__", "__source__",
                                          "__tag__:__pack_id__", "__tag__:host", "x"]


def test_render_replaces_invalid_utf8_instead_of_failing():
    good = group_list(("t", "s", [], [(1, 0, [("k", "AAAA")])]))
    bad = good.replace(b"AAAA", b"A\xffAA")
    assert json.loads(render.render_list(bad))["k"] == "A\ufffdAA"


@pytest.mark.parametrize("kind", ["lz4", "deflate", ""])
def test_render_body_for_every_compression(kind):
    raw = group_list(("t", "s", [], [(1, 0, [("k", "v" * 100)])]))
    body = {"lz4": lz4.block.compress(raw, store_size=False), "deflate": zlib.compress(raw),
            "": raw}[kind]
    assert render.render_body(body, kind, len(raw), 1) == sdk_lines(raw)


def test_bad_bodies_are_errors_never_short_output():
    raw = group_list(("t", "s", [], [(1, 0, [("k", "v" * 100)])]))
    body = lz4.block.compress(raw, store_size=False)
    with pytest.raises(render.BadBody):
        render.render_body(body[:-5], "lz4", len(raw), 1)  # cut
    with pytest.raises(render.BadBody):
        render.render_body(body, "lz4", len(raw) + 1, 1)  # wrong raw size
    with pytest.raises(render.BadBody):
        render.render_body(raw, "", len(raw), 2)  # fewer groups than x-log-count
    with pytest.raises(render.BadBody):
        render.render_body(b"\xff" * 10, "", 10, 1)  # not protobuf
    assert render.render_body(b"", "lz4", 0, 0) == b""


def test_render_threads_render_the_same_bytes():
    raw = group_list(*[("t", f"s{i}", [("a", "b")], [(i, i, [("k", str(j)) for j in range(5)])] * 400)
                       for i in range(40)])
    decoder = Decoder(workers=2)
    try:
        body = lz4.block.compress(raw, store_size=False)
        assert decoder.submit(body, "lz4", len(raw), 40).result() == render.render_list(raw)
        with pytest.raises(render.BadBody):
            decoder.submit(body, "lz4", len(raw), 41).result()
    finally:
        decoder.close()


# -- appending ---------------------------------------------------------------------------

def spooled(tmp_path, text, mtime=1_700_000_000):
    path = tmp_path / "append.jl"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    os.utime(path, (mtime, mtime))
    return str(path)


@pytest.mark.parametrize("content,reason", [
    ('{"a": 1}\n[1]\n', "line 2: not a JSON object"),
    ('{"a": 1}\n\n{"a": \n', "line 3: not JSON"),
    (b'{"a": "\xff"}\n', "line 1: not UTF-8"),
    ('{"__time__": -1}\n', "line 1: __time__ must be an integer"),
    ('{"__time__": "soon"}\n', "line 1: __time__ must be an integer"),
    ('{"": 1}\n', "line 1: a key is empty"),
    ('{"__topic__": 5}\n', "line 1: __topic__ and __source__ must be strings"),
    ('{"__tag__:x": 5}\n', "line 1: tag '__tag__:x' must be a string"),
    ('{"big": "%s"}\n' % ("x" * (1024 * 1024 + 1)), "line 1: the value of 'big' is larger"),
    ('{"deep": ' + "[" * 100000 + "]" * 100000 + "}\n", "line 1: nested too deeply"),
])
def test_append_refuses_bad_lines_naming_them(tmp_path, content, reason):
    with pytest.raises(errors.InvalidContent, match=reason.replace("[", r"\[")):
        appending.parse(spooled(tmp_path, content))


def test_append_lines_become_logs_and_hour_lines_append_back(tmp_path):
    text = ('{"msg": "a", "n": 1, "ok": true, "obj": {"x": [1, "ü"]}}\n'
            '\n'
            '{"__time__": "1700000100", "__time_ns_part__": 7, "__topic__": "t", "__source__": "s", '
            '"__tag__:env": "prod", "msg": "b"}\n')
    logs = appending.parse(spooled(tmp_path, text))
    assert logs[0] == (("", "", ()), 1_700_000_000, 0,
                       [("msg", "a"), ("n", "1"), ("ok", "true"), ("obj", '{"x":[1,"ü"]}')])
    assert logs[1] == (("t", "s", (("env", "prod"),)), 1_700_000_100, 7, [("msg", "b")])
    batches = list(appending.batches(logs))
    assert len(batches) == 2  # different topic/source/tags: different groups
    rendered = b"".join(render.render_list(b"\x0a" + bytes([len(raw)]) + raw) for raw, _, _ in batches)
    # An hour file's lines appended again give the same logs back.
    again = appending.parse(spooled(tmp_path, rendered))
    assert again == logs


def test_append_batches_respect_count_and_size_limits(tmp_path):
    many = "".join(json.dumps({"n": i}) + "\n" for i in range(10_000))
    sizes = [count for _, _, count in appending.batches(appending.parse(spooled(tmp_path, many)))]
    assert sizes == [4096, 4096, 1808]
    big = "".join(json.dumps({"blob": "x" * 500_000, "n": i}) + "\n" for i in range(20))
    batches = list(appending.batches(appending.parse(spooled(tmp_path, big))))
    assert all(len(raw) <= appending.MAX_BYTES for raw, _, _ in batches)
    assert sum(count for _, _, count in batches) == 20 and len(batches) == 4


# -- client and tree against the emulator -------------------------------------------------

def test_tree_hours_equal_the_sdk_pull(emu):
    r = make_remote(emu)
    try:
        store = r.root().child("web-shop").child("nginx-access")
        now = int(time.time())
        start = now - now % DAY - 10 * HOUR
        hour = store.child(time.strftime("%Y-%m-%d", time.gmtime(start))).child(
            time.strftime("%H.jl", time.gmtime(start)))
        assert hour.immutable and hour.cache_key().endswith(f"/web-shop/nginx-access/all/{start}")
        data = b"".join(chunk for chunk, _ in hour.render())
        assert data == sdk_hour(sdk_client(emu.url), "web-shop", "nginx-access", start)
    finally:
        r.close()


def test_days_follow_ttl_and_creation_and_hours_stop_now(emu):
    now = int(time.time())
    today = now - now % DAY
    r = make_remote(emu, clock=lambda: today + 5 * HOUR + SETTLE + 10)
    try:
        events = r.root().child("web-shop").child("app-events")  # TTL 30, created D-2
        names = [n.name for n in events.children() if n.is_dir and n.name != "shards"]
        assert names == [time.strftime("%Y-%m-%d", time.gmtime(today - d * DAY)) for d in (2, 1, 0)]
        day = events.child(names[-1])
        hours = [h.name for h in day.children()]
        assert hours == ["00.jl", "01.jl", "02.jl", "03.jl", "04.jl", "05.jl"]
        assert not day.child("05.jl").immutable and day.child("05.jl").cache_key() is None
        assert day.child("04.jl").immutable  # ended more than SETTLE seconds ago
        with pytest.raises(errors.NotFound):
            day.child("06.jl")
        with pytest.raises(errors.NotFound):
            events.child(time.strftime("%Y-%m-%d", time.gmtime(today - 3 * DAY)))
    finally:
        r.close()
    r = make_remote(emu, clock=lambda: today + 5 * HOUR + SETTLE - 1)
    try:
        assert not r.root().child("web-shop").child("app-events").child(
            time.strftime("%Y-%m-%d", time.gmtime(today))).child("04.jl").immutable
    finally:
        r.close()


def test_parse_day_accepts_only_real_days():
    assert parse_day("2024-02-29") == 1709164800
    assert parse_day("2023-02-29") is None and parse_day("2024-2-01") is None
    assert parse_day("2024-13-01") is None


def test_missing_names_are_not_found(emu):
    r = make_remote(emu)
    try:
        with pytest.raises(errors.NotFound):
            r.root().child("no-such-project")
        with pytest.raises(errors.NotFound):
            r.root().child("web-shop").child("nope")
        with pytest.raises(errors.NotFound):
            r.root().child("web-shop").child("nginx-access").child("shards").child("03")
    finally:
        r.close()


def test_wrong_secret_is_access_denied_with_the_service_code(emu):
    r = Remote("sls", remote(emu.url, access_key_secret="bad", decode_workers=0), policy=FAST)
    with pytest.raises(errors.AccessDenied, match="SignatureNotMatch"):
        r.check()
    r.close()


def test_quota_refusals_are_retried_then_transient_not_access_denied(emu):
    r = make_remote(emu)
    try:
        client = r.client
        emu.server.faults.add(quota_fault("ExceedQPSLimit", path="", times=2))
        assert client.list_logstores("web-shop") == ["app-events", "nginx-access"]
        emu.server.faults.add(quota_fault("ReadQuotaExceed", path="", times=-1))
        with pytest.raises(errors.Transient, match="ReadQuotaExceed"):
            client.list_logstores("web-shop")
        emu.server.faults.clear()
        emu.server.faults.add(quota_fault("WriteQuotaExceed", path="/shards/lb", times=2))
        group = pb.LogGroup(Topic="quota")
        group.Logs.add(Time=int(time.time())).Contents.add(Key="k", Value="v")
        raw = group.SerializeToString()
        client.put_logs("iot-fleet", "archive", raw, lz4.block.compress(raw, store_size=False))
        posts = [e for e in emu.server.requests.entries() if e["method"] == "POST"]
        assert [e["status"] for e in posts] == [403, 403, 200]
    finally:
        r.close()


def test_configured_projects_stand_in_for_list_project(emu):
    r = make_remote(emu, projects=["web-shop"])
    try:
        assert [p.name for p in r.root().children()] == ["web-shop"]
        with pytest.raises(errors.NotFound):
            r.root().child("iot-fleet")  # not in the configured list
        # ListProject was never needed: the configured list stands in for it.
        assert all(e["path"] != "/" or e["query"] == "" for e in emu.server.requests.entries())
    finally:
        r.close()


# -- all-shards ordering -------------------------------------------------------------------

def test_later_shards_pull_ahead_spilling_to_disk_and_come_out_in_order(monkeypatch):
    """Shard 0 cannot end before every later shard has pulled all of its chunks: they
    must not wait for the reader, and what they pulled ahead (beyond a memory bound of a
    few bytes here) comes back from the spill file in order."""
    monkeypatch.setattr(pulling, "AHEAD_BYTES", 10)
    others_done = [threading.Event() for _ in range(3)]

    def stream(index):
        def chunks():
            if index == 0:
                yield b"first", 0
                for event in others_done:
                    assert event.wait(30), "a later shard waited for the reader"
            for n in range(50):
                yield f"<{index}:{n}>".encode(), n
            if index:
                others_done[index - 1].set()
        return chunks

    got = list(pulling.ordered_shards([stream(i) for i in range(4)], threads=8))
    want = [(0, (b"first", 0))] + [(i, (f"<{i}:{n}>".encode(), n)) for i in range(4)
                                   for n in range(50)]
    assert got == want


def test_later_shards_wait_for_room_on_disk_and_still_come_out_in_order(monkeypatch):
    monkeypatch.setattr(pulling, "AHEAD_BYTES", 8)
    monkeypatch.setattr(pulling, "AHEAD_DISK_BYTES", 40)

    def stream(index):
        def chunks():
            for n in range(200):
                yield f"<{index}:{n}>".encode(), n
        return chunks

    got = [chunk for _index, (chunk, _c) in pulling.ordered_shards([stream(i) for i in range(6)], 3)]
    assert got == [f"<{i}:{n}>".encode() for i in range(6) for n in range(200)]


def test_a_failing_later_shard_fails_the_stream_after_the_earlier_shards():
    def stream(index):
        def chunks():
            yield f"shard {index}".encode(), index
            if index == 2:
                raise errors.ServiceError("shard 2 broke")
        return chunks

    seen = []
    with pytest.raises(errors.ServiceError, match="shard 2 broke"):
        for index, (chunk, _cursor) in pulling.ordered_shards([stream(i) for i in range(4)], 8):
            seen.append(chunk)
    assert seen == [b"shard 0", b"shard 1", b"shard 2"]


def test_a_reader_that_stops_stops_the_producers():
    """Endless shards: they end only because the reader went away."""
    stopped = [threading.Event(), threading.Event()]

    def stream(index):
        def chunks():
            try:
                n = 0
                while True:
                    yield b"x" * 1000, n
                    n += 1
            finally:
                stopped[index].set()
        return chunks

    items = pulling.ordered_shards([stream(0), stream(1)], 2)
    next(items)
    items.close()
    assert all(event.wait(30) for event in stopped)
