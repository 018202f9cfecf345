"""The Dataflow Kit emulator against the documented requests and responses.

Dataflow Kit has no client library for its task API (protocols/dataflowkit.md section 0),
so each test sends the requests the API reference prints (its curl examples, in every
spelling the reference uses) with plain `requests` and checks the answers it documents:
the Task and Process objects field by field, `{"deleted":"ok"}`, the plain-text 401
bodies `No API Key provided` / `Invalid API key` and `404. Not found`, and `getlink`
answering a presigned download URL. Processes are driven by the emulator's clock.
"""

import csv
import io
import json
import xml.etree.ElementTree as ElementTree

import openpyxl
import pytest
import requests

from backends.dataflowkit.emulator import DEMO_API_KEY, RUNNING_SECONDS, create_server
from hubfs.emulation import start_in_thread

TASK_FIELDS = {"id", "name", "description", "type", "payload", "webhook"}
PROCESS_FIELDS = {"id", "status", "taskID", "startedAt", "finishedAt", "requestCount",
                  "responseCount", "results", "logFile", "missingCredits", "cost"}
PAYLOAD = {"name": "test.dataflowkit.com",
           "request": {"url": "https://test.dataflowkit.com/persons/page-0", "type": "chrome",
                       "proxy": "country-any"},
           "commonParent": ".parent",
           "fields": [{"name": "Number", "selector": ".badge-primary", "attrs": ["text"], "type": 1,
                       "filters": [{"name": "trim"}]},
                      {"name": "Name", "selector": "#cards a", "attrs": ["href", "text"], "type": 2},
                      {"name": "Picture", "selector": ".card-img-top", "attrs": ["src", "alt"], "type": 0}],
           "paginator": {"nextPageSelector": ".page-link", "pageNum": 2}, "path": False,
           "format": "json"}


@pytest.fixture
def emu():
    clock = {"now": 1_750_000_000.0}
    with start_in_thread(create_server("demo", clock=lambda: clock["now"])) as handle:
        handle.clock = clock
        yield handle


def api(emu, method, path, key=DEMO_API_KEY, **kwargs):
    params = {} if key is None else {"api_key": key}
    return requests.request(method, f"{emu.url}v1{path}", params=params, timeout=10, **kwargs)


def create(emu, payload=PAYLOAD, **task):
    response = api(emu, "POST", "/task/create", data=json.dumps({"payload": payload, **task}))
    assert response.status_code == 200
    return response.json()


def test_api_key_is_checked_with_the_documented_bodies(emu):
    missing = api(emu, "POST", "/tasks", key=None)
    assert (missing.status_code, missing.text) == (401, "No API Key provided")
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"
    wrong = api(emu, "POST", "/tasks", key="nope")
    assert (wrong.status_code, wrong.text) == (401, "Invalid API key")


def test_create_returns_the_task_object(emu):
    task = create(emu, name="Task Name", description="Task description...",
                  webhook="https://your-web-site.com/webhook", type="extract")
    assert set(task) == TASK_FIELDS and len(task["id"]) == 27 and task["id"].isalnum()
    assert task["payload"] == PAYLOAD and task["type"] == "extract"
    # The 2019 form: the bare collection as the body, the name in the query.
    old = requests.post(f"{emu.url}v1/extract/create", params={"api_key": DEMO_API_KEY, "name": "old"},
                        data=json.dumps(PAYLOAD), timeout=5)
    assert old.status_code == 200 and old.json()["name"] == "old" and old.json()["payload"] == PAYLOAD


@pytest.mark.parametrize("payload", [{**PAYLOAD, "format": "pdf"}, {**PAYLOAD, "fields": []},
                                     {**PAYLOAD, "request": {}}])
def test_invalid_payloads_are_400(emu, payload):
    response = api(emu, "POST", "/task/create", data=json.dumps({"payload": payload}))
    assert response.status_code == 400 and response.text.startswith("Bad Request")


def test_run_poll_finish_and_download(emu):
    task = create(emu)
    process = api(emu, "POST", f"/task/{task['id']}/run").json()
    assert set(process) == PROCESS_FIELDS
    assert process["status"] == "running" and process["finishedAt"] is None
    assert process["taskID"] == task["id"] and process["results"] == ""
    assert process["startedAt"] == str(int(emu.clock["now"]))  # Unix time, as a string
    emu.clock["now"] += 15
    halfway = api(emu, "POST", f"/processes/{process['id']}/info").json()
    assert halfway["status"] == "running" and 0 < halfway["requestCount"] < 5
    emu.clock["now"] += 60
    done = api(emu, "POST", f"/processes/{process['id']}/info").json()
    assert done["status"] == "finished" and done["finishedAt"] == str(int(emu.clock["now"] - 45))
    assert done["requestCount"] == done["responseCount"] == 5 and done["cost"] > 0
    assert done["missingCredits"] == 0 and done["results"].endswith(".json")
    link = api(emu, "GET", "/getlink", data=done["results"])
    assert link.status_code == 200 and "X-Amz-Signature=" in link.text and "X-Amz-Expires=3600" in link.text
    rows = requests.get(link.text, timeout=5).json()
    assert len(rows) == 50 and set(rows[0]) == {"Number_text", "Name_href", "Name_text",
                                                "Picture_src", "Picture_alt"}
    assert all(isinstance(v, str) for row in rows for v in row.values())
    # The task's results: an array of its processes.
    assert [p["id"] for p in api(emu, "POST", f"/task/{task['id']}/results").json()] == [process["id"]]


@pytest.mark.parametrize("method,path", [
    ("POST", "/task/{t}/info"), ("POST", "/tasks/{t}/info"), ("GET", "/task/{t}/info"),
])
def test_task_info_spellings(emu, method, path):
    task = create(emu)
    assert api(emu, method, path.format(t=task["id"])).json() == task


@pytest.mark.parametrize("prefix", ["/processes", "/process", "/Process"])
def test_process_info_spellings_and_cancel(emu, prefix):
    task = create(emu)
    process = api(emu, "POST", f"/tasks/{task['id']}/run").json()
    assert api(emu, "POST", f"{prefix}/{process['id']}/info").json()["id"] == process["id"]
    canceled = api(emu, "POST", f"{prefix}/{process['id']}/cancel").json()
    assert canceled["status"] == "canceled" and canceled["finishedAt"] is not None
    assert canceled["results"] == ""
    emu.clock["now"] += 1000  # a canceled process stays canceled
    assert api(emu, "POST", f"/processes/{process['id']}/info").json()["status"] == "canceled"


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/task/{t}/delete"), ("DELETE", "/task/{t}delete"), ("DELETE", "/tasks/{t}delete"),
    ("POST", "/task/{t}/delete"), ("DELETE", "/tasks/{t}"),
])
def test_delete_spellings(emu, method, path):
    task = create(emu)
    process = api(emu, "POST", f"/task/{task['id']}/run").json()
    response = api(emu, method, path.format(t=task["id"]))
    assert response.status_code == 200 and response.json() == {"deleted": "ok"}
    gone = api(emu, "POST", f"/task/{task['id']}/info")
    assert (gone.status_code, gone.text) == (404, "404. Not found")
    assert api(emu, "POST", f"/processes/{process['id']}/info").status_code == 404


def test_update_and_list(emu):
    task = create(emu)
    updated = api(emu, "POST", f"/task/{task['id']}/update", data=json.dumps({"description": "new"})).json()
    assert updated["description"] == "new" and updated["payload"] == PAYLOAD
    listed = api(emu, "POST", "/tasks").json()
    assert task["id"] in [t["id"] for t in listed] and all(set(t) == TASK_FIELDS for t in listed)
    assert api(emu, "GET", "/tasks").json() == listed


def test_unknown_ids_are_404(emu):
    for path in ("/task/" + "A" * 27 + "/info", "/processes/" + "B" * 27 + "/info",
                 "/nothing/here"):
        response = api(emu, "POST", path)
        assert (response.status_code, response.text) == (404, "404. Not found")
    assert api(emu, "GET", "/getlink", data="no-such-file.csv").status_code == 404


def test_demo_processes_in_every_terminal_state(emu):
    statuses = {}
    for task in api(emu, "POST", "/tasks").json():
        for process in api(emu, "POST", f"/task/{task['id']}/results").json():
            statuses.setdefault(process["status"], []).append(process)
    assert set(statuses) == {"finished", "failed", "canceled", "running", "pending"}
    assert statuses["pending"][0]["missingCredits"] > 0
    assert statuses["failed"][0]["results"] == ""
    emu.clock["now"] += RUNNING_SECONDS + 1
    running = statuses["running"][0]
    assert api(emu, "POST", f"/processes/{running['id']}/info").json()["status"] == "finished"


def _download(emu, fmt):
    task = create(emu, {**PAYLOAD, "format": fmt})
    process = api(emu, "POST", f"/task/{task['id']}/run").json()
    emu.clock["now"] += 100
    name = api(emu, "POST", f"/processes/{process['id']}/info").json()["results"]
    return name, requests.get(api(emu, "GET", "/getlink", data=name).text, timeout=5)


def test_results_in_each_format(emu):
    columns = ["Number_text", "Name_href", "Name_text", "Picture_src", "Picture_alt"]
    name, got = _download(emu, "csv")
    assert name.endswith(".csv") and got.headers["Content-Type"] == "text/csv"
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8"), newline="")))
    assert table[0] == columns and len(table) == 51
    name, got = _download(emu, "jsonl")
    lines = got.content.decode().splitlines()
    assert name.endswith(".jsonl") and len(lines) == 50 and list(json.loads(lines[0])) == columns
    name, got = _download(emu, "excel")
    sheet = openpyxl.load_workbook(io.BytesIO(got.content)).active
    assert name.endswith(".xlsx") and [c.value for c in sheet[1]] == columns and sheet.max_row == 51
    name, got = _download(emu, "XML")
    items = ElementTree.fromstring(got.content)
    assert name.endswith(".xml") and len(items) == 50 and [c.tag for c in items[0]] == columns


def test_results_bytes_are_stable_and_ranges_work(emu):
    name, got = _download(emu, "excel")
    link = api(emu, "GET", "/getlink", data=name).text
    assert requests.get(link, timeout=5).content == got.content
    part = requests.get(link, headers={"Range": "bytes=10-19"}, timeout=5)
    assert part.status_code == 206 and part.content == got.content[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(got.content)}"
    tail = requests.get(link, headers={"Range": "bytes=-5"}, timeout=5)
    assert tail.content == got.content[-5:]
    beyond = requests.get(link, headers={"Range": f"bytes={len(got.content)}-"}, timeout=5)
    assert beyond.status_code == 416


def test_download_links_are_signed_and_expire(emu):
    name, _ = _download(emu, "csv")
    link = api(emu, "GET", "/getlink", data=name).text
    forged = requests.get(link.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=5)
    assert forged.status_code == 403 and b"SignatureDoesNotMatch" in forged.content
    unsigned = requests.get(link.split("?")[0], timeout=5)
    assert unsigned.status_code == 403
    emu.clock["now"] += 3601
    expired = requests.get(link, timeout=5)
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    assert requests.get(api(emu, "GET", "/getlink", data=name).text, timeout=5).status_code == 200


def test_getlink_also_takes_the_name_as_query_or_json(emu):
    name, got = _download(emu, "csv")
    by_query = requests.get(f"{emu.url}v1/getlink", params={"api_key": DEMO_API_KEY, "name": name}, timeout=5)
    by_json = api(emu, "POST", "/getlink", data=json.dumps({"name": name}))
    for answer in (by_query, by_json):
        assert requests.get(answer.text, timeout=5).content == got.content
