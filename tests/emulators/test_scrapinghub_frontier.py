"""Frontier (HCF) and job tags of the Scrapinghub emulator, checked with the official client, unchanged.

Real HTTP on 127.0.0.1. The frontier part covers listing frontiers and slots, adding
requests through the client's batch writer (newcount, duplicate fingerprints ignored),
reading batches (at most 100 requests each, priorities first, `mincount`), deleting
batches and slots, and fingerprints; the job-tag part covers Dash `jobs/update.json` as the
client's `update_tags` calls it, seen in job metadata and jobq summaries. Where the client
would sleep (its batch uploader polls once a second), only that sleep is shortened.
"""

import json

import pytest
import requests
from scrapinghub import ScrapinghubClient
from scrapinghub.hubstorage.batchuploader import BatchUploader

from backends.scrapinghub.emulator import DEMO_APIKEY, create_server
from backends.scrapinghub.emulator import seed_stores
from backends.scrapinghub.emulator.frontier import BATCH_SIZE
from hubfs.emulation import start_in_thread


@pytest.fixture()
def fresh():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


@pytest.fixture(autouse=True)
def quick_writer_loop(monkeypatch):
    """Poll the client's writer queues every 20 ms instead of every second (sleep only)."""
    monkeypatch.setattr(BatchUploader, "worker_loop_delay", 0.02)


@pytest.fixture()
def client(fresh):
    client = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=fresh.url + "api/", endpoint=fresh.url)
    yield client
    client.close()


def raw(handle, method, path, **kw):
    return requests.request(method, handle.url + path, auth=(DEMO_APIKEY, ""), timeout=10, **kw)


# ----------------------------------------------------------------------------- frontier

def test_seeded_frontier(client):
    frontiers = client.get_project(102).frontiers
    layout = seed_stores.FRONTIER_LAYOUT[102]
    assert frontiers.list() == sorted(layout)
    frontier = frontiers.get("products")
    assert frontier.list() == sorted(layout["products"])
    for slot_name, size in layout["products"].items():
        batches = frontier.get(slot_name).q.list()
        assert sum(len(b["requests"]) for b in batches) == size
        assert all(len(b["requests"]) <= BATCH_SIZE for b in batches)
        assert len(frontier.get(slot_name).f.list()) == size
    shop = frontier.get("shop.example.org").q.list()
    assert [len(b["requests"]) for b in shop] == [100, 50]
    assert shop[0]["requests"][2] == ["https://shop.example.org/item/003", {"category": "kitchen"}]
    assert shop[0]["requests"][0] == ["https://shop.example.org/item/001", None]
    # priority 1 requests come in their own batch, after the priority 0 one
    example = frontier.get("example.com").q.list()
    assert [r[0].rsplit("/", 1)[1] for r in example[1]["requests"]] == ["9", "10", "11", "12"]
    assert client.get_project(101).frontiers.list() == []


def test_add_read_delete_batches_and_slots(client, fresh):
    frontiers = client.get_project(101).frontiers
    frontier = frontiers.get("crawl")
    slot = frontier.get("site.com")
    slot.q.add([{"fp": f"/page/{n}", **({"qdata": {"depth": n % 3}} if n % 2 else {})}
                for n in range(250)])
    slot.q.add([{"fp": "/page/0"}, {"fp": "/page/1"}])  # seen already: not new
    frontier.flush()
    assert slot.newcount == 250 and frontier.newcount == 250 and frontiers.newcount == 250
    other = frontier.get("other.com")
    other.f.add(["a", "b", "a"])
    frontiers.flush()
    assert other.newcount == 2 and frontiers.newcount == 252
    assert frontiers.list() == ["crawl"] and frontier.list() == ["other.com", "site.com"]

    batches = slot.q.list()
    assert [len(b["requests"]) for b in batches] == [100, 100, 50]
    assert batches[0]["requests"][:2] == [["/page/0", None], ["/page/1", {"depth": 1}]]
    assert [b["id"] for b in slot.q.list()] == [b["id"] for b in batches]  # ids are stable
    assert [b["id"] for b in slot.q.list(mincount=150)] == [b["id"] for b in batches[:2]]
    slot.q.delete([batches[0]["id"]])
    slot.q.delete(batches[1]["id"])
    slot.q.delete(["no-such-batch"])
    rest = slot.q.list()
    assert [b["id"] for b in rest] == [batches[2]["id"]]
    assert rest[0]["requests"][0][0] == "/page/200"
    # fingerprints stay seen after their batches are gone, sorted as the service lists them
    fps = slot.f.list()
    assert len(fps) == 250 and fps == sorted(fps)
    slot.q.add([{"fp": "/page/5"}])
    frontier.flush()
    assert slot.newcount == 250

    slot.delete()
    assert frontier.list() == ["other.com"] and slot.q.list() == [] and slot.f.list() == []
    slot.delete()  # again: still fine
    other.delete()
    assert frontiers.list() == [] and frontier.list() == []


def test_frontier_wire_details(fresh):
    path = "hcf/101/wire/s/one.example"
    added = raw(fresh, "POST", path, params={"start": 0},
                data=b'{"fp": "/"}\n{"fp": "page1.html", "p": 1, "qdata": {"depth": 1}}\n')
    assert added.json() == {"newcount": 2}
    batches = [json.loads(line) for line in raw(fresh, "GET", path + "/q").text.splitlines()]
    assert [b["requests"] for b in batches] == [[["/", None]], [["page1.html", {"depth": 1}]]]
    assert [b["id"][:2] for b in batches] == ["00", "01"]  # priority leads the hex id
    # the whole write is refused when one line is malformed
    assert raw(fresh, "POST", path, data=b'{"fp": "/new"}\n{"no_fp": 1}\n').status_code == 400
    assert raw(fresh, "POST", path, data=b'{"fp": "/new"}').json() == {"newcount": 1}
    # q/deleted takes ids one per line or as arrays
    ids = [json.loads(line)["id"] for line in raw(fresh, "GET", path + "/q").text.splitlines()]
    body = json.dumps(ids[:2]) + "\n" + json.dumps(ids[2])
    assert raw(fresh, "POST", path + "/q/deleted", data=body.encode()).status_code == 200
    assert raw(fresh, "GET", path + "/q").text == ""
    assert raw(fresh, "GET", path + "/f").text.splitlines() == ['{"fp":"/"}', '{"fp":"/new"}',
                                                                 '{"fp":"page1.html"}']
    assert raw(fresh, "GET", "hcf/101/nothing/s/none/q").text == ""
    assert raw(fresh, "GET", "hcf/101/nothing/list").json() == []
    assert raw(fresh, "DELETE", "hcf/101/nothing/s/none/").status_code == 200
    assert raw(fresh, "GET", "hcf/999/list").status_code == 403


# ----------------------------------------------------------------------------- job tags

def test_job_tags_update_through_the_dash_api(client, fresh):
    job = client.get_job("101/2/2")  # quotes job 2, seeded with ["smoke"]
    job.update_tags(add=["reviewed", "export"], remove=["smoke"])
    assert job.metadata.get("tags") == ["reviewed", "export"]
    assert client._hsclient.get_job("101/2/2").metadata["tags"] == ["reviewed", "export"]
    summary = client.get_project(101).jobs.list(spider="quotes", has_tag="reviewed")
    assert [(j["key"], j["tags"]) for j in summary] == [("101/2/2", ["reviewed", "export"])]
    job.update_tags(remove=["export"])
    assert job.metadata.get("tags") == ["reviewed"]
    # spider-wide: every job of the spider, with the count the service reports
    spider_jobs = client.get_project(101).spiders.get("authors").jobs
    assert spider_jobs.update_tags(add=["audited"]) == 3
    assert all("audited" in fresh.state.job_by_key(f"101/3/{n}").meta["tags"] for n in (1, 2, 3))
    # the raw form answer
    answer = requests.post(fresh.url + "api/jobs/update.json", auth=(DEMO_APIKEY, ""), timeout=10,
                           data={"project": "101", "job": "101/2/1", "add_tag": ["x", "y"]}).json()
    assert answer == {"count": 1, "status": "ok"}
    assert fresh.state.job_by_key("101/2/1").meta["tags"] == ["x", "y"]
