"""The aliyun-log backend's harness for the contract suite (demo seed data).

Demo seed: `web-shop/nginx-access`, 3 shards, a LogGroup of 25 logs per shard every 10
minutes since the day before yesterday (UTC). The known file is yesterday's 10:00 hour
across all shards (final, so immutable); its expected bytes come from the official
`aliyun-log-python-sdk` pulling the same receive-time range, never from hubfs. The
backend's only writable file is the append-only `append.jl`: no file is replaced by a
write (`writable` is None), and `append.jl` is the `appendable` place, read back with the
SDK pulling the last minutes of every shard and keeping the logs the contract wrote.
"""

import contextlib
import json
import time

from tests.contract.harness import Harness, Writable

_NOW = int(time.time())
YESTERDAY = _NOW - _NOW % 86400 - 86400
DAY = time.strftime("%Y-%m-%d", time.gmtime(YESTERDAY))
HOUR_START = YESTERDAY + 10 * 3600


@contextlib.contextmanager
def start():
    from backends.aliyun_log.emulator import create_server
    from hubfs.emulation import start_in_thread

    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


def remote(handle, secret=None):
    from backends.aliyun_log.emulator import SPEC

    options = SPEC.remote_options(handle.server)
    if secret is not None:
        options["access_key_secret"] = secret
    return options


def known_bytes(handle):
    from tests.support_aliyun_log import sdk_client, sdk_hour

    return sdk_hour(sdk_client(handle.url), "web-shop", "nginx-access", HOUR_START)


def contract_line(n):
    return json.dumps({"contract": str(n), "msg": f"appended line {n}"}).encode() + b"\n"


def appended(handle, name):
    """The contract's own logs in `web-shop/nginx-access`, as the SDK pulls them."""
    from tests.support_aliyun_log import sdk_client

    client = sdk_client(handle.url)
    shards = [s["shardID"] for s in client.list_shards("web-shop", "nginx-access").get_shards_info()]
    now = int(time.time())
    lines = []
    for shard in shards:
        for response in client.pull_log("web-shop", "nginx-access", shard, now - 3600, now + 60):
            for log in response.get_flatten_logs_json():
                if "contract" in log:
                    lines.append(normalise(json.dumps({"contract": log["contract"],
                                                       "msg": log["msg"]}).encode()))
    return b"".join(lines)


def normalise(data):
    return json.dumps(json.loads(data), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


HARNESS = Harness(
    type="aliyun-log",
    start=start,
    remote=remote,
    bad_remote=lambda handle: remote(handle, secret="not-the-demo-secret-0"),
    known_file=f"web-shop/nginx-access/{DAY}/10.jl",
    known_bytes=known_bytes,
    tree=f"web-shop/nginx-access/shards/1/{DAY}",
    fault_path=r"^/logstores/nginx-access/shards/\d+$",
    missing=["no-such-project", "web-shop/no-such-logstore", "web-shop/nginx-access/1999-01-01",
             f"web-shop/nginx-access/{DAY}/24.jl", "web-shop/nginx-access/shards/9",
             "web-shop/nginx-access/nothing.jl"],
    read_only_file=f"web-shop/nginx-access/{DAY}/10.jl",
    appendable=Writable(
        directory="web-shop/nginx-access",
        existing="append.jl",
        good=contract_line,
        bad=[b"not json\n", b"[1, 2]\n", b"\xff\xfe\n", b'"a string"\n'],
        read_back=appended,
        send_path=r"^/logstores/nginx-access/shards/lb$",
        normalise=normalise,
        ordered=False,  # logs land on shards by load: pulled shard by shard
    ),
)
