"""A proxy that ignores `Accept`: record pages whose Content-Type is not what was asked.

A msgpack request answered with JSON (a proxy or cache that drops `Accept`) must not be
decoded as garbage or paged forever; a JSON lines request answered with an HTML page
must not be passed through as the file. Either fails the read with EIO and one log line
naming the URL path and what came back, through a real mount and in the client.
"""

import errno
import json
import os
import subprocess

import pytest

from backends.scrapinghub import Remote
from backends.scrapinghub.emulator import DEMO_APIKEY
from hubfs.errors import ServiceError
from hubfs.http import RetryPolicy
from tests.support import Mount, requires_fuse, scrapinghub_remote, write_config

JSON_BODY = json.dumps({"time": 1767225600000, "level": 20, "message": "hello"}) + "\n"
HTML_BODY = "<html><body><h1>Welcome to our proxy</h1></body></html>\n"


def json_instead_of_msgpack(emu, path):
    emu.server.faults.add(path=path, status=200, body=JSON_BODY, times=-1,
                          headers={"Content-Type": "application/json"})


def html_instead_of_json(emu, path):
    emu.server.faults.add(path=path, status=200, body=HTML_BODY, times=-1,
                          headers={"Content-Type": "text/html; charset=utf-8"})


@pytest.fixture
def remote(sh_clean):
    options = {"apikey": DEMO_APIKEY, "app_url": sh_clean.url + "api/",
               "storage_url": sh_clean.url, "projects": None}
    remote = Remote("shtest", options, policy=RetryPolicy(attempts=2, backoff=0.01))
    yield remote
    remote.close()


def render(remote, key, name):
    project, spider, job = key.split("/")
    node = remote.root().child(project).child("spiders").child(spider).child(job).child(name)
    return b"".join(chunk for chunk, _ in node.render())


def test_json_answer_to_a_msgpack_request_is_refused(remote, sh_clean):
    json_instead_of_msgpack(sh_clean, r"^/logs/101/1/4$")
    with pytest.raises(ServiceError) as raised:
        render(remote, "101/books/4", "log.txt")
    message = str(raised.value)
    assert "GET /logs/101/1/4" in message and "application/json" in message
    assert len([e for e in sh_clean.server.requests.entries()
                if e["path"] == "/logs/101/1/4"]) == 1  # refused at once, not paged


def test_html_answer_to_a_json_lines_request_is_refused(remote, sh_clean):
    html_instead_of_json(sh_clean, r"^/items/101/1/4$")
    with pytest.raises(ServiceError) as raised:
        render(remote, "101/books/4", "items.jl")
    assert "GET /items/101/1/4" in str(raised.value) and "text/html" in str(raised.value)


@requires_fuse
@pytest.mark.mount
def test_through_a_mount_it_is_eio_with_one_log_line(tmp_path, sh_clean):
    json_instead_of_msgpack(sh_clean, r"^/logs/102/1/3$")
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(sh_clean.url, DEMO_APIKEY)})
    with Mount(tmp_path, config) as mount:
        path = f"{mount.path}/zyte/102/spiders/products/3/log.txt"
        result = subprocess.run(["cat", path], capture_output=True, timeout=120)
        assert result.returncode != 0 and result.stdout == b""
        assert os.strerror(errno.EIO).encode() in result.stderr
        lines = [line for line in mount.log().splitlines()
                 if "WARNING" in line and "/logs/102/1/3" in line]
        assert len(lines) == 1 and "application/json" in lines[0]
        assert "/zyte/102/spiders/products/3/log.txt" in lines[0]
