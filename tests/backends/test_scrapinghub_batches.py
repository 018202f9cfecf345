"""Several small finished jobs read in one request during a walk (job_batches.py).

Spider 102/3 "prices" of the demo seed has 1,500 finished jobs of 10 to 30 items. A walk
(renders of two jobs of one spider in a row) makes the next render read a page of the
spider's records across jobs; the neighbours' files then come from it without a request,
byte-identical to what the official client exports for each job alone.
"""

from urllib.parse import unquote

import pytest
from hypothesis import given, settings, strategies as st

from backends.scrapinghub import job_batches
from backends.scrapinghub.client import Unsplittable, _split_by_job


from tests.backends.test_scrapinghub_backend import jl, official, remote  # noqa: F401 (fixtures)
from tests.support import wait_until


def render(node):
    return b"".join(chunk for chunk, _ in node.render())


def jobs_of(remote, spider="prices", project="102"):
    return {job.name: job for job in
            remote.root().child(project).child("spiders").child(spider).children()}


def data_requests(emu, kind="items"):
    return [e for e in emu.server.requests.entries() if e["path"].startswith(f"/{kind}/")]


def settled(remote):
    """Wait for the batches read ahead of the walk (in threads of their own) to land."""
    assert wait_until(lambda: not remote.site.batches._inflight)


def starts(emu, kind="items", spider="102/3"):
    """The `start` keys of the batch reads of *kind* across *spider*'s jobs the emulator
    served."""
    return sorted(unquote(e["query"].split("start=")[1].split("&")[0])
                  for e in data_requests(emu, kind) if e["path"] == f"/{kind}/{spider}")


def test_a_walk_reads_neighbours_in_one_request(remote, emu, official):
    jobs = jobs_of(remote)
    emu.server.requests.clear()
    for number in (1500, 1499):  # a walk, newest first as listed
        render(jobs[str(number)].child("items.jl"))
    settled(remote)
    # The first job alone, the second with a batch of its block (jobs 1475-1499), and
    # the next block the walk goes to (1450-1474) read ahead.
    assert len(data_requests(emu)) == 3
    assert data_requests(emu)[0]["path"] == "/items/102/3/1500"
    assert starts(emu) == ["102/3/1450/0", "102/3/1475/0"]
    assert {e["path"] for e in data_requests(emu)[1:]} == {"/items/102/3"}
    numbers = range(1498, 1449, -1)
    expected = {n: jl(official.get_job(f"102/3/{n}").items.iter()) for n in numbers}
    emu.server.requests.clear()
    for number in numbers:
        assert render(jobs[str(number)].child("items.jl")) == expected[number]
    settled(remote)
    # Every neighbour came from the two batches; reaching the block read ahead started
    # the read of the one after it.
    assert starts(emu) == ["102/3/1425/0"] and len(data_requests(emu)) == 1
    # log.txt and logs.jl share the logs batch; requests.jl has its own.
    numbers = (1460, 1459, 1458)
    logs = {n: list(official.get_job(f"102/3/{n}").logs.iter()) for n in numbers}
    pages = {n: jl(official.get_job(f"102/3/{n}").requests.iter()) for n in numbers}
    emu.server.requests.clear()
    for number in numbers:
        job = jobs[str(number)]
        assert render(job.child("logs.jl")) == jl(logs[number])
        assert render(job.child("log.txt")).count(b"\n") == len(logs[number])
        assert render(job.child("requests.jl")) == pages[number]
    settled(remote)
    # The first job alone (logs.jl and log.txt each), then one batch for both files of
    # the next jobs, and the block after it read ahead.
    assert len(data_requests(emu, "logs")) == 4 and len(data_requests(emu, "requests")) == 3
    assert starts(emu, "logs") == starts(emu, "requests") == ["102/3/1425/0", "102/3/1450/0"]


def test_a_failed_read_ahead_only_means_reading_alone(remote, emu, official):
    """The batch read ahead of a walk has nobody waiting for it: when it fails, the
    walk goes on and its jobs are read one by one, byte-identical."""
    jobs = jobs_of(remote)
    for number in (1200, 1199):  # block 47 in a batch; block 46 read ahead
        render(jobs[str(number)].child("items.jl"))
    settled(remote)
    batches = remote.site.batches
    assert ("items", 102, 3, 1180) in batches._kept  # the read ahead landed
    emu.server.requests.clear()
    # A refusal, which the HTTP layer does not retry (a 5xx would be retried, and the
    # walk's renders of that block would wait for it up to the read timeout).
    emu.server.faults.add(path="^/items/102/3$", query="start=102%2F3%2F1125%2F0",
                          status=400, times=-1)
    for number in range(1174, 1148, -1):  # reaching block 46 starts block 45's read
        assert render(jobs[str(number)].child("items.jl")) == jl(
            official.get_job(f"102/3/{number}").items.iter())
    settled(remote)
    emu.server.faults.clear()
    assert starts(emu) == ["102/3/1125/0"]  # the failed read ahead
    assert ("items", 102, 3, 1148) not in batches._kept
    expected = jl(official.get_job("102/3/1148").items.iter())
    emu.server.requests.clear()
    assert render(jobs["1148"].child("items.jl")) == expected
    assert [e["path"] for e in data_requests(emu)] == ["/items/102/3/1148"]  # read alone


def test_samples_and_single_reads_are_not_batched(remote, emu, official):
    jobs = jobs_of(remote)
    expected = {n: jl(official.get_job(f"102/3/{n}").samples.iter()) for n in (700, 699, 698)}
    emu.server.requests.clear()
    for number in (700, 699, 698):
        assert render(jobs[str(number)].child("samples.jl")) == expected[number]
    assert [e["path"] for e in data_requests(emu, "samples")] == [
        "/samples/102/3/700", "/samples/102/3/699", "/samples/102/3/698"]
    emu.server.requests.clear()
    render(jobs["10"].child("items.jl"))  # one file alone: just its own page
    assert [e["path"] for e in data_requests(emu)] == ["/items/102/3/10"]
    # Nor jobs in a row when they are big: a page of 1,000 records would not reach past.
    books = jobs_of(remote, "books", "101")
    emu.server.requests.clear()
    for number in ("3", "2"):  # 2,000 and 1,000 items
        render(books[number].child("items.jl"))
    assert not [e for e in data_requests(emu) if e["path"] == "/items/101/1"]


def test_jobs_not_listed_as_finished_are_never_taken_from_a_batch(remote, emu, monkeypatch):
    """Job 102/1/5 was running when listed: a batch that saw its records must not keep
    them (a snapshot of a running job would be a short file once it finishes)."""
    monkeypatch.setattr(job_batches, "BLOCK", 4)
    monkeypatch.setattr(job_batches, "SMALL", 10_000)  # job 3's 1,200 items count as small
    jobs = jobs_of(remote, "products")
    assert jobs["5"].state == "running"
    emu.server.requests.clear()
    for number in ("3", "4"):  # a walk: job 4's batch holds jobs 4 and 5, to the end
        render(jobs[number].child("items.jl"))
    settled(remote)  # the next block (jobs 8-11) is read ahead too: wait for it
    assert starts(emu, spider="102/1") == ["102/1/4/0", "102/1/8/0"]
    kept = remote.site.batches._kept
    assert ("items", 102, 1, 4) in kept and ("items", 102, 1, 5) not in kept


def test_no_batch_before_a_job_of_the_stream_was_seen_small(remote, emu):
    """Renders of one spider's jobs that start together (four `cat`s at once) read alone
    until one of them has shown the stream's jobs to be small: a page across jobs would
    not reach past a big one."""
    jobs_of(remote)  # the listing: these jobs are finished
    batches = remote.site.batches
    emu.server.requests.clear()
    assert batches.records("items", 102, 3, 1400) is None
    assert batches.records("items", 102, 3, 1399) is None  # a walk's pattern, sizes unknown
    assert data_requests(emu) == []
    batches.rendered("items", 102, 3, 20)  # a job read alone had 20 items
    assert batches.records("items", 102, 3, 1398) is not None
    settled(remote)
    assert starts(emu) == ["102/3/1350/0", "102/3/1375/0"]  # its block, and the next read ahead


# -- cutting a keyed page into jobs ----------------------------------------------------

def split_line_by_line(body, prefix):
    """The splitter's meaning, one line at a time (what `_split_by_job` did before it
    used whole-page regular expressions): the reference the fast one is held to."""
    jobs = {}
    for line in body.split(b"\n")[:-1]:
        at = line.rfind(b'"_key":"')
        if at < 1 or not line.endswith(b'"}') or line[at - 1:at] not in (b",", b"{"):
            raise Unsplittable("unkeyed")
        record = line[:at - 1] + b"}\n" if line[at - 1:at] == b"," else b"{}\n"
        key = line[at + 8:-2]
        if not key.startswith(prefix):
            raise Unsplittable("other spider")
        parts_of_key = key[len(prefix):].split(b"/")
        if len(parts_of_key) != 2 or not all(part.isdigit() for part in parts_of_key):
            raise Unsplittable("bad key")
        job, index = parts_of_key
        parts = jobs.setdefault(int(job), [])
        if index != str(len(parts)).encode():
            raise Unsplittable("order")
        parts.append(record)
    return {job: (b"".join(parts), len(parts)) for job, parts in jobs.items()}


FIELDS = st.lists(st.sampled_from([b'"a":1', b'"b":"x,\\"_key\\":\\"1/2/3/4\\"}"', b'"c":{"d":[]}',
                                   b'"e":"\xc3\xa9"', b'"_key":"102/3/7/0"', b'"f":{"_key":"x"}']),
                  max_size=3)


@st.composite
def keyed_pages(draw):
    """Pages as the service serves them (records of consecutive jobs, keys last), then
    sometimes spoiled: a key dropped or moved, another spider's key, records swapped."""
    lines = []
    for job in draw(st.lists(st.integers(0, 60), max_size=5, unique=True)):
        for index in range(draw(st.integers(1, 4))):
            fields = draw(FIELDS) + [b'"_key":"102/3/%d/%d"' % (job, index)]
            lines.append(b"{" + b",".join(fields) + b"}")
    spoil = draw(st.sampled_from(["none", "none", "drop", "move", "spider", "swap", "nest"]))
    if lines and spoil != "none":
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        if spoil == "drop":
            lines[at] = line[:line.rfind(b'"_key"')].rstrip(b",") + b"}"
        elif spoil == "move":
            lines[at] = b'{"_key":"102/3/1/0",' + line[1:]
        elif spoil == "spider":
            lines[at] = line.replace(b'"102/3/', b'"102/4/')
        elif spoil == "swap" and at:
            lines[at - 1], lines[at] = lines[at], lines[at - 1]
        elif spoil == "nest":
            lines[at] = b'{"g":' + line + b"}"
    return b"".join(line + b"\n" for line in lines)


@settings(max_examples=700, deadline=None)
@given(keyed_pages())
def test_a_keyed_page_is_cut_as_line_by_line(body):
    try:
        expected = split_line_by_line(body, b"102/3/")
    except Unsplittable:
        with pytest.raises(Unsplittable):
            _split_by_job(body, b"102/3/")
    else:
        assert _split_by_job(body, b"102/3/") == expected
