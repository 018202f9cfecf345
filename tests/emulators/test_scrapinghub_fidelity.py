"""Emulator answers shaped like the recorded real ones, checked through the official client.

Each test quotes the field names of a real response (protocol note
`protocols/scrapinghub.md`, sections 3, 4 and 10.1, read from the python-scrapinghub
cassettes), never a copied body: job queue records carry only the fields the service
sends, metadata of queued jobs has no defaults the service does not add and never a
job's token, `summary` defaults to 5 records per state, `startts`/`endts` select by the
time a job entered its state, and `/activity` lists and takes events.
"""

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY, create_server
from hubfs.emulation import start_in_thread

# Recorded `jobq/P/S/summary/pending` record (cassette test_summaries_and_state_changes).
PENDING_RECORD_FIELDS = {"key", "state", "elapsed", "spider", "ts", "pending_time"}
# Recorded `jobq/P/push` answer.
PUSH_FIELDS = {"key", "auth"}
# Recorded summary line: {"count": .., "summary": [...], "name": ..}.
SUMMARY_FIELDS = {"count", "summary", "name"}
# Recorded activity event (section 3), and with meta=_ts.
ACTIVITY_FIELDS = {"event", "job", "user"}


@pytest.fixture()
def fresh():
    with start_in_thread(create_server("demo")) as handle:
        yield handle


def client_of(handle):
    return ScrapinghubClient(DEMO_APIKEY, dash_endpoint=handle.url + "api/", endpoint=handle.url)


def test_queue_records_carry_only_recorded_fields(fresh):
    client = client_of(fresh)
    jobq = client._hsclient.get_project(101).jobq
    answer = jobq.push("quotes")
    assert set(answer) == PUSH_FIELDS and answer["auth"] is None
    (pending,) = [r for r in jobq.summary("pending")["summary"] if r["key"] == answer["key"]]
    assert set(pending) == PENDING_RECORD_FIELDS  # no zero counters, no other times
    summary = client.get_project(101).jobs.summary("pending")
    assert set(summary) == SUMMARY_FIELDS
    # A job that ended with nothing recorded has no zero counters either, and only the
    # time of the state it is in.
    client.get_job(answer["key"]).update(state="finished")  # jobq update, as the client does
    (record,) = [r for r in client.get_project(101).jobs.iter(spider="quotes")
                 if r["key"] == answer["key"]]
    assert set(record) == {"key", "state", "elapsed", "spider", "ts", "finished_time",
                           "version"}
    # A seeded finished job with records shows its counters.
    (books,) = client.get_project(101).jobs.iter(spider="books", count=1)
    assert books["items"] > 0 and "pending_time" not in books


def test_queued_job_metadata_has_no_invented_fields_and_no_token(fresh):
    client = client_of(fresh)
    jobq = client._hsclient.get_project(101).jobq
    pending = dict(client.get_job(jobq.push("quotes")["key"]).metadata.list())
    assert not {"tags", "spider_type", "scheduled_by", "auth"} & set(pending)
    running_answer = jobq.push("authors", state="running")
    assert running_answer["auth"]  # the running job's credential comes with the push
    running = dict(client.get_job(running_answer["key"]).metadata.list())
    assert running["state"] == "running" and "auth" not in running
    seeded = dict(client.get_job("101/1/5").metadata.list())  # running, seeded
    assert not {"spider_type", "scheduled_by", "auth"} & set(seeded)
    # Jobs scheduled through Dash run.json report spider_type and scheduled_by
    # (recorded: GET jobs/P/S/J/spider_type -> "manual", .../scheduled_by -> user).
    dash = client.get_project(101).jobs.run("quotes", job_args={"page": "9"})
    assert dash.metadata.get("spider_type") == "manual"
    assert dash.metadata.get("scheduled_by") is not None
    assert dash.metadata.get("tags") is None  # none asked for: none invented


def test_summary_defaults_to_five_per_state(fresh):
    project = client_of(fresh).get_project(102)
    summaries = {s["name"]: s for s in project.jobs.summary()}
    assert summaries["finished"]["count"] == 1506
    assert len(summaries["finished"]["summary"]) == 5
    assert len(project.jobs.summary("finished", count=7)["summary"]) == 7
    newest = [r["key"] for r in summaries["finished"]["summary"]]
    assert newest == [r["key"] for r in project.jobs.iter(count=5)]


def test_startts_and_endts_select_by_state_time(fresh):
    project = client_of(fresh).get_project(102)
    prices = list(project.jobs.iter(spider="prices", count=1000))
    times = sorted(r["ts"] for r in prices)
    low, high = times[100], times[200]
    selected = list(project.jobs.iter(spider="prices", startts=low, endts=high))
    assert selected and all(low <= r["ts"] < high for r in selected)
    assert len(selected) == sum(1 for t in times if low <= t < high)
    assert project.jobs.count(spider="prices", startts=low, endts=high) == len(selected)


def test_activity_list_and_post(fresh):
    project = client_of(fresh).get_project(102)
    events = list(project.activity.iter(count=3))
    assert len(events) == 3 and all(set(e) == ACTIVITY_FIELDS for e in events)
    project.activity.add([{"event": "job:cancelled", "job": "102/1/1", "user": "tester"}])
    (newest,) = project.activity.iter(count=1, meta=["_ts"])
    assert set(newest) == ACTIVITY_FIELDS | {"_ts"}
    assert (newest["event"], newest["job"], newest["user"]) == ("job:cancelled", "102/1/1",
                                                                "tester")
    stamps = [e["_ts"] for e in project.activity.iter(count=50, meta=["_ts"])]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    bad = requests.post(fresh.url + "activity/102", data=b"[1]\n", auth=(DEMO_APIKEY, ""),
                        timeout=10)
    assert bad.status_code == 400
    refused = requests.get(fresh.url + "activity/102", auth=("0" * 32, ""), timeout=10)
    assert refused.status_code == 401
