"""The flowthings emulator against the documented requests and responses.

No official Python client of flowthings imports on current Python (the PyPI `flowthings`
1.0.5 defines a method named `async` and imports `collections.MutableMapping`;
protocols/flowthings.md section 12), so each test sends what the notes record the client
sending, with plain `requests`, and checks the answer against what the notes quote: the
`head`/`body` envelope, the statuses, the wire format of each service method (section 5),
the filter strings the Python `mem` DSL produced (section 6) and the object shapes
(section 7).
"""

import json
import re
import subprocess
import sys
import tomllib

import pytest
import requests

from backends.flowthings.emulator import DEMO_TOKEN, create_server
from hubfs.emulation import start_in_thread
from tests.support import wait_until

ID = re.compile(r"^[a-z][0-9a-f]{24}$")
NOT_LOCATED = "The requested resource could not be located at this address."


@pytest.fixture
def emu():
    clock = {"ms": 1_750_000_000_000}
    with start_in_thread(create_server("demo", clock=lambda: clock["ms"])) as handle:
        handle.clock = clock
        yield handle


def call(emu, method, where, version="4.0", body=None, token=DEMO_TOKEN, headers=None, **params):
    # The Python client's headers (utils.mk_headers), lower case as it sent them.
    sent = {"accept": "*/*", "content-type": "application/json"}
    if token is not None:
        sent.update({"x-auth-token": token, "x-auth-account": "demo"})
    sent.update(headers or {})
    data = None if body is None else json.dumps(body)
    return requests.request(method, f"{emu.url}v{version}/demo{where}", params=params or None,
                            data=data, headers=sent, timeout=10)


def body_of(response, status=200):
    answer = response.json()
    assert response.status_code == status == answer["head"]["status"]
    assert answer["head"]["ok"] is (status < 400)
    assert set(answer["head"]) == {"status", "ok", "messages", "errors", "references"}
    return answer["body"]


def flow_id(emu, path):
    return emu.state.paths[path]


def test_envelope_of_success_create_and_404(emu):
    found = call(emu, "GET", "/flow", limit=2)
    assert found.json()["head"]["messages"] == ["Your request has been processed successfully."]
    assert len(body_of(found)) == 2
    made = call(emu, "POST", "/flow", body={"path": "/demo/fresh"})
    flow = body_of(made, 201)
    assert made.json()["head"]["messages"] == [
        "Your request has been processed successfully. A new resource has been created."]
    assert ID.match(flow["id"]) and flow["id"].startswith("f") and flow["path"] == "/demo/fresh"
    assert flow["capacity"] == 1000 and isinstance(flow["creationDate"], int)
    missing = call(emu, "GET", "/flow/f" + "0" * 24)
    assert body_of(missing, 404) is None
    # The Java fixture Head-Error.json, word for word.
    assert missing.json()["head"] == {"status": 404, "ok": False, "messages": [],
                                      "errors": [NOT_LOCATED], "references": {}}


@pytest.mark.parametrize("version", ["0.1", "4.0"])
def test_both_versions_are_served_and_others_are_not(emu, version):
    assert body_of(call(emu, "GET", "/flow", version=version))
    assert body_of(call(emu, "GET", "/flow", version="9.9"), 404) is None


def test_token_is_checked(emu):
    assert body_of(call(emu, "GET", "/flow", token=None), 401) is None
    refused = call(emu, "GET", "/flow", token="not-the-token")
    assert body_of(refused, 401) is None and refused.json()["head"]["errors"]
    # The header name is case-insensitive; X-Auth-Account is optional but must match.
    ok = requests.get(f"{emu.url}v4.0/demo/flow", headers={"X-AUTH-TOKEN": DEMO_TOKEN}, timeout=5)
    assert ok.status_code == 200
    assert body_of(call(emu, "GET", "/flow", headers={"x-auth-account": "bob"}), 403) is None
    other = requests.get(f"{emu.url}v4.0/bob/flow", headers={"x-auth-token": DEMO_TOKEN}, timeout=5)
    assert other.status_code == 403 and other.json()["head"]["status"] == 403


def test_flow_service_wire_formats(emu):
    """read, read_many (MGET), find, create, update, delete as section 5 lists them."""
    weather = flow_id(emu, "/demo/weather")
    assert body_of(call(emu, "GET", f"/flow/{weather}"))["path"] == "/demo/weather"
    many = body_of(call(emu, "MGET", "/flow", body=[weather, "f" + "1" * 24]))
    assert list(many) == [weather] and many[weather]["description"] == "Hourly readings"
    made = body_of(call(emu, "POST", "/flow", body={"path": "/demo/x/y", "displayName": "foo"}), 201)
    assert made["displayName"] == "foo"
    changed = body_of(call(emu, "PUT", f"/flow/{made['id']}", body={"description": "d"}))
    assert changed["description"] == "d" and changed["displayName"] == "foo"
    assert body_of(call(emu, "DELETE", f"/flow/{made['id']}")) == {}
    assert body_of(call(emu, "GET", f"/flow/{made['id']}"), 404) is None


@pytest.mark.parametrize("body", [{"path": "/bob/x"}, {"path": "/demo"}, {"path": "/demo/a b"},
                                  {"description": "no path"}, {"path": "/demo/" + "x" * 130}])
def test_bad_flow_bodies_are_refused(emu, body):
    status = 403 if body.get("path") == "/bob/x" else 400
    assert body_of(call(emu, "POST", "/flow", body=body), status) is None


def test_malformed_json_is_400(emu):
    response = requests.post(f"{emu.url}v4.0/demo/flow", data="{not json",
                             headers={"x-auth-token": DEMO_TOKEN}, timeout=5)
    assert response.status_code == 400 and response.json()["head"]["status"] == 400


def test_drop_service_wire_formats(emu):
    orders = flow_id(emu, "/demo/orders")
    created = body_of(call(emu, "POST", f"/drop/{orders}", body={"elems": {"a": 1}, "fhash": "h1"}), 201)
    assert set(created) == {"id", "flowId", "path", "creationDate", "lastEditDate", "elems", "fhash"}
    assert created["flowId"] == orders and created["path"] == "/demo/orders" and ID.match(created["id"])
    # drop.create with the flow's path in the body (python's drop factory, Arduino/Swift).
    by_path = body_of(call(emu, "POST", "/drop", body={"path": "/demo/orders", "elems": {"b": 2}}), 201)
    assert by_path["flowId"] == orders
    assert body_of(call(emu, "GET", f"/drop/{orders}/{created['id']}"))["elems"] == {"a": 1}
    found = body_of(call(emu, "MGET", f"/drop/{orders}", body=[created["id"], by_path["id"]]))
    assert set(found) == {created["id"], by_path["id"]}
    assert body_of(call(emu, "DELETE", f"/drop/{orders}/{created['id']}")) == {}
    assert body_of(call(emu, "GET", f"/drop/{orders}/{created['id']}"), 404) is None
    assert body_of(call(emu, "DELETE", f"/drop/{orders}")) == {}  # delete_all
    assert body_of(call(emu, "GET", f"/drop/{orders}")) == []


def test_multi_flow_drop_find(emu):
    """The documented MGET /drop body: one find per flow, answered as {flowId: drops}."""
    weather, berlin = flow_id(emu, "/demo/weather"), flow_id(emu, "/demo/weather/berlin")
    body = [{"flowId": weather, "params": {"limit": 2}},
            {"flowId": berlin, "params": {"filter": "EXISTS elems.wind", "limit": 5}}]
    answer = body_of(call(emu, "MGET", "/drop", body=body))
    assert len(answer[weather]) == 2 and len(answer[berlin]) == 5


def test_find_by_path_parameter(emu):
    assert len(body_of(call(emu, "GET", "/drop", path="/demo/weather/berlin", limit=100))) == 24


def test_paging_default_limit_skip_start_sort_order(emu):
    weather = flow_id(emu, "/demo/weather")
    newest = body_of(call(emu, "GET", f"/drop/{weather}"))
    assert len(newest) == 20 and newest[0]["elems"]["hour"] == 47  # newest first by default
    asc = body_of(call(emu, "GET", f"/drop/{weather}", sort="creationDate", order="asc", limit=5, skip=10))
    assert [d["elems"]["hour"] for d in asc] == [10, 11, 12, 13, 14]
    start = body_of(call(emu, "GET", f"/drop/{weather}", sort="creationDate", order="asc", limit=5, start=10))
    assert start == asc
    by_temp = body_of(call(emu, "GET", f"/drop/{weather}", sort="elems.temp", order="desc", limit=3))
    temps = [d["elems"]["temp"] for d in by_temp]
    assert temps == sorted(temps, reverse=True)
    assert body_of(call(emu, "GET", f"/drop/{weather}", limit="x"), 400) is None


# Filter strings exactly as the Python client's `mem` DSL printed them (section 6), and
# the doc pages' own examples.
FILTERS = [
    ("elems.raining == true", 10),
    ("elems.station == 'central'", 48),
    ("elems.hour > 12", 35),
    ("elems.hour <= 1", 2),
    ("elems.raining != true", 38),
    ('elems.station=="central"', 48),
    ("elems.hour == elems.hour", 48),
    ("elems.station =~ /^CENT/i", 48),
    ("elems.hour IN [1,2,3]", 3),
    ("elems.station IN ['north','central']", 48),
    ("EXISTS elems.temp", 48),
    ("EXISTS elems.nothing", 0),
    ("NOT elems.hour == 1", 47),
    ("(elems.hour < 5) && (elems.raining == true)", 1),
    ("(elems.hour == 1) || (elems.hour == 2)", 2),
    ("((elems.hour > 1) && (elems.hour < 10)) && (elems.raining == false)", 7),
    ("elems.hour % 10 == 3", 5),
    ("HAS boolean", 48),
    ("MATCHES /cent/", 48),
    ("AGE > 123", 48),
]


@pytest.mark.parametrize("text,count", FILTERS)
def test_filter_language(emu, text, count):
    weather = flow_id(emu, "/demo/weather")
    assert len(body_of(call(emu, "GET", f"/drop/{weather}", filter=text, limit=100))) == count


def test_flow_filters_from_the_docs(emu):
    paths = [f["path"] for f in body_of(call(emu, "GET", "/flow", filter=r"path =~ /^\/demo\/weather\//"))]
    assert sorted(paths) == ["/demo/weather/berlin", "/demo/weather/lisbon"]
    assert [f["path"] for f in body_of(call(emu, "GET", "/flow", filter='description=="Berlin station"'))] == [
        "/demo/weather/berlin"]
    contains = body_of(call(emu, "POST", f"/drop/{flow_id(emu, '/demo/orders')}",
                            body={"elems": {"tags": [1, 2, 3]}}), 201)
    hits = body_of(call(emu, "GET", f"/drop/{contains['flowId']}", filter="elems.tags CONTAINS [1,2]"))
    assert [d["id"] for d in hits] == [contains["id"]]


@pytest.mark.parametrize("text", ["elems.a ==", "elems.a === 1", "(elems.a == 1", "elems.a =~ /(/",
                                  "AND", "elems.a IN [1,"])
def test_bad_filters_are_400(emu, text):
    weather = flow_id(emu, "/demo/weather")
    assert body_of(call(emu, "GET", f"/drop/{weather}", filter=text), 400) is None


def test_v01_types_elements_unless_hints_off_and_accepts_typed_input(emu):
    berlin = flow_id(emu, "/demo/weather/berlin")
    typed = body_of(call(emu, "GET", f"/drop/{berlin}", version="0.1", limit=1))[0]["elems"]
    assert typed["hour"] == {"type": "integer", "value": 23}
    assert typed["wind"]["type"] == "map"
    plain = body_of(call(emu, "GET", f"/drop/{berlin}", version="0.1", limit=1, hints=0))[0]["elems"]
    assert plain["hour"] == 23
    v4 = body_of(call(emu, "GET", f"/drop/{berlin}", limit=1))[0]["elems"]
    assert v4 == plain
    made = body_of(call(emu, "POST", f"/drop/{berlin}", version="0.1",
                        body={"elems": {"n": {"type": "integer", "value": 5}, "s": "x"}}), 201)
    assert made["elems"] == {"n": 5, "s": "x"}


def test_capacity_evicts_the_oldest_drops(emu):
    flow = body_of(call(emu, "POST", "/flow", body={"path": "/demo/small", "capacity": 3}), 201)
    for n in range(5):
        emu.clock["ms"] += 1
        body_of(call(emu, "POST", f"/drop/{flow['id']}", body={"elems": {"n": n}}), 201)
    kept = body_of(call(emu, "GET", f"/drop/{flow['id']}", sort="creationDate", order="asc"))
    assert [d["elems"]["n"] for d in kept] == [2, 3, 4]


def test_limit_is_capped_by_the_server(emu):
    emu.state.max_limit = 7
    weather = flow_id(emu, "/demo/weather")
    assert len(body_of(call(emu, "GET", f"/drop/{weather}", limit=1000))) == 7


def test_unknown_flow_in_drop_path_is_404(emu):
    assert body_of(call(emu, "GET", "/drop/f" + "2" * 24), 404) is None


def test_bench_data_has_a_flow_of_100000_drops():
    server = create_server("bench")
    try:
        big = server.state.paths["/demo/bench/big"]
        assert len(server.state.drops[big]) == 100_000
    finally:
        server.server_close()


def test_hubfs_emulate_runs_it_from_its_spec(tmp_path):
    toml_file = tmp_path / "remote.toml"
    process = subprocess.Popen([sys.executable, "-m", "hubfs", "emulate", "flowthings",
                                "--toml-file", str(toml_file)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: toml_file.exists() and toml_file.stat().st_size > 0, timeout=30)
        remote = tomllib.loads(toml_file.read_text())["remotes"]["flowthings_demo"]
        assert remote["type"] == "flowthings" and remote["account"] == "demo"
        assert wait_until(lambda: _answers(remote), timeout=30)
    finally:
        process.terminate()
        process.wait(10)
    assert "[remotes.flowthings_demo]" in process.stdout.read()


def _answers(remote):
    try:
        return requests.get(f"{remote['url']}/v{remote['version']}/demo/flow",
                            headers={"X-Auth-Token": remote["token"]}, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False
