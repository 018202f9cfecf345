"""The flowthings backend's tree against the emulator over real HTTP (no FUSE).

The expected bytes of drops.jl are built here from plain `requests` paging of the API,
independently of the backend's client: oldest first, one compact JSON line per drop,
elements plain. Demo seed: see backends/flowthings/emulator/seed.py.
"""

import json

import pytest

from backends.flowthings import Remote
from backends.flowthings.emulator import create_server, remote_options
from hubfs import errors
from hubfs.emulation import start_in_thread
from hubfs.http import RetryPolicy
from hubfs.tree import CommitProgress
from tests.flowthings_export import expected_drops

FAST = RetryPolicy(attempts=3, backoff=0.01, backoff_max=0.05, read_timeout=5)


@pytest.fixture
def emu():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


def remote(emu, version="4.0", **changes):
    options = {**remote_options(emu.server, version), **changes}
    return Remote("ft", options, policy=FAST)


def at(node, *names):
    for name in names:
        node = node.child(name)
    return node


def content(node):
    return b"".join(chunk for chunk, _ in node.render())


def names(node):
    return [child.name for child in node.children()]


def test_tree_mirrors_flow_paths(emu):
    root = remote(emu).root()
    assert names(root) == ["orders", "sensors", "weather"]
    assert names(at(root, "weather")) == ["flow.json", "drops.jl", "berlin", "lisbon"]
    # No flow at /demo/sensors: only its child flows, no files.
    assert names(at(root, "sensors")) == ["garage", "kitchen"]
    assert at(root, "sensors").flow is None
    assert names(at(root, "weather", "lisbon")) == ["flow.json", "drops.jl"]


def test_flow_json_is_the_flow_object(emu):
    node = at(remote(emu).root(), "weather", "berlin", "flow.json")
    flow = json.loads(content(node))
    assert flow["path"] == "/demo/weather/berlin" and flow["capacity"] == 500
    assert content(node).decode() == json.dumps(flow, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert node.mtime == flow["lastEditDate"] / 1000


@pytest.mark.parametrize("version", ["4.0", "0.1"])
@pytest.mark.parametrize("path", ["/demo/weather", "/demo/weather/berlin", "/demo/orders",
                                  "/demo/weather/lisbon"])
def test_drops_jl_is_every_drop_oldest_first_in_plain_json(emu, version, path):
    node = at(remote(emu, version).root(), *path.split("/")[2:], "drops.jl")
    assert content(node) == expected_drops(emu, path)


def test_a_server_capping_limit_loses_no_drop(emu):
    emu.server.state.max_limit = 7
    r = remote(emu)
    r.client.drop_page = 20
    node = at(r.root(), "orders", "drops.jl")
    assert content(node).count(b"\n") == 120
    assert content(node) == expected_drops(emu, "/demo/orders")


def test_page_boundaries(emu):
    r = remote(emu)
    r.client.drop_page = 24  # berlin has exactly 24 drops: one full page, then nothing
    assert content(at(r.root(), "weather", "berlin", "drops.jl")) == expected_drops(emu, "/demo/weather/berlin")
    r.client.drop_page = 5
    assert content(at(r.root(), "weather", "berlin", "drops.jl")) == expected_drops(emu, "/demo/weather/berlin")


def test_missing_names_are_not_found(emu):
    root = remote(emu).root()
    for path in (("nothing",), ("weather", "nothing"), ("sensors", "flow.json"),
                 ("sensors", "drops.jl"), ("weather", "a%zz")):
        with pytest.raises(errors.NotFound):
            at(root, *path)


def test_wrong_token_is_refused_naming_the_remote(emu):
    with pytest.raises(errors.AccessDenied, match="remote 'ft'"):
        remote(emu, token="wrong").check()


def test_unknown_version_is_a_config_error(emu):
    with pytest.raises(errors.ConfigError):
        remote(emu, version="2.0")


def test_mkdir_creates_a_flow(emu):
    root = remote(emu).root()
    made = at(root, "sensors").mkdir("attic")
    assert made.flow["path"] == "/demo/sensors/attic" and "/demo/sensors/attic" in emu.state.paths
    assert "attic" in names(at(remote(emu).root(), "sensors"))
    for bad in ("has space", "flow.json", "a/b", "x" * 130):
        with pytest.raises(errors.InvalidContent):
            root.mkdir(bad)


def test_appended_lines_become_drops_in_order(emu, tmp_path):
    node = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    spool = tmp_path / "spool.data"
    copied = json.loads(expected_drops(emu, "/demo/weather").splitlines()[0])
    spool.write_bytes(b'{"temp": 21.5, "city": "Lisboa \xc3\xa9"}\n\n'
                      b'{"elems": {"temp": 22}, "location": {"lat": 38.7, "lon": -9.1}, "fhash": "x"}\n'
                      + json.dumps(copied).encode() + b"\n")
    node.commit(str(spool), CommitProgress())
    drops = emu.state.drops[emu.state.paths["/demo/weather/lisbon"]]
    assert [d["elems"] for d in drops] == [{"temp": 21.5, "city": "Lisboa é"}, {"temp": 22}, copied["elems"]]
    assert drops[1]["location"] == {"lat": 38.7, "lon": -9.1} and drops[1]["fhash"] == "x"
    assert drops[2]["id"] != copied["id"]  # server fields of a copied line are the new drop's own
    assert content(node).count(b"\n") == 3


@pytest.mark.parametrize("data,reason", [
    (b'{"ok": 1}\n[1, 2]\n', "line 2: not a JSON object"),
    (b'{"ok": 1}\nnot json\n', "line 2: not JSON"),
    (b'"text"\n', "line 1: not a JSON object"),
    (b'{"elems": {"a": 1}, "colour": "red"}\n', "unexpected drop field 'colour'"),
    (b'{"a": NaN}\n', "line 1: not JSON"),
    (b'\xff\xfe\n', "not UTF-8"),
    (b"[" * 100000 + b"\n", "line 1: nested too deeply"),
])
def test_bad_lines_send_nothing(emu, tmp_path, data, reason):
    node = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    spool = tmp_path / "spool.data"
    spool.write_bytes(data)
    emu.server.requests.clear()
    with pytest.raises(errors.InvalidContent, match=reason):
        node.commit(str(spool), CommitProgress())
    assert [r for r in emu.server.requests.entries() if r["method"] == "POST"] == []


def test_failed_post_mid_append_resends_only_the_rest(emu, tmp_path):
    node = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    spool = tmp_path / "spool.data"
    spool.write_bytes(b"".join(json.dumps({"n": n}).encode() + b"\n" for n in range(10)))
    emu.server.faults.add(method="POST", path=r"/drop/", skip=4, status=500, times=-1)
    journal = {}
    progress = CommitProgress(saver=journal.update)
    with pytest.raises(errors.Transient):
        node.commit(str(spool), progress)
    assert journal == {"sent": 4}  # recorded drop by drop, as acknowledged
    emu.server.faults.clear()
    # A later attempt (this mount's resend loop, or the next mount after a crash) starts
    # from what the journal holds.
    fresh = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    fresh.commit(str(spool), CommitProgress(dict(journal)))
    drops = emu.state.drops[emu.state.paths["/demo/weather/lisbon"]]
    assert [d["elems"]["n"] for d in drops] == list(range(10))  # each exactly once


def test_429_on_a_drop_post_is_waited_out_and_sent_once(emu, tmp_path):
    node = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    spool = tmp_path / "spool.data"
    spool.write_bytes(b'{"n": 1}\n{"n": 2}\n')
    rule = emu.server.faults.add(method="POST", path=r"/drop/", skip=1, status=429,
                                 headers={"Retry-After": "0"}, times=2)
    node.commit(str(spool), CommitProgress())
    drops = emu.state.drops[emu.state.paths["/demo/weather/lisbon"]]
    assert [d["elems"]["n"] for d in drops] == [1, 2] and rule.applied == 2


def test_500_on_a_drop_post_is_not_repeated(emu, tmp_path):
    node = at(remote(emu).root(), "weather", "lisbon", "drops.jl")
    spool = tmp_path / "spool.data"
    spool.write_bytes(b'{"n": 1}\n')
    rule = emu.server.faults.add(method="POST", path=r"/drop/", status=500, times=5)
    with pytest.raises(errors.Transient):
        node.commit(str(spool), CommitProgress())
    assert rule.applied == 1  # the drop may have been stored: the resend decides later


def test_429_on_a_page_is_retried(emu):
    rule = emu.server.faults.add(method="GET", path=r"/drop/", status=429,
                                 headers={"Retry-After": "0"}, times=2)
    node = at(remote(emu).root(), "orders", "drops.jl")
    assert content(node) == expected_drops(emu, "/demo/orders") and rule.applied == 2


def test_envelope_errors_become_neutral_errors(emu):
    r = remote(emu)
    with pytest.raises(errors.NotFound):
        r.client.get_flow("f" + "0" * 24)
    with pytest.raises(errors.InvalidContent):
        r.client.create_flow("/demo/a b")
    emu.server.faults.add(path=r"/flow", status=200, body="<html>not json</html>", times=1)
    with pytest.raises(errors.ServiceError, match="not a flowthings envelope"):
        r.client.check()


def test_spec_builds_and_mounts_the_emulator_and_its_demo_paths_exist():
    from backends.flowthings.emulator import SPEC

    assert SPEC.type == "flowthings" and set(SPEC.datasets) == {"demo", "bench"}
    with start_in_thread(SPEC.create_server(data="demo", port=0)) as handle:
        options = SPEC.remote_options(handle.server)
        assert options.pop("type") == "flowthings"
        root = Remote("demo", options, policy=FAST).root()
        for path in SPEC.demo_paths:
            assert list(at(root, *path.split("/")).children())
