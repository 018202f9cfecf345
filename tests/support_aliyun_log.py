"""Helpers the aliyun-log tests share: the emulator fixtures, the official SDK pointed at
an emulator, the expected bytes of an hour file as the SDK pulls them, remote configs.

Expected hour files are made from the official `aliyun-log-python-sdk`'s own pull of the
same receive-time range (`pull_log`) and its own flattening (`get_flatten_logs_json`),
encoded as the mount's documented line format: compact JSON, UTF-8, keys in the SDK's
order; the SDK's one known flattening bug (`__time_ns_part__` as a 1-tuple) is undone.
"""

import json

import pytest

from backends.aliyun_log.emulator import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, create_server
from hubfs.emulation import start_in_thread


@pytest.fixture(scope="module")
def emulator():
    """An SLS emulator with the demo data, shared by one test module (import this
    fixture into the module)."""
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture
def emu(emulator):
    """`emulator` with no fault rules and an empty request log."""
    emulator.server.faults.clear()
    emulator.server.requests.clear()
    yield emulator
    emulator.server.faults.clear()


def sdk_client(url, key_id=DEMO_ACCESS_KEY_ID, secret=DEMO_ACCESS_KEY_SECRET):
    """A stock `LogClient` for the emulator at *url*. The SDK names the project in Host
    and, for a raw IPv4 endpoint, connects to the endpoint itself; with a port in the
    endpoint its raw-IP check fails, so the flag it would have set is set by hand."""
    from aliyun.log import LogClient

    client = LogClient(url.rstrip("/").split("//", 1)[1], key_id, secret, source="10.0.0.9")
    client._isRowIp = True
    return client


def line(log):
    log = dict(log)
    ns = log.get("__time_ns_part__")
    if isinstance(ns, tuple):  # the SDK's trailing-comma bug
        log["__time_ns_part__"] = ns[0]
    return json.dumps(log, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def sdk_shard_hour(client, project, logstore, shard, start, stop=None):
    """The bytes of `shards/<shard>/<day>/<HH>.jl` for the hour starting at *start*."""
    stop = start + 3600 if stop is None else stop
    out = []
    for response in client.pull_log(project, logstore, shard, start, stop):
        out.extend(line(log) for log in response.get_flatten_logs_json())
    return b"".join(out)


def sdk_hour(client, project, logstore, start, stop=None):
    """The bytes of `<day>/<HH>.jl`: every shard's hour, in shard order."""
    shards = sorted(s["shardID"] for s in client.list_shards(project, logstore).get_shards_info())
    return b"".join(sdk_shard_hour(client, project, logstore, s, start, stop) for s in shards)


def remote(server_url, **extra):
    return {"type": "aliyun-log", "endpoint": server_url.rstrip("/"),
            "access_key_id": DEMO_ACCESS_KEY_ID, "access_key_secret": DEMO_ACCESS_KEY_SECRET,
            **extra}
