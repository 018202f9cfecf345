"""The aliyun-log backend's harness for the contract suite (demo seed data).

Demo seed: `web-shop/nginx-access`, 3 shards, a LogGroup of 25 logs per shard every 10
minutes since the day before yesterday (UTC). The known file is yesterday's 10:00 hour
across all shards (final, so immutable); its expected bytes come from the official
`aliyun-log-python-sdk` pulling the same receive-time range, never from hubfs. The
backend's only writable file is the append-only `append.jl`, which the write contract
(replace semantics, new names) does not describe: `writable` is None.
"""

import contextlib
import time

from tests.contract.harness import Harness

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
)
