"""fsspec and a mount sharing one cache directory: what fsspec failed to send is sent by
the mount (its journal is the mount's), and what either rendered the other reads."""

import errno
import os

import fsspec
import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY
from tests.support import mounted, requires_fuse, scrapinghub_remote, wait_until, write_config

pytestmark = requires_fuse


def test_a_value_fsspec_could_not_send_is_sent_by_the_next_mount(sh_clean, tmp_path):
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(sh_clean.url, DEMO_APIKEY)},
                          general={"cache_dir": str(tmp_path / "cache"), "retries": 2,
                                   "retry_backoff": 0.01})
    fs = fsspec.filesystem("hubfs", config=config, skip_instance_cache=True)
    sh_clean.server.faults.add(method="POST", path=r"^/collections/101/s/prices$", status=503,
                               times=-1)
    with pytest.raises(OSError) as raised:
        with fs.open("zyte/101/collections/prices/via-fsspec", "wb") as fh:
            fh.write(b'{"from": "fsspec"}')
    assert raised.value.errno == errno.EIO
    sh_clean.server.faults.clear()
    official = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=sh_clean.url + "api/",
                                 endpoint=sh_clean.url)
    store = official.get_project(101).collections.get_store("prices")

    def stored():
        try:
            return store.get("via-fsspec") == {"from": "fsspec"}
        except Exception:
            return False

    with mounted(tmp_path, config, "--cache-dir", str(tmp_path / "cache")) as mount:
        assert wait_until(stored, timeout=30)  # sent by the mount's first resend pass
        # And the other way round: what the mount renders, fsspec reads without a request.
        with open(os.path.join(mount.path, "zyte", "101", "spiders", "quotes", "1", "items.jl"),
                  "rb") as fh:
            mounted_bytes = fh.read()
    requests.delete(sh_clean.url + "__emulator__/requests", timeout=5)
    assert fs.cat("zyte/101/spiders/quotes/1/items.jl") == mounted_bytes
    log = requests.get(sh_clean.url + "__emulator__/requests", timeout=5).json()
    assert [e for e in log if e["path"].startswith("/items/")] == []
    official.close()
