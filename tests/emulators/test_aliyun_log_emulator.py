"""The SLS emulator, judged by the official `aliyun-log-python-sdk` (PyPI) used unchanged.

The SDK signs every request (V1), names the project in the Host header and decodes
lz4 protobuf pull bodies itself, so each call that works here is a call the emulator
answers in the service's wire format. A few checks go below the SDK with raw HTTP where
the SDK hides the wire (end-of-data headers, compression choices, error bodies).
"""

import base64
import hashlib
import hmac
import time
import zlib

import lz4.block
import pytest
import requests
from aliyun.log import GetLogsRequest, ListLogstoresRequest, LogException, LogItem, PutLogsRequest

from backends.aliyun_log import wire
from backends.aliyun_log.emulator import (BENCH_LOGS, BENCH_LOGSTORE, BENCH_PROJECT,
                                          DEMO_ACCESS_KEY_ID, bench_hour, create_server,
                                          quota_fault)
from backends.aliyun_log.emulator import pbwriter
from hubfs.emulation import start_in_thread
from backends.aliyun_log.emulator.signature import string_to_sign
from tests.support_aliyun_log import emu, emulator, sdk_client  # noqa: F401 (fixtures)

SHOP, NGINX, EVENTS = "web-shop", "nginx-access", "app-events"


@pytest.fixture
def sdk(emu):
    return sdk_client(emu.url)


def hour_start(offset_hours):
    now = int(time.time())
    return now - now % 3600 - offset_hours * 3600


# -- projects, logstores, shards ---------------------------------------------------------

def test_list_project_logstores_shards_and_get(sdk):
    projects = sdk.list_project().get_projects()
    assert [p["projectName"] for p in projects] == ["iot-fleet", "web-shop"]
    project = sdk.get_project(SHOP)
    assert (project.get_projectname(), project.get_description()) == (SHOP, "Demo storefront logs")
    assert sdk.list_logstores(ListLogstoresRequest(SHOP)).get_logstores() == [EVENTS, NGINX]
    assert sdk.list_logstore("iot-fleet").get_logstores() == ["archive", "telemetry"]
    logstore = sdk.get_logstore(SHOP, NGINX)
    assert logstore.get_ttl() == 7 and logstore.get_shard_count() == 3
    shards = sdk.list_shards(SHOP, NGINX).get_shards_info()
    assert [s["shardID"] for s in shards] == [0, 1, 2]
    assert shards[0]["inclusiveBeginKey"] == "0" * 32
    assert all(s["status"] == "readwrite" for s in shards)


def test_missing_project_logstore_and_shard_are_404_with_service_codes(sdk):
    cases = [(lambda: sdk.get_project("no-such"), "ProjectNotExist"),
             (lambda: sdk.list_shards("no-such", NGINX), "ProjectNotExist"),
             (lambda: sdk.get_logstore(SHOP, "nope"), "LogStoreNotExist"),
             (lambda: sdk.get_begin_cursor(SHOP, NGINX, 9), "ShardNotExist")]
    for call, code in cases:
        with pytest.raises(LogException) as info:
            call()
        assert info.value.get_error_code() == code
        assert info.value.resp_status == 404


# -- signatures --------------------------------------------------------------------------

def test_wrong_secret_and_unknown_key_are_refused(emu):
    with pytest.raises(LogException) as info:
        sdk_client(emu.url, secret="not-the-secret").list_project()
    assert (info.value.resp_status, info.value.get_error_code()) == (401, "SignatureNotMatch")
    with pytest.raises(LogException) as info:
        sdk_client(emu.url, key_id="LTAIunknown").list_logstores(ListLogstoresRequest(SHOP))
    assert (info.value.resp_status, info.value.get_error_code()) == (401, "Unauthorized")


def test_unsigned_and_stale_requests_are_refused_with_json_envelopes(emu):
    r = requests.get(emu.url, timeout=10)
    assert r.status_code == 401 and r.json()["errorCode"] == "Unauthorized"
    assert r.headers["x-log-requestid"] == r.json()["requestId"]
    headers = {"x-log-apiversion": "0.6.0", "x-log-signaturemethod": "hmac-sha1",
               "x-log-bodyrawsize": "0", "Date": "Mon, 03 Jan 2010 08:33:47 GMT",
               "Authorization": f"LOG {DEMO_ACCESS_KEY_ID}:AAAA"}
    r = requests.get(emu.url, headers=headers, timeout=10)
    assert (r.status_code, r.json()["errorCode"]) == (400, "RequestTimeExpired")


def test_string_to_sign_reproduces_the_go_sdk_vectors():
    headers = {"x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "0",
               "x-log-signaturemethod": "hmac-sha1", "Date": "Mon, 3 Jan 2010 08:33:47 GMT"}
    text = string_to_sign("GET", headers, "/logstores", "")
    sig = base64.b64encode(hmac.new(b"mockAccessKeySecret", text.encode(), hashlib.sha1).digest())
    assert sig == b"Rwm6cTKzoti4HWoe+GKcb6Kv07E="
    headers.update({"x-log-bodyrawsize": "50", "Content-Type": "application/x-protobuf",
                    "Content-MD5": "8D6881250FF5559F59BBDF04100F6E59",
                    "x-log-date": "ignored, never signed"})
    text = string_to_sign("GET", headers, "/logstores/app_log", "")
    sig = base64.b64encode(hmac.new(b"mockAccessKeySecret", text.encode(), hashlib.sha1).digest())
    assert sig == b"87xQWqFaOSewqRIma8kPjGYlXHc="


# -- cursors and pulls -------------------------------------------------------------------

def test_cursors_begin_end_by_time_and_cursor_time(sdk):
    begin = sdk.get_begin_cursor(SHOP, NGINX, 0).get_cursor()
    end = sdk.get_end_cursor(SHOP, NGINX, 0).get_cursor()
    as_int = lambda c: int(base64.b64decode(c))  # noqa: E731 (the SDK's own arithmetic)
    assert as_int(end) > as_int(begin)
    start = hour_start(3)
    at = sdk.get_cursor(SHOP, NGINX, 0, start).get_cursor()
    assert as_int(begin) < as_int(at) < as_int(end)
    received = sdk.get_cursor_time(SHOP, NGINX, 0, at).get_cursor_time()
    assert start <= received < start + 600
    before = sdk.get_previous_cursor_time(SHOP, NGINX, 0, at).get_cursor_time()
    assert before < start
    assert sdk.get_cursor(SHOP, NGINX, 0, int(time.time()) + 10).get_cursor() == end
    assert abs(sdk.get_cursor_time(SHOP, NGINX, 0, end).get_cursor_time() - time.time()) < 60
    with pytest.raises(LogException) as info:
        sdk.get_cursor_time(SHOP, NGINX, 0, base64.b64encode(str(as_int(end) + 5).encode()).decode())
    assert info.value.get_error_code() == "InvalidCursor"


def test_pull_logs_pages_and_flattens(sdk):
    cursor = sdk.get_begin_cursor(SHOP, NGINX, 1).get_cursor()
    res = sdk.pull_logs(SHOP, NGINX, 1, cursor, count=3)
    assert res.get_loggroup_count() == 3 and res.get_log_count() == 75
    first = res.get_flatten_logs_json()[0]
    assert list(first)[:5] == ["__time__", "__topic__", "__source__", "__tag__:__hostname__",
                               "__tag__:__pack_id__"]
    assert first["__source__"] == "10.0.1.2" and first["__tag__:__hostname__"] == "web-1"
    nxt = sdk.pull_logs(SHOP, NGINX, 1, res.get_next_cursor(), count=3)
    assert nxt.get_flatten_logs_json()[0] != first


def test_pull_log_over_a_time_range_stops_at_its_end_cursor(sdk):
    start = hour_start(5)
    pulled = list(sdk.pull_log(SHOP, NGINX, 2, start, start + 3600, batch_size=2))
    groups = sum(r.get_loggroup_count() for r in pulled)
    assert groups == 6  # one group every 10 minutes
    logs = [log for r in pulled for log in r.get_flatten_logs_json()]
    assert len(logs) == 150
    # The range is of receive times; the logs' own times are up to 30 s earlier.
    assert all(start - 30 <= log["__time__"] < start + 3600 for log in logs)
    assert pulled[-1].get_next_cursor() == sdk.get_cursor(SHOP, NGINX, 2, start + 3600).get_cursor()


def test_end_of_data_returns_the_cursor_sent_and_no_body(emu, sdk):
    end = sdk.get_end_cursor(SHOP, EVENTS, 0).get_cursor()
    res = sdk.pull_logs(SHOP, EVENTS, 0, end)
    assert res.get_next_cursor() == end and res.get_loggroup_count() == 0
    assert res.get_log_count() == 0 and res.get_raw_size() == 0


def test_end_cursor_is_never_stepped_past(sdk):
    begin = sdk.get_begin_cursor(SHOP, EVENTS, 1).get_cursor()
    stop = base64.b64encode(str(int(base64.b64decode(begin)) + 2).encode()).decode()
    res = sdk.pull_logs(SHOP, EVENTS, 1, begin, count=100, end_cursor=stop)
    assert res.get_loggroup_count() == 2 and res.get_next_cursor() == stop
    again = sdk.pull_logs(SHOP, EVENTS, 1, stop, count=100, end_cursor=stop)
    assert again.get_loggroup_count() == 0 and again.get_next_cursor() == stop


def test_time_ns_and_multiline_values_survive(sdk):
    start = hour_start(4)
    logs = [log for r in sdk.pull_log(SHOP, EVENTS, 0, start - 3600, start + 3600)
            for log in r.get_flatten_logs_json()]
    assert any("__time_ns_part__" in log for log in logs)
    assert all(log["__topic__"] == "events" for log in logs)


def test_invalid_cursor_is_a_400_invalid_cursor(sdk):
    for cursor in ("not-base64!", base64.b64encode(b"12").decode()):
        with pytest.raises(LogException) as info:
            sdk.pull_logs(SHOP, NGINX, 0, cursor)
        assert (info.value.resp_status, info.value.get_error_code()) == (400, "InvalidCursor")


def test_pull_body_compression_follows_accept_encoding(emu, sdk):
    # Below the SDK: the raw bodies for lz4, deflate and none decode to the same list.
    cursor = sdk.get_begin_cursor(SHOP, NGINX, 0).get_cursor()
    bodies = {}
    for accept in ("lz4", "deflate", ""):
        req = requests.Request("GET", emu.url + f"logstores/{NGINX}/shards/0",
                               params={"type": "log", "cursor": cursor, "count": "2"},
                               headers={"Accept-Encoding": accept,
                                        "Accept": "application/x-protobuf"})
        response = _signed(emu, req, f"{SHOP}.127.0.0.1")
        assert response.status_code == 200, response.text
        raw_size = int(response.headers["x-log-bodyrawsize"])
        kind = response.headers.get("x-log-compresstype", "")
        body = response.content
        if kind == "lz4":
            body = lz4.block.decompress(body, uncompressed_size=raw_size)
        elif kind == "deflate":
            body = zlib.decompress(body)
        assert len(body) == raw_size
        assert response.headers["x-log-count"] == "2"
        bodies[accept] = (kind, body)
    assert [bodies[a][0] for a in ("lz4", "deflate", "")] == ["lz4", "deflate", ""]
    assert bodies["lz4"][1] == bodies["deflate"][1] == bodies[""][1]
    assert len(wire.text.LogGroupList.FromString(bodies[""][1]).LogGroups) == 2


def _signed(emu, req, host):
    """Send *req* signed like a V1 client would (for checks below the SDK)."""
    from email.utils import formatdate

    from backends.aliyun_log.emulator import DEMO_ACCESS_KEY_SECRET

    prepared = requests.Session().prepare_request(req)
    prepared.headers.update({"x-log-apiversion": "0.6.0", "x-log-signaturemethod": "hmac-sha1",
                             "x-log-bodyrawsize": "0", "Date": formatdate(usegmt=True),
                             "Host": host})
    path, _, query = prepared.path_url.partition("?")
    text = string_to_sign("GET", prepared.headers, path, query)
    sig = base64.b64encode(hmac.new(DEMO_ACCESS_KEY_SECRET.encode(), text.encode(),
                                    hashlib.sha1).digest()).decode()
    prepared.headers["Authorization"] = f"LOG {DEMO_ACCESS_KEY_ID}:{sig}"
    return requests.Session().send(prepared, timeout=10)


# -- writes and queries ------------------------------------------------------------------

def test_put_logs_load_balanced_and_routed_by_hash_key(emu, sdk):
    now = int(time.time())
    state = emu.server.state
    archive = state.projects["iot-fleet"].logstores["archive"]
    before = [s.count() for s in archive.shards]
    items = [LogItem(now, [("n", str(i)), ("text", "héllo")]) for i in range(3)]
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "put-test", "10.1.1.1", items))
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "put-test", "10.1.1.1", items))
    after = [s.count() for s in archive.shards]
    assert [a - b for a, b in zip(after, before)] == [1, 1]  # round robin over 2 shards
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "put-test", "10.1.1.1", items,
                                hashKey="f" * 32))
    assert archive.shards[1].count() == after[1] + 1
    cursor = sdk.get_cursor("iot-fleet", "archive", 1, now - 5).get_cursor()
    logs = [log for r in sdk.pull_log("iot-fleet", "archive", 1, now - 5, now + 5)
            for log in r.get_flatten_logs_json()]
    assert cursor and len(logs) == 6
    assert logs[0]["text"] == "héllo" and logs[0]["__topic__"] == "put-test"


def test_put_logs_refuses_bad_bodies(emu):
    req = requests.Request("POST", emu.url + "logstores/archive/shards/lb", data=b"\xff\xff\xff",
                           headers={"Content-Type": "application/x-protobuf"})
    r = _signed_post(emu, req, "iot-fleet.127.0.0.1", compress="lz4", raw_size="10")
    assert (r.status_code, r.json()["errorCode"]) == (400, "PostBodyUncompressError")
    r = _signed_post(emu, req, "iot-fleet.127.0.0.1", compress="snappy", raw_size="3")
    assert (r.status_code, r.json()["errorCode"]) == (400, "InvalidCompressType")


def _signed_post(emu, req, host, compress, raw_size):
    from email.utils import formatdate

    from backends.aliyun_log.emulator import DEMO_ACCESS_KEY_SECRET

    prepared = requests.Session().prepare_request(req)
    md5 = hashlib.md5(prepared.body).hexdigest().upper()
    prepared.headers.update({"x-log-apiversion": "0.6.0", "x-log-signaturemethod": "hmac-sha1",
                             "x-log-bodyrawsize": raw_size, "x-log-compresstype": compress,
                             "Content-MD5": md5, "Date": formatdate(usegmt=True), "Host": host})
    text = string_to_sign("POST", prepared.headers, prepared.path_url, "")
    sig = base64.b64encode(hmac.new(DEMO_ACCESS_KEY_SECRET.encode(), text.encode(),
                                    hashlib.sha1).digest()).decode()
    prepared.headers["Authorization"] = f"LOG {DEMO_ACCESS_KEY_ID}:{sig}"
    return requests.Session().send(prepared, timeout=10)


def test_get_log_queries_by_log_time(emu, sdk):
    start = hour_start(6)
    res = sdk.get_log(SHOP, EVENTS, start, start + 3600, size=1000)
    assert res.is_completed()
    assert res.get_count() > 0
    assert all(start <= log.get_time() < start + 3600 for log in res.get_logs())
    errors = sdk.get_logs(GetLogsRequest(SHOP, EVENTS, start - 86400, start + 3600,
                                         query="level: ERROR", line=100))
    assert errors.get_count() > 0
    assert all(log.get_contents()["level"] == "ERROR" for log in errors.get_logs())
    sdk._get_logs_v2_enabled = False  # the legacy GET the 0.6 docs describe
    legacy = sdk.get_log(SHOP, EVENTS, start, start + 3600, size=1000)
    assert [log.get_contents() for log in legacy.get_logs()] == \
        [log.get_contents() for log in res.get_logs()]


# -- faults ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ReadQuotaExceed", "ExceedQPSLimit"])
def test_quota_errors_are_403_fault_rules_the_sdk_reports(emu, sdk, code):
    cursor = sdk.get_begin_cursor(SHOP, NGINX, 0).get_cursor()
    emu.server.faults.add(quota_fault(code, query="type=log"))
    with pytest.raises(LogException) as info:
        sdk.pull_logs(SHOP, NGINX, 0, cursor)
    assert (info.value.resp_status, info.value.get_error_code()) == (403, code)
    assert sdk.pull_logs(SHOP, NGINX, 0, cursor).get_loggroup_count() > 0  # one time only


# -- seeds -------------------------------------------------------------------------------

def test_pbwriter_bytes_equal_the_generated_classes():
    contents = pbwriter.content("k", "välue") + pbwriter.content("", "")
    ours = pbwriter.log_group([pbwriter.log(1700000000, contents, time_ns=123)], topic="t",
                              source="1.2.3.4", tags=(("__pack_id__", "ABC-0"),))
    group = wire.text.LogGroup(Topic="t", Source="1.2.3.4")
    log = group.Logs.add(Time=1700000000)
    log.Contents.add(Key="k", Value="välue")
    log.Contents.add(Key="", Value="")
    log.Time_ns = 123
    group.LogTags.add(Key="__pack_id__", Value="ABC-0")
    assert ours == group.SerializeToString()


def test_bench_set_holds_a_million_logs_in_one_hour():
    server = create_server("bench")
    try:
        logstore = server.state.projects[BENCH_PROJECT].logstores[BENCH_LOGSTORE]
        hour = bench_hour(server.state.now())
        shard = logstore.shards[0]
        assert len(logstore.shards) * shard.count() * 250 == BENCH_LOGS == 1_000_000
        assert shard.time_of(0) == hour and shard.time_of(shard.count() - 1) < hour + 3600
        group = wire.text.LogGroupList.FromString(shard.framed_group(0)).LogGroups[0]
        assert len(group.Logs) == 250
        assert shard.framed_group(0) is shard.framed_group(0)  # produced once, then kept
    finally:
        server.server_close()


def test_emulator_spec_mounts_its_own_server():
    from backends.aliyun_log import Remote
    from hubfs.emulation import load_spec

    spec = load_spec("aliyun-log")
    assert spec.datasets == ("bench", "demo")
    with start_in_thread(spec.create_server(data="demo", port=0)) as handle:
        options = spec.remote_options(handle.server)
        assert options["type"] == "aliyun-log"
        remote = Remote("demo", {k: v for k, v in options.items() if k != "type"})
        try:
            remote.check()
            node = remote.root()
            for name in spec.demo_paths[0].split("/"):
                node = node.child(name)
            assert "logstore.json" in [child.name for child in node.children()]
        finally:
            remote.close()
