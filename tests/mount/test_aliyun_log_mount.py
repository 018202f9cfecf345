"""Real FUSE mounts of the SLS emulator, checked with the tools users run.

Expected bytes come from the official `aliyun-log-python-sdk` pulling the same
receive-time range (`tests/support_aliyun_log.py`), never from hubfs code. The demo seed
(`backends/aliyun_log/emulator/seed.py`): `web-shop/nginx-access` has 3 shards with a
group of 25 logs every 10 minutes per shard since the day before yesterday;
`web-shop/app-events` 2 shards, a group of 8 every 30 minutes; `iot-fleet/archive` 2
empty shards that the writing tests fill.
"""

import errno
import json
import os
import subprocess
import time

import pytest
from aliyun.log import LogItem, PutLogsRequest

from backends.aliyun_log.emulator import create_server
from hubfs.emulation import start_in_thread
from tests.support import Mount, requires_fuse, wait_until, write_config
from tests.support_aliyun_log import remote, sdk_client, sdk_hour, sdk_shard_hour

pytestmark = [requires_fuse, pytest.mark.mount]

DAY, HOUR = 86400, 3600


@pytest.fixture(scope="module")
def emulator():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture(scope="module")
def config(emulator, tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("cfg"), {"sls": remote(emulator.url)})


@pytest.fixture(scope="module")
def mount(config, tmp_path_factory):
    with Mount(tmp_path_factory.mktemp("m"), config) as live:
        yield live


@pytest.fixture
def sdk(emulator):
    return sdk_client(emulator.url)


def path(mount, *parts):
    return os.path.join(mount.path, "sls", *parts)


def today():
    now = int(time.time())
    return now - now % DAY


def day(start):
    return time.strftime("%Y-%m-%d", time.gmtime(start))


def read(file):
    with open(file, "rb") as fh:
        return fh.read()


def test_tree_lists_projects_logstores_days_and_hours(mount):
    assert os.listdir(path(mount)) == ["iot-fleet", "web-shop"]
    assert sorted(os.listdir(path(mount, "web-shop"))) == ["app-events", "nginx-access"]
    entries = sorted(os.listdir(path(mount, "web-shop", "nginx-access")))
    days = [day(today() - 2 * DAY), day(today() - DAY), day(today())]
    assert entries == sorted(["logstore.json", "shards", "append.jl"] + days)
    assert sorted(os.listdir(path(mount, "web-shop", "nginx-access", "shards"))) == ["0", "1", "2"]
    hours = os.listdir(path(mount, "web-shop", "nginx-access", days[1]))
    assert sorted(hours) == [f"{h:02d}.jl" for h in range(24)]
    now_hour = time.gmtime().tm_hour
    assert len(os.listdir(path(mount, "web-shop", "nginx-access", days[2]))) == now_hour + 1
    info = json.loads(read(path(mount, "web-shop", "nginx-access", "logstore.json")))
    assert info["logstore"]["ttl"] == 7 and len(info["shards"]) == 3


def test_missing_names_are_enoent(mount):
    for parts in (("no-such-project",), ("web-shop", "no-such-logstore"),
                  ("web-shop", "nginx-access", "shards", "7"),
                  ("web-shop", "nginx-access", "1999-01-01"),
                  ("web-shop", "nginx-access", day(today() - DAY), "24.jl")):
        with pytest.raises(FileNotFoundError):
            os.stat(path(mount, *parts))


@pytest.mark.parametrize("offset_hours", [3, 20, 30])
def test_cat_of_an_all_shards_hour_is_the_sdk_pull(mount, sdk, offset_hours):
    start = today() - offset_hours * HOUR
    expected = sdk_hour(sdk, "web-shop", "nginx-access", start)
    assert expected.count(b"\n") == 3 * 6 * 25
    file = path(mount, "web-shop", "nginx-access", day(start), time.strftime("%H.jl", time.gmtime(start)))
    assert os.stat(file).st_size == len(expected)
    assert read(file) == expected
    assert os.stat(file).st_mtime == start + HOUR


def test_cat_of_a_shard_hour_is_the_sdk_pull(mount, sdk):
    start = today() - 5 * HOUR
    for shard in (0, 2):
        expected = sdk_shard_hour(sdk, "web-shop", "app-events" if shard == 0 else "nginx-access",
                                  shard, start)
        store = "app-events" if shard == 0 else "nginx-access"
        file = path(mount, "web-shop", store, "shards", str(shard), day(start),
                    time.strftime("%H.jl", time.gmtime(start)))
        assert read(file) == expected and expected


def test_stat_sizes_before_reading_and_hours_reused_by_a_second_mount(emulator, config, sdk,
                                                                       tmp_path):
    start = today() - DAY + 7 * HOUR
    expected = sdk_hour(sdk, "web-shop", "app-events", start)
    with Mount(tmp_path, config) as fresh:
        file = path(fresh, "web-shop", "app-events", day(start), "07.jl")
        st = os.stat(file)
        assert (st.st_size, st.st_blocks) == (len(expected), (len(expected) + 511) // 512)
        assert read(file) == expected
    emulator.server.requests.clear()
    with Mount(tmp_path, config, name="again") as again:  # same cache directory
        file = path(again, "web-shop", "app-events", day(start), "07.jl")
        assert read(file) == expected
    pulls = [r for r in emulator.server.requests.entries() if "type=log" in r["query"]]
    assert pulls == []  # the closed hour came from the disk cache


def test_cp_tar_rsync_of_a_logstore_day(mount, tmp_path):
    source = path(mount, "web-shop", "nginx-access", day(today() - DAY))
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", source, str(copy)], check=True)
    assert subprocess.run(["diff", "-r", source, str(copy)]).returncode == 0
    for name in os.listdir(source):
        a, b = os.stat(os.path.join(source, name)), os.stat(copy / name)
        assert (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns) and a.st_size > 0

    def tar(directory):
        return subprocess.run(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                               "-C", directory, "-cf", "-", "."], check=True,
                              capture_output=True).stdout

    assert tar(source) == tar(str(copy))
    target = tmp_path / "rsync"
    subprocess.run(["rsync", "-a", source + "/", str(target)], check=True)
    assert subprocess.run(["diff", "-r", source, str(target)]).returncode == 0
    again = subprocess.run(["rsync", "-a", "--itemize-changes", source + "/", str(target)],
                           check=True, capture_output=True, text=True)
    assert again.stdout == ""  # the nightly rsync copies nothing new


def _away_from_the_hour_end():
    """Wait until the current hour has at least a minute left (logs written now must land
    in the hour the test reads)."""
    assert wait_until(lambda: time.time() % HOUR < HOUR - 60, timeout=90, interval=1)


def test_current_hour_grows(mount, sdk):
    _away_from_the_hour_end()
    now = int(time.time())
    start = now - now % HOUR
    items = [LogItem(now, [("n", str(i)), ("msg", "grow ☕")]) for i in range(10)]
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "growing", "10.2.0.1", items))
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "growing", "10.2.0.1", items))
    file = path(mount, "iot-fleet", "archive", day(start), time.strftime("%H.jl", time.gmtime(start)))
    first = sdk_hour(sdk, "iot-fleet", "archive", start)
    assert first.count(b"\n") >= 20
    assert read(file) == first
    assert os.stat(file).st_mtime == start
    more = [LogItem(now, [("n", str(i)), ("msg", "more")]) for i in range(5)]
    sdk.put_logs(PutLogsRequest("iot-fleet", "archive", "growing", "10.2.0.1", more,
                                hashKey="f" * 32))  # the last shard: the new lines come last
    expected = sdk_hour(sdk, "iot-fleet", "archive", start)
    assert len(expected) > len(first)
    assert wait_until(lambda: os.stat(file).st_size == len(expected), timeout=20)
    assert read(file) == expected


def test_append_jl_sends_each_line_as_a_log(mount, sdk):
    _away_from_the_hour_end()
    now = int(time.time())
    start = now - now % HOUR
    lines = [{"__time__": now, "__topic__": "appended", "msg": f"line {i}", "n": i,
              "nested": {"a": [1, "ü"]}} for i in range(1000)]
    lines.append({"__time__": now, "__topic__": "appended", "__tag__:env": "test", "msg": "tagged"})
    with open(path(mount, "iot-fleet", "telemetry", "append.jl"), "a", encoding="utf-8") as fh:
        for obj in lines:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    pulled = [json.loads(x) for x in sdk_hour(sdk, "iot-fleet", "telemetry", start).splitlines()]
    appended = [log for log in pulled if log["__topic__"] == "appended"]
    assert len(appended) == 1001
    assert appended[0]["msg"] == "line 0" and appended[0]["n"] == "0"
    assert appended[0]["nested"] == '{"a":[1,"ü"]}'
    assert appended[-1]["__tag__:env"] == "test"
    assert read(path(mount, "iot-fleet", "telemetry", "append.jl")) == b""


def test_append_jl_refuses_a_bad_line_and_sends_nothing(mount, emulator):
    logstore = emulator.server.state.projects["iot-fleet"].logstores["telemetry"]
    before = sum(s.count() for s in logstore.shards)
    fd = os.open(path(mount, "iot-fleet", "telemetry", "append.jl"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'{"ok": 1}\n{"ok": 2}\n[1, 2]\n{"ok": 4}\n')
    with pytest.raises(OSError) as info:
        os.close(fd)
    assert info.value.errno == errno.EINVAL
    assert sum(s.count() for s in logstore.shards) == before
    assert wait_until(lambda: "line 3" in mount.log())
